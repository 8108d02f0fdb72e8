/**
 * The logging contract every package uses. Fields are structured; the caller never puts secrets,
 * keys or payload bytes in them (the node's log sink also redacts known secret field names).
 *
 * @example
 * ```ts
 * import { consoleLogger } from '@ockam/core';
 * const log = consoleLogger('debug');
 * log.warn('tcp connection closed', { peer: '127.0.0.1:4000', reason: 'bad version byte' });
 * ```
 */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'off';
export type LogFields = Record<string, unknown>;

export interface Logger {
  trace(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines carry `fields` too. */
  child(fields: LogFields): Logger;
}

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'off'];

export function levelEnabled(threshold: LogLevel, level: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(threshold) && threshold !== 'off';
}

const noop = (): void => {};
export const noopLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => noopLogger,
};

/** A logger that writes one line per record through `write` (stderr by default). */
export function createLogger(
  threshold: LogLevel,
  write: (level: LogLevel, message: string, fields: LogFields) => void,
  base: LogFields = {},
): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (levelEnabled(threshold, level)) write(level, message, fields ? { ...base, ...fields } : base);
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createLogger(threshold, write, { ...base, ...fields }),
  };
}

/** One record kept by `recordingLogger`. */
export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/**
 * A logger that keeps every record at `threshold` or above in `lines`, in order (and hands each
 * to `also`, if given): what tests read to check that a node logged why it dropped something.
 *
 * @example
 * ```ts
 * import { recordingLogger } from '@ockam/core';
 * const { logger, lines } = recordingLogger('debug');
 * logger.warn('tcp connection closed', { peer: '127.0.0.1:4000' });
 * lines[0]; // { level: 'warn', message: 'tcp connection closed', fields: { peer: '127.0.0.1:4000' } }
 * ```
 */
export function recordingLogger(
  threshold: LogLevel = 'trace',
  also?: (line: LogLine) => void,
): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger(threshold, (level, message, fields) => {
    const line = { level, message, fields };
    lines.push(line);
    also?.(line);
  });
  return { logger, lines };
}

/**
 * Field names whose values may be secrets (keys, passphrases, one-time codes, tokens, credentials,
 * payloads): every sink replaces them before writing, at every level.
 */
const SECRET_FIELDS = /secret|private|password|passphrase|token|otc|seed|key_bytes|payload|credential/i;

/**
 * What a log sink writes of `fields`: values of secret-looking names become `[redacted]` and byte
 * arrays their length, so a careless field never puts a secret or a payload in a log.
 *
 * @example
 * ```ts
 * import { redact } from '@ockam/core';
 * redact({ passphrase: 'x', frame: new Uint8Array(3), peer: 'p' });
 * // { passphrase: '[redacted]', frame: '[3 bytes]', peer: 'p' }
 * ```
 */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(k)) out[k] = '[redacted]';
    else if (v instanceof Uint8Array) out[k] = `[${v.length} bytes]`;
    else out[k] = v;
  }
  return out;
}

/**
 * A logger that writes one line per record to stderr (`console.error`, so it works in browsers
 * too), secret-looking fields redacted (`redact`).
 */
export function consoleLogger(threshold: LogLevel = 'warn'): Logger {
  return createLogger(threshold, (level, message, fields) => {
    const safe = redact(fields);
    const extra = Object.keys(safe).length ? ` ${JSON.stringify(safe)}` : '';
    console.error(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}`);
  });
}

/**
 * The logger of a `Node` created without one: warnings and errors to stderr, redacted
 * (`consoleLogger('warn')`), so that what a node drops or refuses is never silent by default.
 * Silence it with `new Node({ logger: noopLogger })`; see more with `consoleLogger('debug')`.
 *
 * @example
 * ```ts
 * import { Node, noopLogger } from '@ockam/core';
 * const loud = new Node();                        // warnings reach stderr
 * const quiet = new Node({ logger: noopLogger }); // nothing is logged
 * ```
 */
export function defaultLogger(): Logger {
  return consoleLogger('warn');
}
