/**
 * Outgoing connections of a transport, one per peer, for `Transport.resolve`: an open connection
 * is reused, and concurrent resolves of the same peer share one connection attempt. A caller's
 * `signal` cancels only its own wait, never the attempt others are waiting for.
 *
 * @example
 * ```ts
 * const dials = new SharedDials<Connection>();
 * const c = await dials.dial('127.0.0.1:4000', () => open('127.0.0.1:4000'), { signal });
 * connection.closed.then(() => dials.forget('127.0.0.1:4000', c));
 * ```
 */
import { CancelledError, type ErrorOrigin } from './errors.js';

export class SharedDials<C extends { readonly isOpen: boolean }> {
  readonly #open = new Map<string, C>();
  readonly #pending = new Map<string, Promise<C>>();

  /** The open connection to `key`, if any. */
  get(key: string): C | undefined {
    const c = this.#open.get(key);
    return c?.isOpen ? c : undefined;
  }

  /** Remembers `connection` for `key` unless an open one is already remembered. */
  remember(key: string, connection: C): void {
    if (!this.#open.get(key)?.isOpen) this.#open.set(key, connection);
  }

  /** Forgets `connection` (when it closes), if it is the one remembered for `key`. */
  forget(key: string, connection: C): void {
    if (this.#open.get(key) === connection) this.#open.delete(key);
  }

  /** The open connection to `key`, or the one `open()` makes, shared by every concurrent caller. */
  async dial(
    key: string,
    open: () => Promise<C>,
    options: { signal?: AbortSignal; origin?: ErrorOrigin; what?: string } = {},
  ): Promise<C> {
    const existing = this.get(key);
    if (existing) return existing;
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = open().then(
        (c) => {
          this.#pending.delete(key);
          this.remember(key, c);
          return c;
        },
        (e: unknown) => {
          this.#pending.delete(key);
          throw e;
        },
      );
      this.#pending.set(key, pending);
    }
    return raceSignal(
      pending,
      options.signal,
      options.what ?? `Connecting to ${key} cancelled`,
      options.origin,
    );
  }

  clear(): void {
    this.#open.clear();
    this.#pending.clear();
  }
}

/** Waits for `promise` unless `signal` aborts first (the promise keeps running for others). */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  what: string,
  origin: ErrorOrigin = 'transport',
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(new CancelledError(what, origin, { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new CancelledError(what, origin, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
