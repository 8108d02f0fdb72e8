/**
 * The Node.js side of the transport on the `ws` package: a `WebSocketServerFactory` for `listen`
 * and a `WebSocket` constructor for outgoing connections. Both turn permessage-deflate off (Ockam
 * messages are mostly ciphertext) and cap messages at the transport's frame size, so that `ws`
 * refuses an oversized message (close code 1009) before buffering it.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { WebSocketTransport } from '@ockam/transport-websocket/browser';
 * import { NodeWebSocket, wsServerFactory } from '@ockam/transport-websocket';
 * // what the Node.js entry's WebSocketTransport does for you:
 * const ws = new WebSocketTransport(new Node(), { WebSocket: NodeWebSocket, serverFactory: wsServerFactory });
 * ```
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CancelledError } from '@ockam/core';
import { WebSocketServer, WebSocket as WsWebSocket } from 'ws';
import { WebSocketTransportError } from './errors.js';
import { MAX_FRAME_SIZE } from './framing.js';
import type { WebSocketPeer } from './websocket-connection.js';
import type { WebSocketConstructor, WebSocketLike } from './websocket-like.js';
import type {
  WebSocketServerFactory,
  WebSocketServerHandle,
  WebSocketUpgradeRequest,
} from './websocket-listener.js';

/**
 * `ws`'s socket class, sending binary messages so that those sent in one tick leave in one write:
 * the TCP socket under it is corked until the next tick, as the TCP transport batches its frames.
 */
class CorkingWebSocket extends WsWebSocket {
  override send(data: Uint8Array): void {
    const raw = (this as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (raw !== undefined && !corked.has(raw)) {
      corked.add(raw);
      raw.cork();
      process.nextTick(() => {
        corked.delete(raw);
        raw.uncork();
      });
    }
    super.send(data, { binary: true });
  }

  whenDrained(callback: () => void): void {
    const raw = (this as unknown as { _socket?: NodeJS.WritableStream & { writableNeedDrain?: boolean } })
      ._socket;
    if (raw === undefined || raw.writableNeedDrain !== true) queueMicrotask(callback);
    else raw.once('drain', callback);
  }
}

const corked = new WeakSet<object>();

/** `ws`'s client, with the options the transport needs, as a WHATWG-style constructor. */
export const NodeWebSocket: WebSocketConstructor = class NodeWebSocket extends CorkingWebSocket {
  constructor(url: string) {
    super(url, { maxPayload: MAX_FRAME_SIZE, perMessageDeflate: false });
  }
} as unknown as WebSocketConstructor;

/** Starts a `ws` server on `host:port` or on an existing `http.Server`. */
export const wsServerFactory: WebSocketServerFactory = async (options, onConnection) => {
  const { signal } = options;
  const attached = options.server as HttpServer | undefined;
  const wss = new WebSocketServer({
    ...(attached === undefined ? { host: options.host, port: options.port } : { server: attached }),
    ...(options.path === undefined
      ? {}
      : { path: options.path.startsWith('/') ? options.path : `/${options.path}` }),
    maxPayload: options.maxPayload,
    ...(options.verifyUpgrade === undefined ? {} : { verifyClient: verifier(options.verifyUpgrade) }),
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: CorkingWebSocket,
  });
  const where = attached === undefined ? `${options.host}:${options.port}` : 'the given HTTP server';
  if (attached === undefined) {
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        wss.off('listening', onListening);
        wss.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      const onListening = (): void => {
        cleanup();
        resolve();
      };
      const onError = (e: Error): void => {
        cleanup();
        wss.close();
        reject(new WebSocketTransportError('io', `Cannot listen on ${where}: ${e.message}`, { cause: e }));
      };
      const onAbort = (): void => {
        cleanup();
        wss.close();
        reject(new CancelledError('WebSocket listen cancelled', 'transport', { cause: signal?.reason }));
      };
      wss.once('listening', onListening);
      wss.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  } else if (!attached.listening) {
    wss.close();
    throw new WebSocketTransportError('invalid', 'Cannot attach to an HTTP server that is not listening');
  }
  const bound = (attached === undefined ? wss.address() : attached.address()) as AddressInfo;
  wss.on('error', () => {
    // Errors after listening (an accept failing) concern one socket; ws reports them per socket.
  });
  wss.on('connection', (socket: WsWebSocket, request: IncomingMessage) => {
    const peer = { host: request.socket.remoteAddress ?? 'unknown', port: request.socket.remotePort ?? 0 };
    onConnection(socket as unknown as WebSocketLike, peer);
  });
  const handle: WebSocketServerHandle = {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        // ws 8 stops accepting and releases its own HTTP server; accepted sockets stay open.
        wss.close(() => resolve());
      }),
  };
  return handle;
};

const peerOf = (request: IncomingMessage): WebSocketPeer => ({
  host: request.socket.remoteAddress ?? 'unknown',
  port: request.socket.remotePort ?? 0,
});

/**
 * `verifyUpgrade` as ws's `verifyClient`, in its callback form so that a refusal is a 403 (ws then
 * writes the response and closes the socket; nothing the client sent after its request is read).
 * ws reads `Origin` (`Sec-WebSocket-Origin` for protocol version 8) for us.
 */
const verifier =
  (verify: (request: WebSocketUpgradeRequest) => boolean) =>
  (
    info: { origin: string | undefined; req: IncomingMessage },
    done: (ok: boolean, code?: number) => void,
  ): void => {
    const ok = verify({ origin: info.origin, host: info.req.headers.host, peer: peerOf(info.req) });
    if (ok) done(true);
    else done(false, 403);
  };
