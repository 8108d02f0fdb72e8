/**
 * Typed event listeners for a component (a transport's `connection` and `close` events): `on`
 * returns the function that unsubscribes, and a listener that throws is logged and does not stop
 * the others or the component.
 *
 * @example
 * ```ts
 * const events = new Listeners<{ close: (reason: string) => void }>(logger, 'tcp');
 * const off = events.on('close', (reason) => console.log(reason));
 * events.emit('close', 'peer closed');
 * off();
 * ```
 */
import type { Logger } from './logger.js';

// biome-ignore lint/suspicious/noExplicitAny: listener signatures vary per event
type Listener = (...args: any[]) => void;

export class Listeners<Events extends { [E in keyof Events]: Listener }> {
  readonly #sets = new Map<keyof Events, Set<Events[keyof Events]>>();
  readonly #logger: Logger;
  readonly #what: string;

  constructor(logger: Logger, what: string) {
    this.#logger = logger;
    this.#what = what;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.#sets.get(event);
    if (set === undefined) this.#sets.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.#sets.get(event);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        listener(...args);
      } catch (e) {
        this.#logger.warn(`${this.#what} '${String(event)}' listener threw`, {
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  }
}
