/**
 * Starts a server listening and waits until it is (Node's `net.Server` and `http.Server` fit):
 * an 'error' or an aborted `signal` first releases the server and rejects with the transport's
 * own error, so that a failed `listen` leaves no handle behind.
 *
 * @example
 * ```ts
 * const server = createServer();
 * await whenListening(server, () => server.listen({ host, port }), {
 *   signal,
 *   release: () => server.close(),
 *   failed: (e) => new TransportError('io', `Cannot listen on ${host}:${port}: ${e.message}`, { cause: e }),
 *   cancelled: () => new CancelledError('TCP listen cancelled', 'transport', { cause: signal?.reason }),
 * });
 * ```
 */

/** What `whenListening` needs of a server. */
export interface ListeningServer {
  once(event: 'listening' | 'error', listener: (error: Error) => void): unknown;
  off(event: 'listening' | 'error', listener: (error: Error) => void): unknown;
}

export interface WhenListeningOptions {
  readonly signal?: AbortSignal | undefined;
  /** Releases the server after a failure or an abort. */
  readonly release: () => void;
  /** The error to reject with when the server reports `error`. */
  readonly failed: (error: Error) => Error;
  /** The error to reject with when `signal` aborts. */
  readonly cancelled: () => Error;
}

export function whenListening(
  server: ListeningServer,
  listen: () => void,
  options: WhenListeningOptions,
): Promise<void> {
  const { signal } = options;
  return new Promise<void>((resolve, reject) => {
    const settle = (error: Error | undefined): void => {
      server.off('listening', onListening);
      server.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) {
        resolve();
        return;
      }
      options.release();
      reject(error);
    };
    const onListening = (): void => settle(undefined);
    const onError = (e: Error): void => settle(options.failed(e));
    const onAbort = (): void => settle(options.cancelled());
    server.once('listening', onListening);
    server.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    listen();
  });
}
