/**
 * The relay service (PROTOCOL.md §8, service side): a worker at `forwarding_service` (alias
 * `static_forwarding_service`) whose message is a BARE string, `"register"` for a random name or
 * the name wanted. It starts a relay worker at `forward_to_<name>` which, on start, sends the BARE
 * string of its own address back along the registration's return route, from that address; it
 * then keeps that route minus its last hop (the registrant) as `forward_route`, and forwards
 * every message addressed to it by replacing itself with `forward_route`. A relay only ever sees
 * what its clients send — ciphertext, when they run a secure channel through it.
 *
 * Registering a name that is already in use replaces the old relay (a registrant reconnecting
 * after its connection died must get its name back). Guard names with `authorize` (the node
 * checks the `ockam-relay` credential attribute there).
 *
 * Flow control: the service and every relay are consumers of `consumerOf` (where the service is
 * exposed: a TCP listener's or secure channel listener's id). As in Ockam, when a relay forwards
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
  MAX_ADDRESS_LENGTH,
  type Node,
  OckamError,
  type Route,
  type RoutedMessage,
  randomHex,
  toAddress,
} from '@ockam/core';
import { errorMessage } from './internal/timers.js';

/** Ockam's `RELAY_SERVICE` and `STATIC_RELAY_SERVICE` addresses. */
export const RELAY_SERVICE = 'forwarding_service';
export const STATIC_RELAY_SERVICE = 'static_forwarding_service';
/** The prefix node managers give relay addresses. */
export const RELAY_PREFIX = 'forward_to_';

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
   * Decides whether a registrant may have `name` (the name requested, before the prefix).
   * Refused registrations are dropped with a warning, as in Ockam.
   */
  authorize?: (name: string, registration: RoutedMessage) => boolean | Promise<boolean>;
  /** Checked on messages to the service. */
  incoming?: IncomingAccessControl;
  /** Checked on messages to every relay. */
  relayIncoming?: IncomingAccessControl;
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

interface RelayEntry {
  readonly address: Address;
  readonly forwardRoute: Route;
  /** The producer the registration came out of: replies from the registrant's side. */
  readonly forwardFlowId: FlowControlId | undefined;
}

export function startRelayService(node: Node, options: RelayServiceOptions = {}): RelayService {
  const address = toAddress(options.address ?? RELAY_SERVICE);
  const aliases = (options.aliases ?? [STATIC_RELAY_SERVICE]).map(toAddress);
  const prefix = options.prefix ?? RELAY_PREFIX;
  const consumerOf = [...(options.consumerOf ?? [])];
  const logger = options.logger ?? node.logger;
  const relays = new Map<string, RelayEntry>();
  const fc = node.flowControls;

  const startRelay = async (registration: RoutedMessage, name: string): Promise<void> => {
    const relayAddress = toAddress(prefix + name);
    const existing = relays.get(relayAddress.value);
    if (existing !== undefined) {
      logger.info('relay re-registered; replacing the old one', { relay: relayAddress.value });
      await node.stopWorker(existing.address);
    } else if (node.has(relayAddress)) {
      logger.warn('relay registration refused: the address is taken by another worker', {
        relay: relayAddress.value,
      });
      return;
    }
    const message = registration.message;
    const entry: RelayEntry = {
      address: relayAddress,
      // The route to the registrant's node, without the registrant itself.
      forwardRoute: message.returnRoute.popBack(),
      forwardFlowId: message.localInfo.flowControlId,
    };
    const ctx = node.startWorker(
      relayAddress,
      {
        handleMessage: (ctx, { message }) => forward(ctx.address, entry, message, (m) => ctx.forward(m)),
        shutdown: () => {
          if (relays.get(relayAddress.value) === entry) relays.delete(relayAddress.value);
        },
      },
      options.relayIncoming ? { incoming: options.relayIncoming } : {},
    );
    relays.set(relayAddress.value, entry);
    for (const id of consumerOf) fc.addConsumer(relayAddress, id);
    logger.info('relay created', { relay: relayAddress.value, route: message.returnRoute.toString() });
    // PROTOCOL.md §8: the relay announces its address to the registrant, from that address.
    try {
      await ctx.send(message.returnRoute, encodeBareString(relayAddress.value));
    } catch (e) {
      logger.warn('relay could not answer its registrant', {
        relay: relayAddress.value,
        error: errorMessage(e),
      });
      await node.stopWorker(relayAddress);
    }
  };

  const forward = async (
    self: Address,
    entry: RelayEntry,
    message: LocalMessage,
    send: (m: LocalMessage) => Promise<void>,
  ): Promise<void> => {
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
        // The registrant's connection is gone: so is this relay.
        logger.info('relay stopped: its registrant is unreachable', { relay: self.value });
        void node.stopWorker(self);
        return;
      }
      throw e;
    }
  };

  node.startWorker(
    [
      { address, ...(options.incoming ? { incoming: options.incoming } : {}) },
      ...aliases.map((a) => ({ address: a, ...(options.incoming ? { incoming: options.incoming } : {}) })),
    ],
    {
      async handleMessage(_ctx, routed) {
        const message = routed.message;
        let requested: string;
        try {
          requested = decodeBareString(message.payload, 'relay registration');
        } catch (e) {
          logger.warn('relay service dropped a registration that is not a BARE string', {
            error: errorMessage(e),
          });
          return;
        }
        if (message.returnRoute.isEmpty) return;
        const name = requested === 'register' ? randomHex(16) : requested;
        if (name.length === 0 || prefix.length + name.length > MAX_ADDRESS_LENGTH || name.includes('#')) {
          logger.warn('relay service dropped a registration with an invalid name', { length: name.length });
          return;
        }
        if (options.authorize !== undefined) {
          let allowed: boolean;
          try {
            allowed = await options.authorize(name, routed);
          } catch (e) {
            logger.warn('relay authorization failed; denying', { name, error: errorMessage(e) });
            allowed = false;
          }
          if (!allowed) {
            logger.warn('relay registration not authorized, dropping', { name });
            return;
          }
        }
        await startRelay(routed, name);
      },
    },
  );
  for (const a of [address, ...aliases]) for (const id of consumerOf) fc.addConsumer(a, id);
  logger.info('relay service started', { address: address.value });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await node.stopWorker(address);
      await Promise.all([...relays.values()].map((r) => node.stopWorker(r.address)));
    })();
    return stopping;
  };
  return {
    address,
    relays: () => [...relays.keys()],
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
