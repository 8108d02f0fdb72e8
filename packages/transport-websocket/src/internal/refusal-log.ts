/**
 * One log line per interval for refusals a peer can provoke at will: the first refusal is logged at
 * once, later ones within `intervalMs` are only counted, and the next line says how many were not
 * logged. A flood of refused requests costs a counter, not a line each.
 */
import type { LogFields, Logger } from '@ockam/core';

export class RefusalLog {
  readonly #logger: Logger;
  readonly #message: string;
  readonly #intervalMs: number;
  #last = Number.NEGATIVE_INFINITY;
  #unlogged = 0;

  constructor(logger: Logger, message: string, intervalMs: number) {
    this.#logger = logger;
    this.#message = message;
    this.#intervalMs = intervalMs;
  }

  note(fields: LogFields): void {
    const now = Date.now();
    if (now - this.#last < this.#intervalMs) {
      this.#unlogged++;
      return;
    }
    this.#last = now;
    const unlogged = this.#unlogged;
    this.#unlogged = 0;
    this.#logger.warn(this.#message, unlogged > 0 ? { ...fields, notLoggedSince: unlogged } : fields);
  }
}
