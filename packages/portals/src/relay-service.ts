/**
 * The relay service (PROTOCOL.md §8, service side): a worker at `forwarding_service` (alias
 * `static_forwarding_service`) whose message is a BARE string, `"register"` for a random name or
 * the name wanted. It starts a relay worker at `forward_to_<name>` which, on start, sends the BARE
 * string of its own address back along the registration's return route, from that address; it
 * then keeps that route minus its last hop (the registrant) as `forward_route`, and forwards
 * every message addressed to it by replacing itself with `forward_route`. A relay only ever sees
 * what its clients send — ciphertext, when they run a secure channel through it.
 *
 * Who holds a name. A name belongs to its registrant until the relay is gone:
 * - a registration that came through a secure channel is held by the channel peer's identity
 *   (`localInfo.secureChannelIdentifier`); the same identity may register the name again (a node
 *   that restarted, a route rebuilt) and its new route replaces the old one; another identity is
 *   refused;
 * - a registration over plain TCP (no secure channel) is held by the connection it came through
 *   (and, through a datagram bind shared by many peers, by the peer's address); it is refused
 *   outright when `requireSecureChannel` is set (the node does so once it has an authority), and
 *   otherwise it may take a free name but never replace one held by an identity or by another
 *   connection. It must come straight out of its connection, not through a forwarding worker
 *   of this node such as `hop`.
 *
 * When a relay is gone (expires). A relay lives as long as the local worker its registration came
 * through: the secure channel's encryptor, or the TCP connection's sender. Once that worker has
 * stopped (the channel closed, the connection closed), the relay is dead: its name is free again,
 * and the relay worker is stopped the next time anything touches it — a message to forward, a
 * registration of its name, a listing, or the table being full. No timer is needed for that. A
 * channel outlives its TCP connection, so a registrant that crashed keeps its name until it
 * registers again with the same identity (or its channel is closed). A registration from this
 * node itself (no connection or channel delivered it) lives until the service stops.
 *
 * Refusals. A refused registration is answered with the BARE string `relay registration refused:
 * <reason>`, sent from the service's address along the return route (ours: Ockam Rust drops a
 * refused registration without a word). An Ockam Rust registrant takes that answer as
 * `InvalidResponseFromRelayService` (it does not end with the name asked for), logs it, and its
 * registration times out, as with Rust's own service; our `createRelay` fails at once with a
 * `PortalError` of kind `permission` that quotes the reason. Where Rust would read the answer as a
 * success (a request for `"register"`, which takes any answer, or an answer that happens to end
 * with the name asked for), no answer is sent. Each reason is logged once per
 * `refusalLogIntervalMs`, never once per attempt.
 *
 * Limits: at most `maxRelays` relays (default 1,024) and `maxRelaysPerRegistrant` per identity or
 * connection (default 64); dead relays are swept before a registration is refused for either.
 *
 * Flow control: the service and every relay are consumers of `consumerOf` (where the service is
 * exposed: a TCP listener's or secure channel listener's id); so is `echo`, which the service
 * starts if the node has none, for its registrants' liveness pings. As in Ockam, when a relay forwards
 * a message it lets the replies flow back: the previous hop becomes a consumer of the
 * registrant's flow and the next hop a consumer of the sender's flow.
 *
 * @example
 * ```ts
 * import { startRelayService } from '@ockam/portals';
 * const relays = startRelayService(node, { consumerOf: [tcpListener.flowControlId] });
 * relays.relays(); // ['forward_to_default', …]
 * await relays.stop();
 * ```
 */
import {
  type Address,
  type AddressLike,
  decodeBareString,
  encodeBareString,
  type FlowControlId,
  type IncomingAccessControl,
  type LocalMessage,
  type Logger,
  LogLimiter,
  MAX_ADDRESS_LENGTH,
  type Node,
  OckamError,
  type Route,
  type RoutedMessage,
  randomHex,
  toAddress,
  type WorkerContext,
} from '@ockam/core';
import { useEcho } from './internal/echo.js';
import { errorMessage } from './internal/timers.js';

/** Ockam's `RELAY_SERVICE` and `STATIC_RELAY_SERVICE` addresses. */
export const RELAY_SERVICE = 'forwarding_service';
export const STATIC_RELAY_SERVICE = 'static_forwarding_service';
/** The prefix node managers give relay addresses. */
export const RELAY_PREFIX = 'forward_to_';
/**
 * How the answer to a refused registration begins (a BARE string; ours, not Ockam's). The rest
 * says why, in words.
 */
export const RELAY_REFUSED_PREFIX = 'relay registration refused: ';
/** Default cap on the relays one service holds at a time. */
export const DEFAULT_MAX_RELAYS = 1024;
/** Default cap on the relays one registrant (an identity, or a plain connection) holds at a time. */
export const DEFAULT_MAX_RELAYS_PER_REGISTRANT = 64;
/** Default interval within which each refusal reason is logged at most once. */
export const DEFAULT_REFUSAL_LOG_INTERVAL_MS = 60_000;

export interface RelayServiceOptions {
  /** The service address (default `forwarding_service`). */
  address?: AddressLike;
  /** Extra addresses of the same service (default `['static_forwarding_service']`). */
  aliases?: readonly AddressLike[];
  /** Prefix of relay addresses (default `forward_to_`). */
  prefix?: string;
  /** Flow-control ids whose producers may reach the service and the relays it creates. */
  consumerOf?: readonly FlowControlId[];
  /**
   * Refuse registrations that came over a transport without a secure channel (default false;
   * registrations from this node itself are still accepted). A node with an authority sets it:
   * only an identity can then hold a name.
   */
  requireSecureChannel?: boolean;
  /**
   * Decides whether a registrant may have `name` (the name requested, before the prefix).
   * Refused registrations are answered and logged (see the module comment).
   */
  authorize?: (name: string, registration: RoutedMessage) => boolean | Promise<boolean>;
  /** Checked on messages to the service. */
  incoming?: IncomingAccessControl;
  /** Checked on messages to every relay. */
  relayIncoming?: IncomingAccessControl;
  /** Most relays held at a time (default `DEFAULT_MAX_RELAYS`). */
  maxRelays?: number;
  /** Most relays one identity or one plain connection holds at a time (default `DEFAULT_MAX_RELAYS_PER_REGISTRANT`). */
  maxRelaysPerRegistrant?: number;
  /** Each refusal reason is logged at most once in this interval (default `DEFAULT_REFUSAL_LOG_INTERVAL_MS`). */
  refusalLogIntervalMs?: number;
  logger?: Logger;
}

export interface RelayService {
  readonly address: Address;
  /** The addresses of the relays alive now. */
  relays(): string[];
  /** Stops the service and every relay it created. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Who registered a relay. */
interface Registrant {
  /** The secure channel peer's identifier; undefined for a plain (no channel) registration. */
  readonly identifier: string | undefined;
  /**
   * The local worker the registration came through (the channel's encryptor, the connection's
   * sender): the relay lives as long as it does, and plain registrants are told apart by it.
   * Undefined for a registration from this node itself (no connection or channel delivered it),
   * whose relay lives until it is stopped.
   */
  readonly via: Address | undefined;
  /**
   * For a plain registration through a datagram bind shared by many peers, the peer's transport
   * address, the hop after `via` (`[sender, 2#host:port, …]`, PROTOCOL.md §2.2).
   */
  readonly peer?: string;
}

interface RelayEntry {
  readonly address: Address;
  readonly forwardRoute: Route;
  /** The producer the registration came out of: replies from the registrant's side. */
  readonly forwardFlowId: FlowControlId | undefined;
  readonly registrant: Registrant;
  /** Set once the relay worker is being stopped; resolves when it has. */
  stopping?: Promise<unknown>;
}

type Refusal =
  | 'malformed'
  | 'invalid-name'
  | 'secure-channel-required'
  | 'indirect'
  | 'not-authorized'
  | 'name-held'
  | 'address-taken'
  | 'too-many-relays'
  | 'too-many-relays-for-registrant';

/** What a refused registrant is told; never ends with a name a registrant could ask for by chance. */
const REFUSALS: Record<Refusal, string> = {
  malformed: 'the registration is not a BARE string',
  'invalid-name': 'the name is empty, too long or contains #',
  'secure-channel-required': 'this node accepts relay registrations through secure channels only',
  indirect: 'a registration without a secure channel must come straight from its connection',
  'not-authorized': 'not authorized for this name',
  'name-held': 'the name is held by another registrant',
  'address-taken': 'the relay address is in use by another worker',
  'too-many-relays': 'this node holds as many relays as it allows',
  'too-many-relays-for-registrant': 'this registrant holds as many relays as the node allows',
};

function sameRegistrant(a: Registrant, b: Registrant): boolean {
  if (a.identifier !== undefined || b.identifier !== undefined) return a.identifier === b.identifier;
  return a.via?.key === b.via?.key && a.peer === b.peer;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a whole number ≥ 1`);
  return value;
}

export function startRelayService(node: Node, options: RelayServiceOptions = {}): RelayService {
  const address = toAddress(options.address ?? RELAY_SERVICE);
  const aliases = (options.aliases ?? [STATIC_RELAY_SERVICE]).map(toAddress);
  const prefix = options.prefix ?? RELAY_PREFIX;
  const consumerOf = [...(options.consumerOf ?? [])];
  const logger = options.logger ?? node.logger;
  const maxRelays = positive(options.maxRelays, DEFAULT_MAX_RELAYS, 'maxRelays');
  const maxPerRegistrant = positive(
    options.maxRelaysPerRegistrant,
    DEFAULT_MAX_RELAYS_PER_REGISTRANT,
    'maxRelaysPerRegistrant',
  );
  // Reasons come from the fixed set `REFUSALS`, so the limiter's kinds stay few.
  const refusals = new LogLimiter(logger, options.refusalLogIntervalMs ?? DEFAULT_REFUSAL_LOG_INTERVAL_MS);
  const relays = new Map<string, RelayEntry>();
  const fc = node.flowControls;

  const registrantAlive = (r: Registrant): boolean => r.via === undefined || node.has(r.via);
  const alive = (entry: RelayEntry): boolean =>
    entry.stopping === undefined && node.has(entry.address) && registrantAlive(entry.registrant);
  const describe = (r: Registrant | undefined): string =>
    r === undefined ? 'unknown' : (r.identifier ?? (r.via === undefined ? 'this node' : 'plain connection'));

  /** Stops a relay worker once; every caller waits for the same stop. */
  const stopRelay = (entry: RelayEntry): Promise<unknown> => {
    if (relays.get(entry.address.value) === entry) relays.delete(entry.address.value);
    entry.stopping ??= node.stopWorker(entry.address);
    return entry.stopping;
  };

  /** Stops the relays whose registrant is gone. */
  const sweep = (): void => {
    for (const entry of [...relays.values()]) if (!alive(entry)) void stopRelay(entry);
  };

  const refuse = async (
    ctx: WorkerContext,
    message: LocalMessage,
    reason: Refusal,
    requested: string | undefined,
    registrant: Registrant | undefined,
  ): Promise<void> => {
    refusals.warn(reason, `relay registration refused: ${REFUSALS[reason]}`, {
      reason,
      ...(requested !== undefined ? { name: requested.slice(0, 64) } : {}),
      registrant: describe(registrant),
    });
    const answer = RELAY_REFUSED_PREFIX + REFUSALS[reason];
    // Ockam Rust's registrant (§8) takes any answer to "register", and any answer that ends with
    // the name it asked for, as a success: those get no answer.
    if (requested === 'register' || (requested !== undefined && answer.endsWith(requested))) return;
    try {
      await ctx.send(message.returnRoute, encodeBareString(answer));
    } catch {
      // The registrant is gone: nothing to tell.
    }
  };

  const startRelay = async (registration: RoutedMessage, name: string, registrant: Registrant) => {
    const relayAddress = toAddress(prefix + name);
    const message = registration.message;
    const entry: RelayEntry = {
      address: relayAddress,
      // The route to the registrant's node, without the registrant itself.
      forwardRoute: message.returnRoute.popBack(),
      forwardFlowId: message.localInfo.flowControlId,
      registrant,
    };
    const ctx = node.startWorker(
      relayAddress,
      {
        handleMessage: (ctx, { message }) => forward(entry, message, (m) => ctx.forward(m)),
        shutdown: () => {
          if (relays.get(relayAddress.value) === entry) relays.delete(relayAddress.value);
        },
      },
      options.relayIncoming ? { incoming: options.relayIncoming } : {},
    );
    relays.set(relayAddress.value, entry);
    for (const id of consumerOf) fc.addConsumer(relayAddress, id);
    logger.info('relay created', {
      relay: relayAddress.value,
      registrant: describe(registrant),
      route: message.returnRoute.toString(),
    });
    // PROTOCOL.md §8: the relay announces its address to the registrant, from that address.
    try {
      await ctx.send(message.returnRoute, encodeBareString(relayAddress.value));
    } catch (e) {
      logger.warn('relay could not answer its registrant', {
        relay: relayAddress.value,
        error: errorMessage(e),
      });
      await stopRelay(entry);
    }
  };

  const forward = async (
    entry: RelayEntry,
    message: LocalMessage,
    send: (m: LocalMessage) => Promise<void>,
  ): Promise<void> => {
    if (!registrantAlive(entry.registrant)) {
      logger.info('relay stopped: its registrant is gone', { relay: entry.address.value });
      // Detached: stopping waits for this handler to return.
      void stopRelay(entry);
      return;
    }
    const onward = entry.forwardRoute.concat(message.onwardRoute.popFront());
    const next = onward.addresses[0];
    const previous = message.returnRoute.addresses[0];
    // Replies travel the return route, not through the relay: let each side's hop reach the other.
    if (
      previous !== undefined &&
      entry.forwardFlowId !== undefined &&
      !fc.isConsumer(previous, entry.forwardFlowId)
    )
      fc.addConsumer(previous, entry.forwardFlowId);
    const senderFlow = message.localInfo.flowControlId;
    if (next !== undefined && senderFlow !== undefined && !fc.isConsumer(next, senderFlow))
      fc.addConsumer(next, senderFlow);
    try {
      await send(message.withOnward(onward));
    } catch (e) {
      if (OckamError.isKind(e, 'not-found')) {
        // The registrant's route is gone: so is this relay.
        logger.info('relay stopped: its registrant is unreachable', { relay: entry.address.value });
        void stopRelay(entry);
        return;
      }
      throw e;
    }
  };

  const register = async (ctx: WorkerContext, routed: RoutedMessage): Promise<void> => {
    const message = routed.message;
    const first = message.returnRoute.addresses[0];
    // Nowhere to answer, nothing to forward to: not a registration.
    if (first === undefined) return;
    const info = message.localInfo;
    const encryptor = info.secureChannelEncryptor;
    const local = info.flowControlId === undefined && info.secureChannelIdentifier === undefined;
    const second = message.returnRoute.addresses[1];
    const registrant: Registrant =
      info.secureChannelIdentifier !== undefined
        ? {
            identifier: info.secureChannelIdentifier,
            via: typeof encryptor === 'string' && encryptor !== '' ? toAddress(encryptor) : first,
          }
        : local
          ? { identifier: undefined, via: undefined }
          : {
              identifier: undefined,
              via: first,
              ...(second !== undefined && !second.isLocal ? { peer: second.toString() } : {}),
            };
    let requested: string;
    try {
      requested = decodeBareString(message.payload, 'relay registration');
    } catch {
      return refuse(ctx, message, 'malformed', undefined, registrant);
    }
    const name = requested === 'register' ? randomHex(16) : requested;
    if (name.length === 0 || prefix.length + name.length > MAX_ADDRESS_LENGTH || name.includes('#'))
      return refuse(ctx, message, 'invalid-name', requested, registrant);
    if (registrant.identifier === undefined && registrant.via !== undefined) {
      if (options.requireSecureChannel)
        return refuse(ctx, message, 'secure-channel-required', requested, registrant);
      // A plain registrant is known by its connection: the registration must come straight out
      // of it, not through a forwarding worker of this node (`hop`), whose address would stand in
      // for every connection behind it and never go away.
      if (fc.producer(routed.source) === undefined)
        return refuse(ctx, message, 'indirect', requested, registrant);
    }
    if (options.authorize !== undefined) {
      let allowed: boolean;
      try {
        allowed = await options.authorize(name, routed);
      } catch (e) {
        logger.warn('relay authorization failed; denying', { name, error: errorMessage(e) });
        allowed = false;
      }
      if (!allowed) return refuse(ctx, message, 'not-authorized', requested, registrant);
    }
    const relayAddress = toAddress(prefix + name);
    const existing = relays.get(relayAddress.value);
    if (existing !== undefined) {
      if (alive(existing) && !sameRegistrant(existing.registrant, registrant))
        return refuse(ctx, message, 'name-held', requested, registrant);
      // Its registrant again (a new route), or a relay whose registrant is gone: replace it.
      logger.info(
        alive(existing)
          ? 'relay registered again by its registrant; the new route replaces the old one'
          : 'relay replaced: its registrant was gone',
        { relay: relayAddress.value },
      );
      await stopRelay(existing);
    } else if (node.has(relayAddress)) {
      return refuse(ctx, message, 'address-taken', requested, registrant);
    }
    const held = () => [...relays.values()].filter((e) => sameRegistrant(e.registrant, registrant)).length;
    if (relays.size >= maxRelays || held() >= maxPerRegistrant) sweep();
    if (relays.size >= maxRelays) return refuse(ctx, message, 'too-many-relays', requested, registrant);
    if (held() >= maxPerRegistrant)
      return refuse(ctx, message, 'too-many-relays-for-registrant', requested, registrant);
    await startRelay(routed, name, registrant);
  };

  node.startWorker(
    [
      { address, ...(options.incoming ? { incoming: options.incoming } : {}) },
      ...aliases.map((a) => ({ address: a, ...(options.incoming ? { incoming: options.incoming } : {}) })),
    ],
    { handleMessage: register },
  );
  for (const a of [address, ...aliases]) for (const id of consumerOf) fc.addConsumer(a, id);
  // Registrants' sessions ping `echo` here (PROTOCOL.md §8, refresh): answer them.
  const releaseEcho = useEcho(node, consumerOf);
  logger.info('relay service started', { address: address.value });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await node.stopWorker(address);
      await releaseEcho();
      await Promise.all([...relays.values()].map(stopRelay));
    })();
    return stopping;
  };
  return {
    address,
    relays: () => {
      sweep();
      return [...relays.keys()];
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
