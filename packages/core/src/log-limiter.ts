/**
 * Log lines a remote peer can cause at will (a refused connection, a connection closed for breaking
 * the protocol or a limit), written at most once per interval for each kind, so that a flood of
 * hostile connections costs one line, not one per connection (DESIGN.md decision 10).
 *
 * The first line of a kind is written at once; lines of the same kind within the next interval are
 * counted instead, and the next line written after it carries that count as `suppressed`. The
 * number of kinds remembered is bounded too, so a peer cannot flood the log by varying its input.
 *
 * @example
 * ```ts
 * import { consoleLogger, LogLimiter } from '@ockam/core';
 * const log = new LogLimiter(consoleLogger('info'));
 * for (let i = 0; i < 1000; i++)
 *   log.warn('too-many', 'tcp connection refused', { reason: 'listener has 1024 connections' });
 * // one line; the next one after a minute says { suppressed: 999 }
 * ```
 */
import type { LogFields, Logger } from './logger.js';

/** How long lines of one kind stay quiet after one was written: 60 s. */
export const DEFAULT_LOG_INTERVAL_MS = 60_000;
/** Kinds remembered at once; lines of further kinds share one catch-all kind until some expire. */
export const MAX_LOG_KINDS = 64;

const OVERFLOW = '\0overflow';

interface Kind {
  until: number;
  suppressed: number;
}

export class LogLimiter {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #kinds = new Map<string, Kind>();

  constructor(logger: Logger, intervalMs: number = DEFAULT_LOG_INTERVAL_MS) {
    if (!(intervalMs >= 0)) throw new RangeError(`intervalMs must be ≥ 0, got ${intervalMs}`);
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Writes a warning of kind `key`, unless one of that kind was written within the interval. */
  warn(key: string, message: string, fields?: LogFields): void {
    this.#log('warn', key, message, fields);
  }

  /** As `warn`, at info level. */
  info(key: string, message: string, fields?: LogFields): void {
    this.#log('info', key, message, fields);
  }

  #log(level: 'warn' | 'info', key: string, message: string, fields: LogFields = {}): void {
    const now = Date.now();
    let kind = this.#kinds.get(key);
    if (kind === undefined) {
      if (this.#kinds.size >= MAX_LOG_KINDS) this.#forgetExpired(now);
      if (this.#kinds.size >= MAX_LOG_KINDS) {
        kind = this.#kinds.get(OVERFLOW);
        if (kind === undefined) {
          kind = { until: 0, suppressed: 0 };
          this.#kinds.set(OVERFLOW, kind);
        }
      } else {
        kind = { until: 0, suppressed: 0 };
        this.#kinds.set(key, kind);
      }
    }
    if (now < kind.until) {
      kind.suppressed++;
      return;
    }
    const suppressed = kind.suppressed;
    kind.until = now + this.#intervalMs;
    kind.suppressed = 0;
    this.#logger[level](message, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  #forgetExpired(now: number): void {
    // A forgotten kind's suppressed count is lost; the transports count what they refuse anyway.
    for (const [key, kind] of this.#kinds) if (now >= kind.until) this.#kinds.delete(key);
  }
}
