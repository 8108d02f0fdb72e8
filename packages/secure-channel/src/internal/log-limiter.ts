/**
 * Log lines that a remote peer can cause (a failed handshake, a dropped frame, a refused msg1)
 * go through a `LogLimiter`: the first line of a reason is written at once, later ones in the same
 * interval are only counted, and at the end of each interval that saw repeats one line carries the
 * count (`repeated`). A peer that sends a million forged frames costs the log two lines per
 * interval and reason, not a million.
 */
import type { LogFields, Logger } from '@ockam/core';

/**
 * Log lines a peer can cause (a failed handshake, a dropped msg1 or frame) are written once per
 * reason and this interval (10 s), then summarised with a count.
 */
export const DEFAULT_LOG_INTERVAL_MS = 10_000;

/** Distinct reasons tracked at once; further reasons share one entry, so the table stays bounded. */
const MAX_REASONS = 64;
const OTHER = '(other reasons)';

type Level = 'debug' | 'info' | 'warn';

interface Entry {
  readonly level: Level;
  readonly message: string;
  repeated: number;
  last: LogFields;
}

export class LogLimiter {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #entries = new Map<string, Entry>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(logger: Logger, intervalMs: number) {
    if (!Number.isFinite(intervalMs) || intervalMs <= 0)
      throw new RangeError(`log interval must be a positive number of milliseconds, not ${intervalMs}`);
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Writes `message` now if `reason` was quiet for an interval; otherwise counts it. */
  log(level: Level, reason: string, message: string, fields: LogFields): void {
    let key = reason;
    if (!this.#entries.has(key) && this.#entries.size >= MAX_REASONS) key = OTHER;
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.repeated++;
      entry.last = fields;
      return;
    }
    this.#entries.set(key, { level, message, repeated: 0, last: fields });
    this.#logger[level](message, fields);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      // A summary is not worth keeping a process alive for.
      this.#timer.unref?.();
    }
  }

  /** Writes the counts still pending and stops the timer (a later `log` starts it again). */
  flush(): void {
    this.#tick();
    this.#entries.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    for (const [key, entry] of this.#entries) {
      if (entry.repeated === 0) {
        // Quiet for a whole interval: the next one is written at once again.
        this.#entries.delete(key);
        continue;
      }
      this.#logger[entry.level](entry.message, {
        ...entry.last,
        repeated: entry.repeated,
        intervalMs: this.#intervalMs,
      });
      entry.repeated = 0;
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

const byLogger = new WeakMap<Logger, LogLimiter>();

/** One limiter per logger (per node), for channel ends that no listener gave one. */
export function sharedLogLimiter(logger: Logger): LogLimiter {
  let limiter = byLogger.get(logger);
  if (limiter === undefined)
    byLogger.set(logger, (limiter = new LogLimiter(logger, DEFAULT_LOG_INTERVAL_MS)));
  return limiter;
}
