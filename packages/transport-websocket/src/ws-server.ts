/**
 * The Node.js side of the transport on the `ws` package: a `WebSocketServerFactory` for `listen`
 * and a `WebSocket` constructor for outgoing connections. Both turn permessage-deflate off (Ockam
 * messages are mostly ciphertext) and cap messages at the transport's frame size, so that `ws`
 * refuses an oversized message (close code 1009) before buffering it.
 *
 * A server bound to a port owns its HTTP server, so that the limits apply to raw TCP connections
 * before any upgrade: `maxConnections` counts every connection, upgraded or not (Node's own
 * `server.maxConnections` closes one more at once), and a connection whose upgrade is not done
 * within `handshakeTimeoutMs` is destroyed. Sockets also report what `ws` holds of a message not
 * yet complete (`watchUnfinished`), which the transport charges to its budget.
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
import { createServer, type Server as HttpServer, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CancelledError, whenListening } from '@ockam/core';
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

/** The parts of `ws` 8's receiver (pinned) that say how much of a message it holds. */
interface WsReceiverState {
  /** Bytes read and not yet parsed: the current frame's header or payload. */
  _bufferedBytes: number;
  _buffers: readonly unknown[];
  /** Payload bytes of the earlier fragments of a fragmented message. */
  _messageLength: number;
  _fragments: readonly unknown[];
}

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

  /**
   * Calls `listener` after each read from the network, once `ws` has parsed it, with the bytes and
   * the reads `ws` holds of what is not yet a whole message.
   */
  watchUnfinished(listener: (bytes: number, reads: number) => void): () => void {
    const self = this as unknown as { _socket?: Socket; _receiver?: WsReceiverState };
    const raw = self._socket;
    if (raw === undefined) return () => {};
    // Registered after ws's own 'data' listener: by the time it runs, ws has parsed the read.
    const onData = (): void => {
      const r = self._receiver;
      if (r === undefined) return;
      listener(r._bufferedBytes + r._messageLength, r._buffers.length + r._fragments.length);
    };
    raw.on('data', onData);
    return () => raw.off('data', onData);
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
  const http = attached ?? limitedHttpServer(options);
  const wss = new WebSocketServer({
    server: http,
    ...(options.path === undefined
      ? {}
      : { path: options.path.startsWith('/') ? options.path : `/${options.path}` }),
    maxPayload: options.maxPayload,
    ...(options.verifyUpgrade === undefined ? {} : { verifyClient: verifier(options.verifyUpgrade) }),
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: CorkingWebSocket,
  });
  // ws re-emits its HTTP server's errors on itself, from a listener it adds before ours: without a
  // listener here an `EADDRINUSE` would throw out of that emit (an uncaught exception) before
  // `whenListening` saw it. The HTTP server's own 'error' is what settles `listen`; after that,
  // errors (an accept failing) concern one socket, and ws reports them per socket.
  wss.on('error', () => {});
  const where = attached === undefined ? `${options.host}:${options.port}` : 'the given HTTP server';
  if (attached === undefined) {
    await whenListening(http, () => http.listen(options.port, options.host), {
      signal,
      release: () => {
        wss.close();
        http.close();
      },
      failed: (e) =>
        new WebSocketTransportError('io', `Cannot listen on ${where}: ${e.message}`, { cause: e }),
      cancelled: () =>
        new CancelledError('WebSocket listen cancelled', 'transport', { cause: signal?.reason }),
    });
  } else if (!attached.listening) {
    wss.close();
    throw new WebSocketTransportError('invalid', 'Cannot attach to an HTTP server that is not listening');
  }
  const bound = http.address() as AddressInfo;
  wss.on('connection', (socket: WsWebSocket, request: IncomingMessage) => {
    upgraded(request.socket);
    onConnection(socket as unknown as WebSocketLike, peerOf(request));
  });
  const handle: WebSocketServerHandle = {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        // Stop accepting; accepted sockets stay open (the transport closes them if asked to). The
        // listening handle goes at once: `http.close`'s callback would wait for every accepted
        // socket, and so would a transport that closes its listeners before its connections.
        wss.close(() => {
          if (attached === undefined) http.close();
          resolve();
        });
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
/** Sockets still in their opening handshake, with the timer that destroys them. */
const handshaking = new WeakMap<Socket, ReturnType<typeof setTimeout>>();

function upgraded(socket: Socket): void {
  clearTimeout(handshaking.get(socket));
  handshaking.delete(socket);
}

/**
 * The HTTP server of a bound listener, as `ws` would make it (426 to plain HTTP requests), with the
 * limits on raw connections: at most `maxConnections` (Node closes one more at once and emits
 * 'drop'), and an upgrade within `handshakeTimeoutMs` of the accept.
 */
function limitedHttpServer(options: Parameters<WebSocketServerFactory>[0]): HttpServer {
  const http = createServer((_request, response) => {
    const body = STATUS_CODES[426]!;
    response.writeHead(426, { 'Content-Length': body.length, 'Content-Type': 'text/plain' });
    response.end(body);
  });
  const peerOf = (host: string | undefined, port: number | undefined) => ({
    host: host ?? 'unknown',
    port: port ?? 0,
  });
  if (options.maxConnections !== undefined) {
    http.maxConnections = options.maxConnections;
    http.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) =>
      options.onLimit?.(peerOf(data?.remoteAddress, data?.remotePort), 'max-connections'),
    );
  }
  const timeoutMs = options.handshakeTimeoutMs ?? 0;
  if (timeoutMs > 0) {
    http.on('connection', (socket: Socket) => {
      const timer = setTimeout(() => {
        handshaking.delete(socket);
        socket.destroy();
        options.onLimit?.(peerOf(socket.remoteAddress, socket.remotePort), 'handshake-timeout');
      }, timeoutMs);
      timer.unref();
      handshaking.set(socket, timer);
      socket.once('close', () => upgraded(socket));
    });
  }
  return http;
}
