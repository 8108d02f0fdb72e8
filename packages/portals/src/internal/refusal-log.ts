/**
 * Logs refusals once per reason and interval, never once per attempt: a hostile peer that repeats
 * a refused request must not be able to write the node's log for it. The first refusal of a
 * reason is logged at once; later ones within `intervalMs` are only counted, and the count goes
 * into the next line for that reason. Reasons come from a fixed set, so the map stays small.
 */
import type { Logger } from '@ockam/core';

export class RefusalLog<Reason extends string> {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<Reason, { at: number; suppressed: number }>();

  constructor(logger: Logger, intervalMs: number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  warn(reason: Reason, message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.#last.get(reason);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    this.#last.set(reason, { at: now, suppressed: 0 });
    this.#logger.warn(message, {
      reason,
      ...fields,
      ...(last !== undefined && last.suppressed > 0 ? { alsoRefusedSinceLastLine: last.suppressed } : {}),
    });
  }
}
