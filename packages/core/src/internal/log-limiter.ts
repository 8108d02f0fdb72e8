/**
 * Keeps a refusal that a peer can trigger at will (a message flow control drops, a worker failing
 * on hostile input) from writing one log line per message: a line per key at most once per
 * interval, the next one saying how many were held back. Keys are few (a reason and a local
 * address), and their number is capped all the same.
 */
const MAX_KEYS = 1024;

export class LogLimiter {
  readonly #intervalMs: number;
  readonly #keys = new Map<string, { until: number; suppressed: number }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Undefined when the line for `key` must be held back now; otherwise the number of lines held
   * back since the last one (log it with the line).
   */
  admit(key: string, now = Date.now()): number | undefined {
    const entry = this.#keys.get(key);
    if (entry !== undefined && now < entry.until) {
      entry.suppressed++;
      return undefined;
    }
    const suppressed = entry?.suppressed ?? 0;
    if (entry === undefined && this.#keys.size >= MAX_KEYS) {
      for (const [k, e] of this.#keys) if (now >= e.until) this.#keys.delete(k);
      // Still full: forget the oldest key (Maps iterate in insertion order).
      if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(key, { until: now + this.#intervalMs, suppressed: 0 });
    return suppressed;
  }
}
