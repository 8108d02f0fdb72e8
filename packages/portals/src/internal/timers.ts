/** Small timer helpers whose timers never outlive the promise that uses them. */

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves with the promise's value, or with `undefined` once `ms` have passed first. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Exponential back-off with full jitter (a uniform delay between a small floor and
 * `min(maxMs, initialMs · 2^(attempt−1))`), so that many clients retrying at once spread out
 * and a failing peer never sees a busy loop.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const floor = Math.min(10, ceiling);
  return floor + random() * (ceiling - floor);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
