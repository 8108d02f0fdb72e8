/**
 * The TCP inlet (PROTOCOL.md §7.2, §7.4): a TCP server whose every accepted client gets its own
 * portal worker, which sends `Ping` along the route to an outlet and adopts the `Pong`'s return
 * route as its peer.
 *
 * The route is watched by a `Session`: pings to `echo` beside the outlet, and a rebuild through
 * `route()` (when it is a function) with back-off when the route dies. While the route is down
 * the inlet keeps its port: a new client waits up to `connectionWaitMs` for the route, then is
 * closed with a log line. Portal connections over a route that died are closed (their clients
 * see the connection drop rather than silent loss).
 *
 * @example
 * ```ts
 * import { createInlet } from '@ockam/portals';
 * const inlet = await createInlet(node, {
 *   bind: '127.0.0.1:5000',
 *   route: async () => {
 *     const channel = await createSecureChannel(node, ['1#10.0.0.2:4000', 'api'], { identity, vault });
 *     return {
 *       route: Route.of(channel.encryptorAddress, 'outlet'),
 *       flowControlId: channel.flowControlId,
 *       close: () => channel.close(),
 *     };
 *   },
 * });
 * inlet.address; // { host: '127.0.0.1', port: 5000 }
 * await inlet.stop();
 * ```
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import {
  type IncomingAccessControl,
  type Logger,
  type Node,
  type OutgoingAccessControl,
  type Route,
  type RouteLike,
  toRoute,
} from '@ockam/core';
import { PortalError } from './errors.js';
import { PortalConnection } from './internal/portal-connection.js';
import { errorMessage } from './internal/timers.js';
import { DEFAULT_LINGER_MS, type HostPort, toHostPort } from './outlet.js';
import { type RouteConnection, type RouteConnector, Session, type SessionOptions } from './session.js';

/** Ockam's `--connection-wait` default. */
export const DEFAULT_CONNECTION_WAIT_MS = 5_000;
export const DEFAULT_PONG_TIMEOUT_MS = 20_000;

export interface InletOptions {
  /** Where to listen: `'host:port'` or `{ host, port }`; port 0 picks a free port. */
  bind: HostPort | string;
  /**
   * The route to the outlet (e.g. `[channel.encryptorAddress, 'outlet']`, or
   * `['1#10.0.0.2:4000', 'outlet']`), or a function that builds it, called again to rebuild it
   * whenever it dies. A static route with a `1#host:port` hop is re-resolved (a new TCP
   * connection) when it dies.
   */
  route: RouteLike | RouteConnector;
  /** Pings and reconnection (defaults: ping every 10 s, rebuild after 3 misses, back-off 100 ms → 5 s). */
  session?: SessionOptions;
  /** How long a new client waits for a route that is down before it is closed (default 5 s; 0 = close at once). */
  connectionWaitMs?: number;
  /** How long to wait for the outlet's Pong (default 20 s). */
  pongTimeoutMs?: number;
  /**
   * Whether `createInlet` waits for the first attempt at the route (default true). With false it
   * resolves once bound, and the first attempt runs in the background like every retry.
   */
  waitForRoute?: boolean;
  /** Checked on every message to the inlet's portal workers. */
  incoming?: IncomingAccessControl;
  /** Checked on every message the inlet's portal workers send. */
  outgoing?: OutgoingAccessControl;
  /** How long closed portal workers linger to absorb in-flight messages (default 1 000 ms). */
  lingerMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export type InletStatus = 'up' | 'down' | 'stopped';

export interface Inlet {
  /** The bound address (the real port when 0 was asked). */
  readonly address: HostPort;
  /** Whether the route to the outlet is up. */
  readonly status: InletStatus;
  /** The route in use, while up. */
  readonly route: Route | undefined;
  /** Open portal connections. */
  connections(): number;
  /** The session watching the route (stats for diagnostics and tests). */
  readonly session: Session;
  /** Closes the TCP server and every portal connection, and releases the route. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Binds the TCP server and makes a first attempt at the route. Resolves once bound and the first
 * attempt is over (at once with `waitForRoute: false`), whether the route is up or not (`status`
 * says; it is retried in the background). Rejects if binding fails.
 */
export async function createInlet(node: Node, options: InletOptions): Promise<Inlet> {
  const bind = toHostPort(options.bind);
  const connectionWaitMs = options.connectionWaitMs ?? DEFAULT_CONNECTION_WAIT_MS;
  const pongTimeoutMs = options.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS;
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const baseLogger = options.logger ?? node.logger;
  const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
  await listen(server, bind, options.signal);
  const bound = server.address() as AddressInfo;
  const address: HostPort = { host: bound.address, port: bound.port };
  const name = `tcp inlet ${address.host}:${address.port}`;
  const logger = baseLogger.child({ inlet: `${address.host}:${address.port}` });

  /** Portal connections by the route connection they run over. */
  const byRoute = new Map<RouteConnection, Set<PortalConnection>>();
  const sockets = new Set<Socket>();
  let stopped = false;

  const connector: RouteConnector =
    typeof options.route === 'function' ? options.route : staticConnector(node, options.route);
  const session = new Session(node, connector, options.session, {
    logger: baseLogger,
    name,
    // Ping `echo` on the outlet's node: the route with its last hop (the outlet) replaced.
    defaultPingRoute: (route) => (route.length >= 2 ? route.popBack().append('echo') : null),
    onUp: (c) => byRoute.set(c, new Set()),
    onDown: (c, reason) => {
      const set = byRoute.get(c);
      byRoute.delete(c);
      if (set === undefined) return;
      if (set.size > 0)
        logger.warn('tcp inlet closes its connections: the route died', { connections: set.size, reason });
      for (const p of set) void p.close('route died', { notifyPeer: false });
    },
  });

  const accept = async (socket: Socket): Promise<void> => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (stopped) {
      socket.destroy();
      return;
    }
    let connection = session.connection;
    if (connection === undefined && connectionWaitMs > 0) {
      await session.waitUntilUp(connectionWaitMs);
      connection = session.connection;
    }
    if (connection === undefined || stopped || socket.destroyed) {
      if (!stopped)
        logger.warn('tcp inlet closed a new connection: the route to the outlet is down', {
          client: `${socket.remoteAddress}:${socket.remotePort}`,
        });
      socket.destroy();
      return;
    }
    const portal = new PortalConnection({
      node,
      logger,
      role: 'inlet',
      socket,
      lingerMs,
      incoming: options.incoming,
      outgoing: options.outgoing,
      consumerOf: [connection.flowControlId],
      onClosed: (p) => byRoute.get(connection)?.delete(p),
      onRouteError: () => session.check(),
    });
    sockets.delete(socket); // the portal owns it now
    const set = byRoute.get(connection);
    if (set === undefined) {
      // The route died while we were setting up.
      await portal.close('route died', { notifyPeer: false });
      return;
    }
    set.add(portal);
    try {
      await portal.connect(connection.route, pongTimeoutMs);
    } catch (e) {
      logger.warn('tcp inlet could not open a portal connection', { error: errorMessage(e) });
      await portal.close('handshake failed');
    }
  };

  server.on('connection', (socket: Socket) => {
    accept(socket).catch((e: unknown) => {
      logger.warn('tcp inlet failed to accept a connection', { error: errorMessage(e) });
      socket.destroy();
    });
  });
  server.on('error', (e) => logger.warn('tcp inlet server error', { error: e.message }));

  if (options.waitForRoute === false) {
    // session.start() only rejects when the route is required; it is not here.
    session
      .start()
      .catch((e: unknown) => logger.warn('tcp inlet: route setup failed', { error: errorMessage(e) }));
  } else {
    try {
      await session.start();
    } catch (e) {
      server.close();
      throw e;
    }
  }
  logger.info('tcp inlet started', { status: session.status });

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    const portals = [...byRoute.values()].flatMap((set) => [...set]);
    await Promise.all(portals.map((p) => p.close('inlet stopped')));
    await session.stop();
    await closing;
  };

  return {
    address,
    get status(): InletStatus {
      return stopped ? 'stopped' : session.status === 'up' ? 'up' : 'down';
    },
    get route() {
      return session.connection?.route;
    },
    session,
    connections: () => {
      let n = 0;
      for (const set of byRoute.values()) n += set.size;
      return n;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * A static route as a connector: resolved (a `1#host:port` hop becomes a TCP connection) at each
 * attempt; when it died after missed pings, its TCP connection is closed so that the next attempt
 * opens a fresh one instead of reusing a dead one.
 */
export function staticConnector(node: Node, route: RouteLike): RouteConnector {
  return async (signal) => {
    const unresolved = toRoute(route);
    const resolved = await node.resolveRoute(unresolved, { signal });
    const first = resolved.addresses[0];
    const viaTransport = unresolved.addresses[0] !== undefined && !unresolved.addresses[0].isLocal;
    return {
      route: resolved,
      close: async (reason) => {
        // Stopping a TCP connection's sender closes the connection.
        if (reason === 'failed' && viaTransport && first !== undefined && node.has(first))
          await node.stopWorker(first);
      },
    };
  };
}

function listen(server: Server, bind: HostPort, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      server.off('listening', onListening);
      server.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onListening = (): void => {
      cleanup();
      resolve();
    };
    const onError = (e: Error): void => {
      cleanup();
      server.close();
      reject(new PortalError('io', `Cannot listen on ${bind.host}:${bind.port}: ${e.message}`, { cause: e }));
    };
    const onAbort = (): void => {
      cleanup();
      server.close();
      reject(new PortalError('cancelled', 'Inlet creation cancelled', { cause: signal?.reason }));
    };
    if (signal?.aborted) return onAbort();
    server.once('listening', onListening);
    server.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    server.listen({ host: bind.host, port: bind.port });
  });
}
