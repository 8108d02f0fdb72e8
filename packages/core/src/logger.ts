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

export function consoleLogger(threshold: LogLevel = 'warn'): Logger {
  return createLogger(threshold, (level, message, fields) => {
    const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    console.error(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}`);
  });
}
