/**
 * The TCP transport of a node (PROTOCOL.md §2.1): listeners, outgoing connections, and resolution
 * of `1#host:port` route hops into the local address of a connection's sender.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { TcpTransport } from '@ockam/transport-tcp';
 *
 * const server = new Node({ name: 'server' });
 * const serverTcp = new TcpTransport(server);
 * server.registerTransport(serverTcp);
 * const listener = await serverTcp.listen('127.0.0.1:0');
 * startEcho(server);
 * server.flowControls.addConsumer('echo', listener.flowControlId); // expose echo to clients
 *
 * const client = new Node({ name: 'client' });
 * client.registerTransport(new TcpTransport(client));
 * const reply = await client.client().request([`1#127.0.0.1:${listener.address.port}`, 'echo'], new Uint8Array([1, 2, 3]));
 * // reply.payload: 01 02 03
 * await client.stop();
 * await server.stop();
 * ```
 */
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';
import {
  Address,
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
  type Node,
  parseHostPort,
  type StreamConnectOptions,
  StreamTransport,
  type StreamTransportEvents,
  TCP,
  whenListening,
} from '@ockam/core';
import { TransportError } from './errors.js';
import { Connection } from './internal/connection.js';
import { Listener } from './internal/listener.js';
import type { TcpCloseInfo, TcpConnection, TcpPeer } from './tcp-connection.js';
import type { TcpListener } from './tcp-listener.js';

/** Ockam sets SO_KEEPALIVE with 300 s idle on outgoing sockets (§2.1). */
export const DEFAULT_KEEPALIVE_MS = 300_000;

export interface TcpTransportOptions {
  /** Where connection events and refused peers are logged (default: the node's logger). */
  logger?: Logger;
  /** SO_KEEPALIVE idle time for outgoing sockets in ms, or false to leave keepalive off (default 300 000). */
  keepAliveMs?: number | false;
  /** How long `connect` waits for the TCP handshake (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Close a connection that sees no traffic for this long (default: never, as in Ockam). */
  idleTimeoutMs?: number;
  /** Inbound bytes to buffer while routing waits before pausing the socket (default 256 KiB). */
  receiveBufferBytes?: number;
  /**
   * What peers may hold (core's `InboundLimits`): connections per listener (1024), bytes held for
   * them across all connections beyond 64 KiB each (64 MiB), and the time they get for the
   * version byte (10 s), for each started frame (60 s) and, once accepted, for a first message
   * (120 s).
   */
  limits?: InboundLimitsOptions;
}

/** `exposeTo` (multi-hop routes: a listener's id, so that its clients reach this peer), `timeoutMs`, `signal`. */
export type TcpConnectOptions = StreamConnectOptions;

export interface TcpListenOptions {
  signal?: AbortSignal;
}

/** Accepts `'host:port'`, `'port'`, `{ host, port }`, or a `1#host:port` address. */
export type TcpAddressLike = string | { host?: string; port: number } | Address;

/** `connection`: a connection was opened or accepted; `close`: a connection closed (`info.reason` says why). */
export type TcpTransportEvents = StreamTransportEvents<TcpConnection, TcpCloseInfo>;

export class TcpTransport extends StreamTransport<
  TcpConnection,
  TcpListener,
  TcpCloseInfo,
  Connection,
  Listener
> {
  readonly type = TCP;
  readonly #keepAliveMs: number | false;
  readonly #connectTimeoutMs: number;
  readonly #idleTimeoutMs: number | undefined;
  readonly #receiveBufferBytes: number;
  readonly #dialing = new Set<Socket>();

  constructor(node: Node, options: TcpTransportOptions = {}) {
    super(node, { transport: 'tcp', label: 'TCP', logger: options.logger, limits: options.limits });
    this.#keepAliveMs = options.keepAliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#receiveBufferBytes = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES;
    if (this.#keepAliveMs !== false && !(this.#keepAliveMs >= 0))
      throw new RangeError(`keepAliveMs must be ≥ 0, got ${this.#keepAliveMs}`);
    if (!(this.#connectTimeoutMs > 0))
      throw new RangeError(`connectTimeoutMs must be > 0, got ${this.#connectTimeoutMs}`);
    if (!(this.#receiveBufferBytes > 0))
      throw new RangeError(`receiveBufferBytes must be > 0, got ${this.#receiveBufferBytes}`);
  }

  /**
   * Listens on `host:port` (port 0 picks a free port; `listener.address.port` tells which).
   * Expose services to its clients with `node.flowControls.addConsumer(service, listener.flowControlId)`.
   */
  async listen(address: TcpAddressLike, options: TcpListenOptions = {}): Promise<TcpListener> {
    this.checkRunning();
    const { host, port } = toPeer(address);
    const { signal } = options;
    if (signal?.aborted)
      throw new CancelledError('TCP listen cancelled', 'transport', { cause: signal.reason });
    const server = createServer({ noDelay: true });
    await whenListening(server, () => server.listen({ host, port }), {
      signal,
      release: () => server.close(),
      failed: (e) =>
        new TransportError('io', `Cannot listen on ${formatHostPort({ host, port })}: ${e.message}`, {
          cause: e,
        }),
      cancelled: () => new CancelledError('TCP listen cancelled', 'transport', { cause: signal?.reason }),
    });
    if (this.stopping) {
      server.close();
      throw this.stoppedError();
    }
    const bound = server.address() as AddressInfo;
    let listener: Listener;
    try {
      listener = this.openListener(
        (init) => new Listener(init, server, { host: bound.address, port: bound.port }),
      );
    } catch (e) {
      server.close();
      throw e;
    }
    server.on('connection', (socket) => this.#accept(listener, socket));
    server.on('error', (e) =>
      this.logger.warn('tcp listener error', {
        address: formatHostPort(listener.address),
        error: e.message,
      }),
    );
    this.logger.info('tcp listener started', {
      address: formatHostPort(listener.address),
      flowControlId: listener.flowControlId,
    });
    return listener;
  }

  /**
   * Opens a new connection to `host:port`. The first open connection to a peer is also the one
   * `resolve` reuses for it.
   */
  async connect(address: TcpAddressLike, options: TcpConnectOptions = {}): Promise<TcpConnection> {
    this.checkRunning();
    const peer = toPeer(address);
    return this.connectShared(formatHostPort(peer), () => this.#open(peer, options));
  }

  protected dialTarget(address: Address): { key: string; open: () => Promise<Connection> } {
    const peer = toPeer(address.value);
    return { key: formatHostPort(peer), open: () => this.#open(peer, {}) };
  }

  protected transportError(kind: ErrorKind, message: string, options?: { cause?: unknown }): Error {
    return new TransportError(kind, message, options);
  }

  protected override cancelDials(): void {
    for (const s of this.#dialing) s.destroy(new TransportError('shutdown', 'TCP transport stopped'));
    this.#dialing.clear();
  }

  async #open(peer: TcpPeer, options: TcpConnectOptions): Promise<Connection> {
    const socket = await this.#dial(peer, options.timeoutMs ?? this.#connectTimeoutMs, options.signal);
    if (this.stopping) {
      socket.destroy();
      throw this.stoppedError();
    }
    if (this.#keepAliveMs !== false) socket.setKeepAlive(true, this.#keepAliveMs);
    const connection = this.#adopt(socket, peer, { exposeTo: options.exposeTo });
    this.logger.info('tcp connection opened', {
      peer: connection.peerAddress,
      sender: connection.senderAddress.value,
    });
    return connection;
  }

  #dial(peer: TcpPeer, timeoutMs: number, signal: AbortSignal | undefined): Promise<Socket> {
    const target = formatHostPort(peer);
    if (signal?.aborted)
      return Promise.reject(
        new CancelledError(`Connecting to ${target} cancelled`, 'transport', { cause: signal.reason }),
      );
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: peer.host, port: peer.port });
      this.#dialing.add(socket);
      const settle = (error: Error | undefined): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        this.#dialing.delete(socket);
        if (error === undefined) resolve(socket);
        else {
          socket.destroy();
          reject(error);
        }
      };
      const onConnect = (): void => settle(undefined);
      const onError = (e: Error): void =>
        settle(
          e instanceof TransportError
            ? e
            : new TransportError('io', `Cannot connect to ${target}: ${e.message}`, { cause: e }),
        );
      const onAbort = (): void =>
        settle(
          new CancelledError(`Connecting to ${target} cancelled`, 'transport', { cause: signal?.reason }),
        );
      const timer = setTimeout(
        () =>
          settle(
            new TransportError('timeout', `Cannot connect to ${target}: no answer within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      socket.once('connect', onConnect);
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #accept(listener: Listener, socket: Socket): void {
    if (this.stopping || !listener.isOpen) {
      socket.destroy();
      return;
    }
    const peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    // Over `maxConnections`: closed before anything is read or allocated for it (logged, counted).
    if (!this.guard.admit(listener.connectionCount, formatHostPort(peer))) {
      socket.destroy();
      return;
    }
    let connection: Connection;
    try {
      connection = this.#adopt(socket, peer, { listener });
    } catch (e) {
      this.logger.warn('tcp connection refused', { peer: formatHostPort(peer), reason: errorMessage(e) });
      return;
    }
    this.logger.debug('tcp connection accepted', {
      peer: connection.peerAddress,
      listener: formatHostPort(listener.address),
    });
  }

  #adopt(socket: Socket, peer: TcpPeer, from: AdoptSource<Listener>): Connection {
    const make = (init: AdoptedInit<TcpCloseInfo>): Connection =>
      new Connection({
        ...init,
        socket,
        peer,
        receiveBufferBytes: this.#receiveBufferBytes,
        idleTimeoutMs: this.#idleTimeoutMs,
      });
    return this.adopt(formatHostPort(peer), make, from);
  }
}

function toPeer(address: TcpAddressLike): TcpPeer {
  if (address instanceof Address) {
    if (address.type !== TCP) throw new TransportError('invalid', `Not a TCP address: ${address}`);
    return parseHostPort(address.value);
  }
  if (typeof address === 'string') {
    return parseHostPort(address.startsWith(`${TCP}#`) ? address.slice(2) : address);
  }
  const { host = '127.0.0.1', port } = address;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TransportError('invalid', `Invalid port ${port}: expected 0-65535`);
  return { host, port };
}
