/**
 * The relay client (PROTOCOL.md §8, client side): registers a name at a relay node's
 * `forwarding_service` and keeps it registered. Messages sent to `forward_to_<name>` on the relay
 * node then arrive here and go to the next hop of their onward route — typically `api`, our
 * secure channel listener, so that a channel runs end to end through the relay and the relay node
 * only forwards ciphertext.
 *
 * The addresses in `exposeTo` (default `['api']`) become consumers of the flow the relay's
 * traffic comes out of (the TCP connection or secure channel to the relay node), at every
 * (re)registration. A `Session` pings `echo` on the relay node and registers again, over a route
 * rebuilt by `route()` when it is a function, when the route dies.
 *
 * @example
 * ```ts
 * import { createRelay } from '@ockam/portals';
 * const relay = await createRelay(node, ['1#relay.example:4000'], 'db');
 * relay.remoteAddress; // 'forward_to_db'
 * // an inlet elsewhere reaches us at ['1#relay.example:4000', 'forward_to_db', 'api']
 * await relay.stop();
 * ```
 */
import {
  type AddressLike,
  decodeBareString,
  encodeBareString,
  type FlowControlId,
  type Logger,
  type Node,
  OckamError,
  type Route,
  type RouteLike,
} from '@ockam/core';
import { PortalError } from './errors.js';
import { staticConnector } from './inlet.js';
import { RELAY_REFUSED_PREFIX, RELAY_SERVICE, STATIC_RELAY_SERVICE } from './relay-service.js';
import {
  type RouteConnection,
  type RouteConnector,
  Session,
  type SessionOptions,
  toConnection,
} from './session.js';

export const DEFAULT_RELAY_NAME = 'default';
export const DEFAULT_REGISTRATION_TIMEOUT_MS = 10_000;

export interface RelayOptions {
  /** Register at `static_forwarding_service` instead of `forwarding_service`. */
  static?: boolean;
  /** Local addresses that messages arriving through the relay may reach (default `['api']`). */
  exposeTo?: readonly AddressLike[];
  /** Pings and re-registration (defaults: ping every 10 s, rebuild after 3 misses, back-off 100 ms → 5 s). */
  session?: SessionOptions;
  /** How long to wait for the relay's answer (default 10 s). */
  registrationTimeoutMs?: number;
  /**
   * Reject when the first registration fails (default true). With false, `createRelay` resolves
   * anyway and the session keeps trying in the background (a node recreating its saved relays
   * at start, while the relay node is down or still holds the name for the old connection).
   */
  required?: boolean;
  logger?: Logger;
}

export type RelayStatus = 'up' | 'down' | 'stopped';

export interface Relay {
  /** The name asked for (`'register'` asks the relay node for a random one). */
  readonly name: string;
  /** The relay's address on the relay node (`forward_to_<name>`), from the last registration. */
  readonly remoteAddress: string;
  /** The route to the relay node in use, while up. */
  readonly route: Route | undefined;
  readonly status: RelayStatus;
  readonly session: Session;
  /** Stops watching and releases the route (the relay node drops the relay when it notices). */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Registers `name` at the relay node reached by `route` (`['1#host:port']`, a channel's
 * `[encryptor]`, or a function that builds such a route). Rejects with a `PortalError` if the
 * first registration fails (kind `permission` when the relay node refused it, with its reason;
 * `timeout` when it did not answer); later failures are retried by the session.
 */
export async function createRelay(
  node: Node,
  route: RouteLike | RouteConnector,
  name: string = DEFAULT_RELAY_NAME,
  options: RelayOptions = {},
): Promise<Relay> {
  if (name.length === 0) throw new RangeError('A relay name cannot be empty');
  const service = options.static ? STATIC_RELAY_SERVICE : RELAY_SERVICE;
  const exposeTo = options.exposeTo ?? ['api'];
  const timeoutMs = options.registrationTimeoutMs ?? DEFAULT_REGISTRATION_TIMEOUT_MS;
  const base: RouteConnector = typeof route === 'function' ? route : staticConnector(node, route);
  let remoteAddress = '';

  const connector: RouteConnector = async (signal) => {
    const connection = toConnection(await base(signal));
    try {
      const registered = await register(node, connection, service, name, timeoutMs, signal);
      remoteAddress = registered.address;
      if (registered.flowControlId !== undefined)
        for (const a of exposeTo) node.flowControls.addConsumer(a, registered.flowControlId);
      return connection;
    } catch (e) {
      try {
        // A refusal came over a working route: release it without tearing down a connection
        // that other relays and inlets of this node may share.
        await connection.close?.(OckamError.isKind(e, 'permission') ? 'stopped' : 'failed');
      } catch {
        // already failing
      }
      throw e;
    }
  };
  const session = new Session(node, connector, options.session, {
    logger: options.logger ?? node.logger,
    name: `relay ${name}`,
    defaultPingRoute: (r) => r.append('echo'),
  });
  await session.start({ required: options.required ?? true });
  let stopped = false;
  const stop = async (): Promise<void> => {
    stopped = true;
    await session.stop();
  };
  return {
    name,
    get remoteAddress() {
      return remoteAddress;
    },
    get route() {
      return session.connection?.route;
    },
    get status(): RelayStatus {
      return stopped ? 'stopped' : session.status === 'up' ? 'up' : 'down';
    },
    session,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** One registration round trip. */
async function register(
  node: Node,
  connection: RouteConnection,
  service: string,
  name: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ address: string; flowControlId: FlowControlId | undefined }> {
  const client = node.client();
  const to = connection.route.append(service);
  // The registration travels through the route's first hop (a connection's sender, a channel's
  // encryptor): if that stops, no answer can come back; stop waiting at once.
  const closed = new AbortController();
  const first = connection.route.isEmpty ? undefined : connection.route.next();
  const unwatch = first === undefined ? undefined : node.whenStopped(first, () => closed.abort());
  try {
    if (connection.flowControlId !== undefined)
      node.flowControls.addConsumer(client.address, connection.flowControlId);
    let reply: Awaited<ReturnType<typeof client.request>>;
    try {
      // A request: what this node refuses on the way out fails at once.
      reply = await client.request(to, encodeBareString(name), {
        timeoutMs,
        signal: AbortSignal.any([signal, closed.signal]),
      });
    } catch (e) {
      if (closed.signal.aborted && !signal.aborted)
        throw new PortalError(
          'io',
          `Relay registration of '${name}' along ${to} failed: ${first?.value}, the connection or channel it went through, closed before the relay node answered`,
          { origin: 'application', cause: e },
        );
      if (!OckamError.isKind(e, 'timeout')) throw e;
      throw new PortalError(
        'timeout',
        `Relay registration of '${name}' along ${to} got no answer within ${timeoutMs} ms: check that the node at the end of the route runs a relay service at '${service}' and that it is a flow-control consumer of the connection or channel the registration arrives by (startRelayService consumerOf)`,
        { origin: 'application', cause: e },
      );
    }
    let address: string;
    try {
      address = decodeBareString(reply.payload, 'relay registration reply');
    } catch (e) {
      throw new PortalError('protocol', `Relay registration of '${name}': malformed answer`, { cause: e });
    }
    // The relay service refused and said why (ours; see relay-service.ts).
    if (address.startsWith(RELAY_REFUSED_PREFIX))
      throw new PortalError(
        'permission',
        `Relay registration of '${name}' was refused by the relay node: ${address.slice(RELAY_REFUSED_PREFIX.length)}`,
        { origin: 'application' },
      );
    // PROTOCOL.md §8: accept the answer if it ends with the name asked for.
    if (name !== 'register' && !address.endsWith(name))
      throw new PortalError('protocol', `Relay registration of '${name}' was answered for '${address}'`);
    return { address, flowControlId: reply.localInfo.flowControlId ?? connection.flowControlId };
  } finally {
    unwatch?.();
    await client.stop();
  }
}
