/**
 * The TCP outlet (PROTOCOL.md §7.2, §7.3): a listener worker, `outlet` by default, that accepts
 * only `Ping`. For each Ping it connects to the target TCP service, starts a portal worker that
 * answers `Pong` from its own address, and relays bytes both ways.
 *
 * Who may open portal connections: the listener is reachable from a network producer (a TCP
 * connection, a secure channel) only if it is a consumer of that producer's flow-control id —
 * pass the ids in `consumerOf` (a secure channel listener's `flowControlId`, typically). Each
 * portal worker becomes a consumer of exactly the flow its Ping came from. `incoming` and
 * `outgoing` access controls (ABAC policies) apply to the listener and to every portal worker.
 *
 * A Ping that `incoming` refuses is answered with `Disconnect` (PROTOCOL.md §7.1), as a Ping whose
 * target cannot be reached is, so that the inlet closes its client at once instead of waiting out
 * its Pong timeout: a refused connection must not look like a lost one. The answer is one byte
 * per Ping, along the route the Ping came by, and says nothing about why. An Ockam Rust inlet
 * treats it as an unexpected message and keeps waiting, as it would for no answer.
 *
 * Inlets check their route with liveness pings to `echo` beside the outlet (PROTOCOL.md §7.4, as
 * Ockam's sessions do, and Ockam nodes run `echo`). So that an outlet alone is enough, an outlet
 * on a node without `echo` starts one, reachable from the same `consumerOf` flows as the outlet,
 * and stops it with the last outlet that needed it. A node that runs its own `echo` keeps it, and
 * exposes it itself.
 *
 * @example
 * ```ts
 * import { createOutlet } from '@ockam/portals';
 * const outlet = createOutlet(node, {
 *   to: { host: '127.0.0.1', port: 5432 },
 *   consumerOf: [secureChannelListener.flowControlId],
 * });
 * // inlets now reach it at [channel encryptor, 'outlet']
 * await outlet.stop();
 * ```
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  type Address,
  type AddressLike,
  type FlowControlId,
  type IncomingAccessControl,
  type Logger,
  LogLimiter,
  type Node,
  type OutgoingAccessControl,
  parseHostPort,
  type RoutedMessage,
  toAddress,
} from '@ockam/core';
import { PortalError } from './errors.js';
import { useEcho } from './internal/echo.js';
import { incomingCheck } from './internal/incoming.js';
import { PortalConnection } from './internal/portal-connection.js';
import { errorMessage, within } from './internal/timers.js';
import { decodePortalMessage, encodePortalMessage } from './portal-message.js';

/** Ockam's default outlet address (`OUTLET_SERVICE`). */
export const DEFAULT_OUTLET_ADDRESS = 'outlet';
/** How long a portal worker lingers after closing to absorb messages still in flight. */
export const DEFAULT_LINGER_MS = 1_000;
export const DEFAULT_TARGET_CONNECT_TIMEOUT_MS = 10_000;
/** Lines a peer can cause (a refused Ping, a message that is not a Ping): once per kind and 10 s. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** Disconnects answering refused Pings that may be waiting on a full mailbox at once; more go unanswered. */
const MAX_REFUSALS_IN_FLIGHT = 64;

const DISCONNECT = encodePortalMessage({ kind: 'disconnect' });

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface OutletOptions {
  /** The listener's address (default `outlet`). */
  address?: AddressLike;
  /** The TCP service to reach: `{ host, port }` or `'host:port'`. */
  to: HostPort | string;
  /** Flow-control ids whose producers may reach the outlet (a secure channel listener's id). */
  consumerOf?: readonly FlowControlId[];
  /** Checked on every message to the listener and to its portal workers. */
  incoming?: IncomingAccessControl;
  /** Checked on every message the portal workers send. */
  outgoing?: OutgoingAccessControl;
  /** How long connecting to the target may take (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Connect to the target with TLS (Ockam's `--tls`): `true` verifies its certificate against the
   * system's CAs for the target's host name; an object sets the CAs (PEM) or the server name.
   */
  tls?: boolean | OutletTlsOptions;
  /** How long closed portal workers linger to absorb in-flight messages (default 1 000 ms). */
  lingerMs?: number;
  /**
   * How often to close portal connections whose route is gone — the connection or channel their
   * Ping came out of no longer exists on this node (default 1 000 ms).
   */
  sweepIntervalMs?: number;
  logger?: Logger;
}

export interface OutletTlsOptions {
  /** Trusted CA certificates (PEM) instead of the system's. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The name the certificate must carry (default: the target's host). */
  servername?: string;
}

export interface Outlet {
  readonly address: Address;
  readonly to: HostPort;
  /** Open portal connections. */
  connections(): number;
  /** Stops the listener and closes every portal connection (their peers are told). */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts an outlet; throws `already-exists` if the address is taken. */
export function createOutlet(node: Node, options: OutletOptions): Outlet {
  const to = toHostPort(options.to);
  const address = toAddress(options.address ?? DEFAULT_OUTLET_ADDRESS);
  const logger = (options.logger ?? node.logger).child({ outlet: address.value });
  const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_TARGET_CONNECT_TIMEOUT_MS;
  const connections = new Set<PortalConnection>();
  /** The producer each connection's Ping came from (a TCP receiver, a channel's decryptor). */
  const sources = new Map<PortalConnection, Address>();
  const pending = new Set<Promise<void>>();
  const dialing = new Set<Socket>();
  let stopped = false;

  const openConnection = async (
    returnRoute: Parameters<PortalConnection['accept']>[0],
    source: Address,
    flowId: FlowControlId | undefined,
    send: (payload: Uint8Array) => Promise<void>,
    openedBy: RoutedMessage,
  ): Promise<void> => {
    let socket: Socket;
    try {
      socket = await dial(to, connectTimeoutMs, dialing, options.tls);
    } catch (e) {
      logger.warn('tcp outlet cannot reach its target', {
        target: `${to.host}:${to.port}`,
        error: errorMessage(e),
      });
      // The inlet would otherwise wait for a Pong that never comes.
      await within(send(DISCONNECT), 2_000);
      return;
    }
    if (stopped) {
      socket.destroy();
      return;
    }
    const connection = new PortalConnection({
      node,
      logger,
      role: 'outlet',
      socket,
      lingerMs,
      incoming: options.incoming,
      outgoing: options.outgoing,
      openedBy,
      consumerOf: [flowId],
      onClosed: (c) => {
        connections.delete(c);
        sources.delete(c);
      },
    });
    connections.add(connection);
    if (node.flowControls.producer(source) !== undefined) sources.set(connection, source);
    try {
      await connection.accept(returnRoute);
    } catch (e) {
      logger.warn('tcp outlet could not answer a Ping', { error: errorMessage(e) });
      await connection.close('pong failed', { notifyPeer: false });
    }
  };

  const refusals = new LogLimiter(logger, REFUSAL_LOG_INTERVAL_MS);
  let answering = 0;
  /** `incoming` for the listener's messages: checked here, not by the router, so a refusal can be answered. */
  const authorized = incomingCheck(options.incoming, refusals, 'tcp outlet');

  node.startWorker(
    address,
    {
      async handleMessage(ctx, routed) {
        const message = routed.message;
        let kind: string;
        try {
          kind = decodePortalMessage(message.payload).kind;
        } catch (e) {
          refusals.warn('malformed', 'tcp outlet dropped a malformed message', { error: errorMessage(e) });
          return;
        }
        if (kind !== 'ping') {
          refusals.warn('not-ping', 'tcp outlet accepts only Ping', { kind });
          return;
        }
        if (stopped || message.returnRoute.isEmpty) return;
        const returnRoute = message.returnRoute;
        if (!(await authorized(routed))) {
          refusals.warn('refused', 'tcp outlet refused a Ping: access control denied it', {
            from: routed.source.value,
            ...(message.localInfo.secureChannelIdentifier
              ? { peer: message.localInfo.secureChannelIdentifier }
              : {}),
          });
          // Tell the inlet now (one byte, along the route the Ping came by) rather than let it
          // wait for a Pong that will never come. Beside the worker, so a peer that does not read
          // cannot hold up other Pings; and a bounded number at once, so it cannot pile them up.
          if (answering >= MAX_REFUSALS_IN_FLIGHT) return;
          answering++;
          void within(ctx.send(returnRoute, DISCONNECT), 2_000)
            .catch(() => {})
            .finally(() => answering--);
          return;
        }
        // Connecting to the target must not hold up other Pings: run it beside the worker.
        const task = openConnection(
          returnRoute,
          routed.source,
          message.localInfo.flowControlId,
          (payload) => ctx.send(returnRoute, payload),
          routed,
        ).catch((e: unknown) =>
          logger.warn('tcp outlet failed to open a connection', { error: errorMessage(e) }),
        );
        pending.add(task);
        void task.finally(() => pending.delete(task));
      },
    },
    // `incoming` is checked by the worker itself (above); flow control still fences the listener.
    options.outgoing ? { outgoing: options.outgoing } : {},
  );
  for (const id of options.consumerOf ?? []) node.flowControls.addConsumer(address, id);
  const releaseEcho = useEcho(node, options.consumerOf ?? []);
  logger.info('tcp outlet started', { target: `${to.host}:${to.port}` });

  // A route that died without a word (its TCP connection or channel closed) leaves portal
  // connections with nobody at the other end: close them.
  const sweep = setInterval(() => {
    for (const [connection, source] of sources) {
      if (!node.has(source)) {
        sources.delete(connection);
        logger.info('tcp outlet closes a connection: its route is gone', { source: source.value });
        void connection.close('route gone', { notifyPeer: false });
      }
    }
  }, options.sweepIntervalMs ?? 1_000);
  sweep.unref();

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    clearInterval(sweep);
    for (const s of dialing) s.destroy();
    await Promise.all([...pending]);
    await node.stopWorker(address);
    await releaseEcho();
    await Promise.all([...connections].map((c) => c.close('outlet stopped')));
  };
  return {
    address,
    to,
    connections: () => connections.size,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function dial(
  to: HostPort,
  timeoutMs: number,
  dialing: Set<Socket>,
  tls: boolean | OutletTlsOptions | undefined,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = { host: to.host, port: to.port, allowHalfOpen: true, noDelay: true };
    const secure = tls === true ? {} : tls === false ? undefined : tls;
    // A TLS socket is ready once the handshake (and the certificate check) is done.
    const socket: Socket =
      secure === undefined
        ? netConnect(tcp)
        : tlsConnect({
            ...tcp,
            servername: secure.servername ?? (isIp(to.host) ? '' : to.host),
            ...(secure.ca !== undefined ? { ca: secure.ca } : {}),
          });
    const ready = secure === undefined ? 'connect' : 'secureConnect';
    dialing.add(socket);
    const settle = (error: Error | undefined): void => {
      clearTimeout(timer);
      dialing.delete(socket);
      socket.off(ready, onConnect);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error === undefined) resolve(socket);
      else {
        socket.destroy();
        reject(error);
      }
    };
    const onConnect = (): void => settle(undefined);
    const onError = (e: Error): void =>
      settle(new PortalError('io', `Cannot connect to ${to.host}:${to.port}: ${e.message}`, { cause: e }));
    const onClose = (): void =>
      settle(new PortalError('io', `Cannot connect to ${to.host}:${to.port}: cancelled`));
    const timer = setTimeout(
      () =>
        settle(new PortalError('timeout', `Cannot connect to ${to.host}:${to.port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once(ready, onConnect);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

function isIp(host: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':');
}

export function toHostPort(value: HostPort | string): HostPort {
  if (typeof value !== 'string') {
    if (!Number.isInteger(value.port) || value.port < 0 || value.port > 65535)
      throw new RangeError(`Invalid port ${value.port}`);
    return { host: value.host, port: value.port };
  }
  const parsed = parseHostPort(value);
  return { host: parsed.host, port: parsed.port };
}
