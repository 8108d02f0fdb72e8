/**
 * Log lines a remote peer can cause at will (a refused connection, a connection closed for breaking
 * the protocol or a limit, a dropped frame, a failed handshake), written at most once per interval
 * for each kind, so that a flood of hostile input costs one line, not one per event (DESIGN.md
 * decision 10). This is the one implementation every package uses for such lines.
 *
 * The first line of a kind is written at once; lines of the same kind within the next interval are
 * counted instead. By default the next line written after the interval carries that count as
 * `suppressed`. With `summaries: true`, a timer writes the count at the end of each interval that
 * saw repeats, in a line of its own (the last fields seen, `suppressed` and `intervalMs`), so a
 * flood that never pauses is still reported. The number of kinds remembered is bounded too, so a
 * peer cannot flood the log by varying its input: further kinds share one catch-all kind.
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
/** Kinds remembered at once (by default); lines of further kinds share one catch-all kind until some expire. */
export const MAX_LOG_KINDS = 64;

/** Levels a peer-caused line may be written at. */
export type LogLimiterLevel = 'debug' | 'info' | 'warn';

/** Options of a `LogLimiter`. */
export interface LogLimiterOptions {
  /** How long lines of one kind stay quiet after one was written (default `DEFAULT_LOG_INTERVAL_MS`). */
  readonly intervalMs?: number;
  /** Kinds remembered at once (default `MAX_LOG_KINDS`). */
  readonly maxKinds?: number;
  /**
   * Write the count of held-back lines at the end of each interval that saw any, in a line of its
   * own, rather than with the next line of the kind (default false). Uses an unref'd timer while
   * counts are pending; `flush()` writes them and stops it.
   */
  readonly summaries?: boolean;
}

const OVERFLOW = '\0overflow';

interface Kind {
  until: number;
  suppressed: number;
  level: LogLimiterLevel;
  message: string;
  last: LogFields;
}

export class LogLimiter {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #maxKinds: number;
  readonly #summaries: boolean;
  readonly #kinds = new Map<string, Kind>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(logger: Logger, options: number | LogLimiterOptions = {}) {
    const o: LogLimiterOptions = typeof options === 'number' ? { intervalMs: options } : options;
    const intervalMs = o.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    const maxKinds = o.maxKinds ?? MAX_LOG_KINDS;
    this.#summaries = o.summaries ?? false;
    if (!(intervalMs >= 0) || (this.#summaries && !(intervalMs > 0 && Number.isFinite(intervalMs))))
      throw new RangeError(`intervalMs must be ≥ 0 (> 0 with summaries), got ${intervalMs}`);
    if (!Number.isSafeInteger(maxKinds) || maxKinds < 1)
      throw new RangeError(`maxKinds must be a positive integer, got ${maxKinds}`);
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#maxKinds = maxKinds;
  }

  /** Writes a warning of kind `key`, unless one of that kind was written within the interval. */
  warn(key: string, message: string, fields?: LogFields): void {
    this.log('warn', key, message, fields);
  }

  /** As `warn`, at info level. */
  info(key: string, message: string, fields?: LogFields): void {
    this.log('info', key, message, fields);
  }

  /** As `warn`, at the level given. */
  log(level: LogLimiterLevel, key: string, message: string, fields: LogFields = {}): void {
    const now = Date.now();
    let kind = this.#kinds.get(key);
    if (kind === undefined) {
      if (this.#kinds.size >= this.#maxKinds) this.#forgetExpired(now);
      const k = this.#kinds.size >= this.#maxKinds ? OVERFLOW : key;
      kind = this.#kinds.get(k);
      if (kind === undefined) {
        kind = { until: 0, suppressed: 0, level, message, last: fields };
        this.#kinds.set(k, kind);
      }
    }
    if (now < kind.until) {
      kind.suppressed++;
      kind.last = fields;
      return;
    }
    const suppressed = kind.suppressed;
    kind.suppressed = 0;
    kind.level = level;
    kind.message = message;
    kind.last = fields;
    if (this.#summaries) {
      // Counted until a tick finds the kind quiet for a whole interval and forgets it.
      kind.until = Number.POSITIVE_INFINITY;
      this.#startTimer();
    } else kind.until = now + this.#intervalMs;
    this.#logger[level](message, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  /** Writes the counts still pending (with `summaries`), forgets every kind and stops the timer. */
  flush(): void {
    if (this.#summaries) this.#tick();
    this.#kinds.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    // A summary is not worth keeping a process alive for.
    this.#timer.unref?.();
  }

  #tick(): void {
    for (const [key, kind] of this.#kinds) {
      if (kind.suppressed === 0) {
        // Quiet for a whole interval: the next line of the kind is written at once again.
        this.#kinds.delete(key);
        continue;
      }
      this.#logger[kind.level](kind.message, {
        ...kind.last,
        suppressed: kind.suppressed,
        intervalMs: this.#intervalMs,
      });
      kind.suppressed = 0;
    }
    if (this.#kinds.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #forgetExpired(now: number): void {
    // A forgotten kind's suppressed count is lost; the transports count what they refuse anyway.
    for (const [key, kind] of this.#kinds) if (now >= kind.until) this.#kinds.delete(key);
  }
}
