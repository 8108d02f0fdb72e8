/**
 * The WebSocket transport of a node (PROTOCOL.md §2.4): outgoing connections, listeners (where a
 * WebSocket server exists), and resolution of `3#host:port` (or `3#ws://…`) route hops into the
 * local address of a connection's sender. Messages are legacy BARE transport messages, one per
 * binary WebSocket message.
 *
 * This class runs anywhere a WHATWG `WebSocket` exists. In browsers it is client-only (give it the
 * browser's `WebSocket`, the default when one is global); the Node.js entry of this package
 * exports a subclass of the same name that connects with `ws` and can listen.
 *
 * @example
 * ```ts
 * // in a browser bundle
 * import { Node } from '@ockam/core';
 * import { WebSocketTransport } from '@ockam/transport-websocket/browser';
 * const node = new Node({ name: 'browser' });
 * const ws = new WebSocketTransport(node, { WebSocket: globalThis.WebSocket });
 * node.registerTransport(ws);
 * const reply = await node.client().request(['3#127.0.0.1:4000', 'echo'], new Uint8Array([1]));
 * ```
 */
import {
  type Address,
  type AdoptedInit,
  type AdoptSource,
  CancelledError,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RECEIVE_BUFFER_BYTES,
  type ErrorKind,
  errorMessage,
  formatHostPort,
  type InboundLimitsOptions,
  type Logger,
  LogLimiter,
  type Node,
  parseHostPort,
  type StreamConnectOptions,
  StreamTransport,
  type StreamTransportEvents,
  WS,
} from '@ockam/core';
import { WebSocketTransportError } from './errors.js';
import { MAX_FRAME_SIZE } from './framing.js';
import { CloseCode, Connection, closeSocket } from './internal/connection.js';
import { Listener } from './internal/listener.js';
import { OriginPolicy } from './internal/origin-policy.js';
import { toWebSocketUrl, type WebSocketAddressLike } from './websocket-address.js';
import type { WebSocketCloseInfo, WebSocketConnection, WebSocketPeer } from './websocket-connection.js';
import {
  OPEN,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketLikeEvent,
} from './websocket-like.js';
import type {
  WebSocketListener,
  WebSocketServerFactory,
  WebSocketUpgradeRequest,
} from './websocket-listener.js';

/** `bufferedAmount` above which the sender worker waits for the socket to drain. */
export const DEFAULT_SEND_BUFFER_BYTES = 1024 * 1024;
/**
 * Refused upgrade requests (a foreign `Origin`) are logged at most once per this interval, with the
 * count of those not logged since: a page can send them in a loop.
 */
export const REFUSED_UPGRADE_LOG_INTERVAL_MS = 60_000;

export interface WebSocketTransportOptions {
  /** Where connection events and refused peers are logged (default: the node's logger). */
  logger?: Logger;
  /** The WebSocket constructor for outgoing connections (default: `globalThis.WebSocket`; `ws` on Node). */
  WebSocket?: WebSocketConstructor;
  /** Starts servers for `listen` (the Node.js entry provides one on `ws`; browsers have none). */
  serverFactory?: WebSocketServerFactory;
  /** How long `connect` waits for the opening handshake (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Largest WebSocket message sent or accepted (default and maximum 16 MiB). */
  maxFrameSize?: number;
  /** Inbound bytes to queue while routing waits before pausing the socket (default 256 KiB). */
  receiveBufferBytes?: number;
  /** `bufferedAmount` above which sending waits for the socket to drain (default 1 MiB). */
  sendBufferBytes?: number;
  /** Close a connection that sees no traffic for this long (default: never). */
  idleTimeoutMs?: number;
  /** At most one log line per this many ms about refused upgrade requests (default 60 000). */
  refusedUpgradeLogIntervalMs?: number;
  /**
   * What peers may hold (core's `InboundLimits`): connections per listener (1024, counted before
   * the upgrade), bytes held for them across all connections beyond 64 KiB each (64 MiB), and
   * the time they get for the upgrade (10 s), for each started frame (60 s) and, once accepted,
   * for a first message (120 s).
   */
  limits?: InboundLimitsOptions;
}

/** `exposeTo` (multi-hop routes: a listener's id, so that its clients reach this peer), `timeoutMs`, `signal`. */
export type WebSocketConnectOptions = StreamConnectOptions;

export interface WebSocketListenOptions {
  /** Accept upgrade requests for this path only (default: any path). */
  path?: string;
  /** Attach to this existing HTTP server (Node's `http.Server`) instead of binding `address`. */
  server?: unknown;
  /**
   * Web pages (origins, `https://app.example.com`) allowed to connect besides the listener's own.
   * Browsers send `Origin` with every WebSocket handshake; a request that has one is upgraded only
   * if it is listed here or is same-origin (`Origin` names the host and port of `Host`, and that
   * host is an IP literal or `localhost`, which DNS rebinding cannot fake); others get HTTP 403.
   * Requests without `Origin` come from programs, not pages, and are accepted.
   */
  allowedOrigins?: readonly string[];
  signal?: AbortSignal;
}

/** `connection`: a connection was opened or accepted; `close`: a connection closed (`info.reason` says why). */
export type WebSocketTransportEvents = StreamTransportEvents<WebSocketConnection, WebSocketCloseInfo>;

export class WebSocketTransport extends StreamTransport<
  WebSocketConnection,
  WebSocketListener,
  WebSocketCloseInfo,
  Connection,
  Listener
> {
  readonly type = WS;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #serverFactory: WebSocketServerFactory | undefined;
  readonly #connectTimeoutMs: number;
  readonly #maxFrameSize: number;
  readonly #receiveBufferBytes: number;
  readonly #sendBufferBytes: number;
  readonly #idleTimeoutMs: number | undefined;
  readonly #refusedUpgrades: LogLimiter;
  readonly #dialing = new Set<WebSocketLike>();

  constructor(node: Node, options: WebSocketTransportOptions = {}) {
    super(node, {
      transport: 'websocket',
      addressPrefix: 'ws',
      label: 'WebSocket',
      logger: options.logger,
      limits: options.limits,
    });
    this.#WebSocket =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ?? undefined;
    this.#serverFactory = options.serverFactory;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#maxFrameSize = options.maxFrameSize ?? MAX_FRAME_SIZE;
    this.#receiveBufferBytes = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
    this.#sendBufferBytes = options.sendBufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
    const refusalInterval = options.refusedUpgradeLogIntervalMs ?? REFUSED_UPGRADE_LOG_INTERVAL_MS;
    if (!(refusalInterval >= 0))
      throw new RangeError(`refusedUpgradeLogIntervalMs must be >= 0, got ${refusalInterval}`);
    this.#refusedUpgrades = new LogLimiter(this.logger, refusalInterval);
    this.#idleTimeoutMs = options.idleTimeoutMs;
    if (!(this.#connectTimeoutMs > 0))
      throw new RangeError(`connectTimeoutMs must be > 0, got ${this.#connectTimeoutMs}`);
    if (
      !Number.isInteger(this.#maxFrameSize) ||
      this.#maxFrameSize < 1 ||
      this.#maxFrameSize > MAX_FRAME_SIZE
    )
      throw new RangeError(
        `maxFrameSize must be an integer in 1..${MAX_FRAME_SIZE}, got ${this.#maxFrameSize}`,
      );
    if (!(this.#receiveBufferBytes > 0))
      throw new RangeError(`receiveBufferBytes must be > 0, got ${this.#receiveBufferBytes}`);
    if (!(this.#sendBufferBytes > 0))
      throw new RangeError(`sendBufferBytes must be > 0, got ${this.#sendBufferBytes}`);
  }

  /** Whether `listen` is available (a server factory was given, as the Node.js entry does). */
  get canListen(): boolean {
    return this.#serverFactory !== undefined;
  }

  /**
   * Listens on `host:port` (port 0 picks a free port; `listener.address.port` tells which), or on
   * an existing HTTP server with `{ server }`. Expose services to its clients with
   * `node.flowControls.addConsumer(service, listener.flowControlId)`.
   */
  async listen(
    address: string | { host?: string; port: number } = '127.0.0.1:0',
    options: WebSocketListenOptions = {},
  ): Promise<WebSocketListener> {
    this.checkRunning();
    const factory = this.#serverFactory;
    if (factory === undefined) {
      throw new WebSocketTransportError(
        'unsupported',
        'Cannot listen: this WebSocket transport has no server (browsers cannot accept WebSocket connections; on Node.js import @ockam/transport-websocket)',
      );
    }
    const { host, port } =
      typeof address === 'string'
        ? parseListenAddress(address)
        : { host: address.host ?? '127.0.0.1', port: address.port };
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new WebSocketTransportError('invalid', `Invalid port ${port}: expected 0-65535`);
    const { signal } = options;
    if (signal?.aborted)
      throw new CancelledError('WebSocket listen cancelled', 'transport', { cause: signal.reason });
    let origins: OriginPolicy;
    try {
      origins = new OriginPolicy(options.allowedOrigins);
    } catch (e) {
      throw new WebSocketTransportError('invalid', `Cannot listen: ${errorMessage(e)}`, { cause: e });
    }
    // The listener exists before the server so that a socket accepted at once has somewhere to go.
    let listener: Listener | undefined;
    const early: Array<[WebSocketLike, WebSocketPeer]> = [];
    const limits = this.guard.limits;
    const server = await factory(
      {
        host,
        port,
        path: options.path,
        server: options.server,
        maxPayload: this.#maxFrameSize,
        verifyUpgrade: (request) => this.#verifyUpgrade(origins, request),
        maxConnections: limits.maxConnections,
        handshakeTimeoutMs: limits.handshakeTimeoutMs,
        onLimit: (peer, limit) => this.guard.report(formatHostPort(peer), limit),
        signal,
      },
      (socket, peer) => {
        if (listener === undefined) early.push([socket, peer]);
        else this.#accept(listener, socket, peer);
      },
    );
    if (this.stopping) {
      await server.close();
      for (const [s] of early) closeSocket(s, CloseCode.goingAway, 'transport stopped');
      throw new WebSocketTransportError('shutdown', 'WebSocket transport is stopped');
    }
    const path =
      options.path === undefined ? '/' : options.path.startsWith('/') ? options.path : `/${options.path}`;
    const url = `ws://${formatHostPort(server.address)}${path}`;
    try {
      listener = this.openListener((init) => new Listener(init, server, url, origins));
    } catch (e) {
      await server.close();
      throw e;
    }
    for (const [s, p] of early) this.#accept(listener, s, p);
    this.logger.info('websocket listener started', { url, flowControlId: listener.flowControlId });
    return listener;
  }

  /**
   * Opens a new connection to a `ws://`/`wss://` URL, `host:port` or `3#…` address. The first open
   * connection to a URL is also the one `resolve` reuses for it.
   */
  async connect(
    address: WebSocketAddressLike,
    options: WebSocketConnectOptions = {},
  ): Promise<WebSocketConnection> {
    this.checkRunning();
    const url = toWebSocketUrl(address);
    return this.connectShared(url, () => this.#open(url, options));
  }

  protected dialTarget(address: Address): { key: string; open: () => Promise<Connection> } {
    const url = toWebSocketUrl(address);
    return { key: url, open: () => this.#open(url, {}) };
  }

  protected transportError(kind: ErrorKind, message: string, options?: { cause?: unknown }): Error {
    return new WebSocketTransportError(kind, message, options);
  }

  protected override cancelDials(): void {
    for (const s of this.#dialing) closeSocket(s, CloseCode.goingAway, 'transport stopped');
    this.#dialing.clear();
  }

  async #open(url: string, options: WebSocketConnectOptions): Promise<Connection> {
    const socket = await this.#dial(url, options.timeoutMs ?? this.#connectTimeoutMs, options.signal);
    if (this.stopping) {
      closeSocket(socket, CloseCode.goingAway, 'transport stopped');
      throw this.stoppedError();
    }
    const connection = this.#adopt(socket, url, peerOfUrl(url), { exposeTo: options.exposeTo });
    this.logger.info('websocket connection opened', { url, sender: connection.senderAddress.value });
    return connection;
  }

  #dial(url: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<WebSocketLike> {
    if (signal?.aborted)
      return Promise.reject(
        new CancelledError(`Connecting to ${url} cancelled`, 'transport', { cause: signal.reason }),
      );
    const Ctor = this.#WebSocket;
    if (Ctor === undefined)
      return Promise.reject(
        new WebSocketTransportError(
          'unsupported',
          'Cannot connect: no WebSocket implementation (pass the WebSocket option, or use the Node.js entry)',
        ),
      );
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url);
    } catch (e) {
      return Promise.reject(
        new WebSocketTransportError('invalid', `Cannot connect to ${url}: ${errorMessage(e)}`, { cause: e }),
      );
    }
    // Browsers deliver Blobs by default; the transport reads ArrayBuffers (ws: Buffers).
    if (socket.binaryType === 'blob') socket.binaryType = 'arraybuffer';
    // Errors after the handshake are the connection's business; this keeps `ws` from throwing
    // an unhandled 'error' while a failed dial is torn down.
    socket.addEventListener('error', ignore);
    this.#dialing.add(socket);
    return new Promise((resolve, reject) => {
      let lastError: string | undefined;
      const settle = (error: Error | undefined): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeEventListener('open', onOpen);
        socket.removeEventListener('error', onError);
        socket.removeEventListener('close', onClose);
        this.#dialing.delete(socket);
        if (error === undefined) resolve(socket);
        else {
          if (socket.terminate) socket.terminate();
          else closeSocket(socket, CloseCode.normal, '');
          reject(error);
        }
      };
      const onOpen = (): void => settle(undefined);
      const onError = (event: WebSocketLikeEvent): void => {
        const e = event.error ?? event.message;
        lastError = e === undefined ? undefined : errorMessage(e);
      };
      const onClose = (event: WebSocketLikeEvent): void =>
        settle(
          new WebSocketTransportError(
            'io',
            `Cannot connect to ${url}: ${lastError ?? `closed during the handshake (code ${event.code ?? '?'})`}`,
          ),
        );
      const onAbort = (): void =>
        settle(new CancelledError(`Connecting to ${url} cancelled`, 'transport', { cause: signal?.reason }));
      const timer = setTimeout(
        () =>
          settle(
            new WebSocketTransportError(
              'timeout',
              `Cannot connect to ${url}: no answer within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      socket.addEventListener('open', onOpen);
      socket.addEventListener('error', onError);
      socket.addEventListener('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (socket.readyState === OPEN) settle(undefined);
    });
  }

  /** The origin check of every upgrade request, before the handshake completes (never throws). */
  #verifyUpgrade(origins: OriginPolicy, request: WebSocketUpgradeRequest): boolean {
    let reason: string | undefined;
    try {
      reason = origins.refusal(request);
    } catch (e) {
      reason = errorMessage(e);
    }
    if (reason === undefined) return true;
    // The header is the peer's: log a bounded prefix of it.
    this.#refusedUpgrades.warn('upgrade', 'websocket upgrade refused', {
      peer: formatHostPort(request.peer),
      origin: request.origin?.slice(0, 200),
      reason,
    });
    return false;
  }

  #accept(listener: Listener, socket: WebSocketLike, peer: WebSocketPeer): void {
    if (this.stopping || !listener.isOpen) {
      closeSocket(socket, CloseCode.goingAway, 'listener closed');
      socket.terminate?.();
      return;
    }
    socket.addEventListener('error', ignore);
    // A bound `ws` server counts connections before their upgrade; this covers the others.
    if (!this.guard.admit(listener.connectionCount, formatHostPort(peer))) {
      if (socket.terminate) socket.terminate();
      else closeSocket(socket, CloseCode.tryAgainLater, 'too many connections');
      return;
    }
    let connection: Connection;
    try {
      connection = this.#adopt(socket, `ws://${formatHostPort(peer)}/`, peer, { listener });
    } catch (e) {
      this.logger.warn('websocket connection refused', {
        peer: formatHostPort(peer),
        reason: errorMessage(e),
      });
      return;
    }
    this.logger.debug('websocket connection accepted', {
      peer: connection.peerAddress,
      listener: listener.url,
    });
  }

  #adopt(socket: WebSocketLike, url: string, peer: WebSocketPeer, from: AdoptSource<Listener>): Connection {
    const make = (init: AdoptedInit<WebSocketCloseInfo>): Connection =>
      new Connection({
        ...init,
        socket,
        url,
        peer,
        maxFrameSize: this.#maxFrameSize,
        receiveBufferBytes: this.#receiveBufferBytes,
        sendBufferBytes: this.#sendBufferBytes,
        idleTimeoutMs: this.#idleTimeoutMs,
      });
    return this.adopt(url, make, from);
  }
}

function ignore(): void {}

function parseListenAddress(text: string): { host: string; port: number } {
  try {
    return parseHostPort(text.startsWith(`${WS}#`) ? text.slice(2) : text);
  } catch (e) {
    throw new WebSocketTransportError(
      'invalid',
      `Invalid listen address '${text}': expected HOST:PORT or PORT`,
      {
        cause: e,
      },
    );
  }
}

function peerOfUrl(url: string): WebSocketPeer {
  const u = new URL(url);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const port = u.port === '' ? (u.protocol === 'wss:' ? 443 : 80) : Number(u.port);
  return { host, port };
}
