/**
 * Node logs.
 *
 * - Files: `nodes/<name>/node.log`, one record per line, JSON by default or pretty
 *   (`OCKAM_LOG_FORMAT=pretty`); rotated by size (`OCKAM_LOG_MAX_SIZE_MB`, default 100) keeping
 *   `OCKAM_LOG_MAX_FILES` old files (default 5): node.log.1 is the newest.
 * - Level, first match wins: the `--log-level` flag, then `-v` (once: debug, twice: trace), then
 *   `OCKAM_LOG_LEVEL`, then `info`.
 * - Field names that can carry secrets are redacted, and byte arrays are never printed, before
 *   anything is written, at every level.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createLogger, type LogFields, type Logger, type LogLevel, redact } from '@ockam/core';

export { redact };

export type LogFormat = 'json' | 'pretty';

export interface LogSink {
  readonly logger: Logger;
  close(): Promise<void>;
}

export interface FileLogOptions {
  level: LogLevel;
  format?: LogFormat;
  maxSizeBytes?: number;
  maxFiles?: number;
  base?: LogFields;
}

function line(format: LogFormat, level: LogLevel, message: string, fields: LogFields): string {
  const ts = new Date().toISOString();
  if (format === 'json') return `${JSON.stringify({ ts, level, message, ...fields })}\n`;
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${ts} ${level.toUpperCase().padEnd(5)} ${message}${extra ? ` ${extra}` : ''}\n`;
}

/** Rotates `path` → `path.1` → … → `path.<maxFiles>` (the oldest is dropped). */
export function rotate(path: string, maxFiles: number): void {
  rmSync(`${path}.${maxFiles}`, { force: true });
  for (let i = maxFiles - 1; i >= 1; i--)
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
  if (maxFiles >= 1 && existsSync(path)) renameSync(path, `${path}.1`);
  else rmSync(path, { force: true });
}

/** Synchronous appends: a line is on disk (in the page cache) before the call returns, even if the process is killed next. */
export function fileLogSink(path: string, options: FileLogOptions): LogSink {
  const format = options.format ?? 'json';
  const maxSize = options.maxSizeBytes ?? 100 * 1024 * 1024;
  const maxFiles = options.maxFiles ?? 5;
  let fd = openSync(path, 'a', 0o600);
  let size = statSync(path).size;
  const logger = createLogger(
    options.level,
    (lvl, message, fields) => {
      const text = line(format, lvl, message, redact(fields));
      if (size > 0 && size + text.length > maxSize) {
        closeSync(fd);
        rotate(path, maxFiles);
        fd = openSync(path, 'a', 0o600);
        size = 0;
      }
      try {
        size += writeSync(fd, text);
      } catch {
        // A full disk must not take the node down; the record is lost, the node keeps serving.
      }
    },
    options.base ?? {},
  );
  return {
    logger,
    close: async () => {
      try {
        closeSync(fd);
      } catch {}
    },
  };
}

export function stderrLogSink(level: LogLevel, base: LogFields = {}, format: LogFormat = 'pretty'): LogSink {
  const logger = createLogger(
    level,
    (lvl, message, fields) => process.stderr.write(line(format, lvl, message, redact(fields))),
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

/**
 * The documented precedence: flag, then -v count, then OCKAM_LOG_LEVEL, then info. The count is
 * Ockam's (`LogLevelWithCratesFilter::from_verbose`): -v and -vv info, -vvv debug, -vvvv trace.
 */
export function resolveLogLevel(flag: string | undefined, verbosity: number, env = process.env): LogLevel {
  if (flag) return parseLogLevel(flag, 'info');
  if (verbosity >= 4) return 'trace';
  if (verbosity === 3) return 'debug';
  if (verbosity >= 1) return 'info';
  return parseLogLevel(env.OCKAM_LOG_LEVEL, 'info');
}

export function logFormatFromEnv(env = process.env): LogFormat {
  const f = (env.OCKAM_LOG_FORMAT ?? 'json').toLowerCase();
  if (f !== 'json' && f !== 'pretty')
    throw new Error(`Invalid OCKAM_LOG_FORMAT '${env.OCKAM_LOG_FORMAT}': use json or pretty`);
  return f;
}

export function logRotationFromEnv(env = process.env): { maxSizeBytes: number; maxFiles: number } {
  const size = Number(env.OCKAM_LOG_MAX_SIZE_MB ?? '100');
  const files = Number(env.OCKAM_LOG_MAX_FILES ?? '5');
  if (!(size > 0))
    throw new Error(`Invalid OCKAM_LOG_MAX_SIZE_MB '${env.OCKAM_LOG_MAX_SIZE_MB}': a positive number of MiB`);
  if (!Number.isInteger(files) || files < 0)
    throw new Error(`Invalid OCKAM_LOG_MAX_FILES '${env.OCKAM_LOG_MAX_FILES}': a whole number ≥ 0`);
  return { maxSizeBytes: Math.round(size * 1024 * 1024), maxFiles: files };
}
