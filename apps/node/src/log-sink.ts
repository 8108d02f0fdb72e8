/**
 * Node log files: one JSON object per line in `nodes/<name>/node.log`, or pretty lines on a TTY.
 * Field names that can carry secrets are redacted before anything is written.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { createLogger, type LogFields, type Logger, type LogLevel } from '@ockam/core';

const SECRET_FIELDS = /secret|private|password|passphrase|token|otc|seed|key_bytes|payload/i;

export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELDS.test(k) ? '[redacted]' : v;
  return out;
}

export interface LogSink {
  readonly logger: Logger;
  close(): Promise<void>;
}

export function fileLogSink(path: string, level: LogLevel, base: LogFields = {}): LogSink {
  const stream: WriteStream = createWriteStream(path, { flags: 'a', mode: 0o600 });
  stream.on('error', () => {});
  const logger = createLogger(
    level,
    (lvl, message, fields) => {
      stream.write(
        `${JSON.stringify({ ts: new Date().toISOString(), level: lvl, message, ...redact(fields) })}\n`,
      );
    },
    base,
  );
  return { logger, close: () => new Promise((resolve) => stream.end(resolve)) };
}

export function stderrLogSink(level: LogLevel, base: LogFields = {}): LogSink {
  const logger = createLogger(
    level,
    (lvl, message, fields) => {
      const f = redact(fields);
      const extra = Object.keys(f).length ? ` ${JSON.stringify(f)}` : '';
      process.stderr.write(`${new Date().toISOString()} ${lvl.toUpperCase().padEnd(5)} ${message}${extra}\n`);
    },
    base,
  );
  return { logger, close: async () => {} };
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel): LogLevel {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (['trace', 'debug', 'info', 'warn', 'error', 'off'].includes(v)) return v as LogLevel;
  throw new Error(`Invalid log level '${value}': use trace, debug, info, warn, error or off`);
}
