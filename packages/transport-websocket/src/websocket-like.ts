/**
 * The part of the WHATWG `WebSocket` interface the transport uses, so that the browser's own
 * `WebSocket` and Node's `ws` package both fit (and tests can inject a double). Declared here
 * rather than taken from the DOM library so that the package type-checks without `lib: ["dom"]`.
 *
 * @example
 * ```ts
 * import { WebSocketTransport } from '@ockam/transport-websocket/browser';
 * const transport = new WebSocketTransport(node, { WebSocket: globalThis.WebSocket });
 * ```
 */

/** An event as the transport reads it: `message` events carry `data`, `close` events `code` and `reason`. */
export interface WebSocketLikeEvent {
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly error?: unknown;
}

export interface WebSocketLike {
  /** `'arraybuffer'` in browsers (set by the transport); `'nodebuffer'` with `ws`. */
  binaryType: string;
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Bytes queued by `send` and not yet handed to the network. */
  readonly bufferedAmount: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: WebSocketLikeEvent) => void,
  ): void;
  removeEventListener(
    type: 'open' | 'message' | 'close' | 'error',
    listener: (event: WebSocketLikeEvent) => void,
  ): void;
  /** Optional (`ws` has them): stop and restart reading from the network, for back-pressure. */
  pause?(): void;
  resume?(): void;
  /** Optional (`ws` has it): destroy the connection without a closing handshake. */
  terminate?(): void;
  /**
   * Optional (the Node.js entry's sockets have it): calls back once what is buffered has been
   * handed to the kernel, so that a held-back sender need not poll `bufferedAmount`.
   */
  whenDrained?(callback: () => void): void;
  /**
   * Optional (the Node.js entry's sockets have it): calls `listener` after each read from the
   * network with the bytes, and the reads, the socket holds of a message not yet complete, so
   * that the transport can charge them to its budget and time a frame that never ends. Returns a
   * function that stops the calls.
   */
  watchUnfinished?(listener: (bytes: number, reads: number) => void): () => void;
}

/** A `WebSocket` constructor: the browser's global one, or an adapter around `ws`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` values of the WHATWG interface. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;
