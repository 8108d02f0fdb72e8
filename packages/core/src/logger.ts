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

export function consoleLogger(threshold: LogLevel = 'warn'): Logger {
  return createLogger(threshold, (level, message, fields) => {
    const extra = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
    console.error(`${new Date().toISOString()} ${level.toUpperCase()} ${message}${extra}`);
  });
}
