/**
 * Puncture negotiation (PROTOCOL.md §2.2 steps 2–3, `puncture/negotiation/*`), over a route that
 * already reaches the peer (typically a secure channel through a relay):
 *
 * 1. the initiator binds a fresh socket, learns its public address from the rendezvous service,
 *    and sends `Initiate { its public address, its puncture's remote address }` to the peer's
 *    negotiation listener (`udp`);
 * 2. the responder does the same on its side, starts its puncture (pinging the initiator's bind
 *    until the initiator's puncture exists) and answers `Acknowledge { … }`;
 * 3. the initiator starts its puncture; both ping until pongs flow.
 *
 * Flow control: the listener is a spawner; every puncture it starts is a producer spawned by it.
 * Expose a service to all of them with `node.flowControls.addConsumer(service, listener.flowControlId)`.
 *
 * @example
 * ```ts
 * // Responder (its secure channel listener at `api` delivers the Initiate):
 * const listener = startPunctureNegotiationListener(udp, { rendezvousRoute: rendezvousRoute(server), consumerOf: [api.flowControlId] });
 * node.flowControls.addConsumer('api', listener.flowControlId); // channels may run over its punctures
 *
 * // Initiator, over a secure channel to the responder:
 * const puncture = await negotiatePuncture(udp, { route: [channel.encryptorAddress, 'udp'], rendezvousRoute: rendezvousRoute(server), consumerOf: [channel.flowControlId] });
 * await puncture.waitForOpen();
 * ```
 */
import {
  Address,
  type AddressLike,
  type FlowControlId,
  LogLimiter,
  type Node,
  OckamError,
  type RouteLike,
  TimeoutError,
  toAddress,
  toRoute,
  type WorkerContext,
} from '@ockam/core';
import { UdpTransportError } from './errors.js';
import { errorMessage } from './internal/bind.js';
import { literalUdpPeer } from './internal/peer-address.js';
import { startPuncture, type UdpPuncture, type UdpPunctureOptions } from './puncture.js';
import { decodeNegotiationMessage, encodeNegotiationMessage } from './puncture-message.js';
import { getMyAddress, RENDEZVOUS_TIMEOUT_MS } from './rendezvous.js';
import type { UdpBind } from './udp-bind.js';
import type { UdpTransport } from './udp-transport.js';

/** The negotiation listener's well-known address (`UDP_PUNCTURE_NEGOTIATION_LISTENER`). */
export const UDP_PUNCTURE_NEGOTIATION_LISTENER = 'udp';
/** How long the initiator waits for `Acknowledge` (Ockam's session replacer uses 10 s). */
export const DEFAULT_ACKNOWLEDGE_TIMEOUT_MS = 10_000;
/** Punctures a listener keeps at once; an Initiate beyond that is refused (each costs a socket). */
export const DEFAULT_MAX_PUNCTURES = 64;

/** Puncture options the negotiation passes through. */
export type PunctureTuning = Pick<UdpPunctureOptions, 'heartbeatIntervalMs' | 'closeAfterMs' | 'logger'>;

/** What a `PunctureFallback` asks of the punctures it gets: pass these on to `negotiatePuncture`. */
export interface PunctureRequest {
  spawnerFlowControlId?: FlowControlId;
  returnAddress?: AddressLike;
  signal?: AbortSignal;
}

export interface NegotiationListenerOptions extends PunctureTuning {
  /** Route to the rendezvous service after the bind's sender: `rendezvousRoute('host:port')`. */
  rendezvousRoute: RouteLike;
  /** Default `udp`. */
  address?: AddressLike;
  /** Producers allowed to deliver Initiate messages (the secure channel listener's id). */
  consumerOf?: readonly FlowControlId[];
  /** Where each puncture's bind listens (default '0.0.0.0:0'). */
  bindAddress?: string;
  maxPunctures?: number;
  rendezvousTimeoutMs?: number;
  /** Called with each puncture the listener starts. */
  onPuncture?: (puncture: UdpPuncture) => void;
}

export interface NegotiationListener {
  readonly address: Address;
  /** Spawner id of the punctures it starts. */
  readonly flowControlId: FlowControlId;
  /** Punctures started and not yet closed. */
  punctures(): UdpPuncture[];
  /** Stops the listener and every puncture it started. */
  stop(): Promise<void>;
}

/** Starts the responder side at `udp` (see the module comment). */
export function startPunctureNegotiationListener(
  udp: UdpTransport,
  options: NegotiationListenerOptions,
): NegotiationListener {
  const node = udp.node;
  const address = toAddress(options.address ?? UDP_PUNCTURE_NEGOTIATION_LISTENER);
  const flowControlId = node.flowControls.generateId();
  const maxPunctures = options.maxPunctures ?? DEFAULT_MAX_PUNCTURES;
  const logger = options.logger ?? node.logger;
  // Refusals are what a flood of requests causes: logged once a minute per reason.
  const refusals = new LogLimiter(logger);
  const punctures = new Set<UdpPuncture>();
  const tasks = new Set<Promise<void>>();
  let starting = 0;
  let stopped = false;

  const respond = async (
    ctx: WorkerContext,
    initiatorAddress: string,
    theirRemote: Address,
    returnRoute: RouteLike,
  ): Promise<void> => {
    const bind = await udp.bind(options.bindAddress ?? '0.0.0.0:0');
    let puncture: UdpPuncture;
    try {
      const mine = await getMyAddress(bind, options.rendezvousRoute, {
        timeoutMs: options.rendezvousTimeoutMs ?? RENDEZVOUS_TIMEOUT_MS,
      });
      if (stopped) throw new UdpTransportError('shutdown', 'negotiation listener stopped');
      puncture = startPuncture(bind, {
        peerUdpAddress: initiatorAddress,
        theirRemoteAddress: theirRemote,
        spawnerFlowControlId: flowControlId,
        // The initiator starts its puncture worker only once it has our Acknowledge.
        redirectFirstPingToTransport: true,
        ...tuning(options),
      });
      punctures.add(puncture);
      void puncture.closed.then(() => punctures.delete(puncture));
      await ctx.send(
        returnRoute,
        encodeNegotiationMessage({ udpPublicAddress: mine, remoteAddress: puncture.remoteAddress.value }),
      );
    } catch (e) {
      await bind.close();
      throw e;
    }
    options.onPuncture?.(puncture);
  };

  node.startWorker(address, {
    handleMessage(ctx, routed) {
      const { message } = routed;
      let initiate: ReturnType<typeof decodeNegotiationMessage>;
      try {
        initiate = decodeNegotiationMessage(message.payload, 'UDP puncture Initiate');
        if (literalUdpPeer(initiate.udpPublicAddress) === undefined)
          throw new UdpTransportError(
            'invalid',
            `initiator address '${initiate.udpPublicAddress}' is not ipv4:port`,
          );
        if (initiate.remoteAddress.length === 0)
          throw new UdpTransportError('invalid', 'empty remote address');
      } catch (e) {
        // Keyed by reason: at most a bounded number of kinds a minute, however varied the input.
        refusals.warn(errorMessage(e), 'udp puncture negotiation refused', { reason: errorMessage(e) });
        return;
      }
      if (punctures.size + starting >= maxPunctures) {
        refusals.warn('full', 'udp puncture negotiation refused', {
          reason: `already ${maxPunctures} punctures`,
        });
        return;
      }
      logger.info('udp puncture requested', { initiator: initiate.udpPublicAddress });
      // Negotiations run beside the listener, so that a slow rendezvous does not hold the others.
      starting++;
      const task = respond(
        ctx,
        initiate.udpPublicAddress,
        Address.local(initiate.remoteAddress),
        message.returnRoute,
      )
        .catch((e: unknown) =>
          logger.warn('udp puncture negotiation failed', {
            initiator: initiate.udpPublicAddress,
            reason: errorMessage(e),
          }),
        )
        .finally(() => {
          starting--;
          tasks.delete(task);
        });
      tasks.add(task);
    },
  });
  node.flowControls.addSpawner(address, flowControlId);
  for (const id of options.consumerOf ?? []) node.flowControls.addConsumer(address, id);

  return {
    address,
    flowControlId,
    punctures: () => [...punctures],
    async stop() {
      stopped = true;
      await node.stopWorker(address);
      await Promise.all([...tasks]);
      await Promise.all([...punctures].map((p) => p.stop()));
    },
  };
}

export interface NegotiatePunctureOptions extends PunctureTuning, PunctureRequest {
  /** Route to the peer's negotiation listener: `[channel.encryptorAddress, 'udp']`. */
  route: RouteLike;
  /** Route to the rendezvous service after the bind's sender: `rendezvousRoute('host:port')`. */
  rendezvousRoute: RouteLike;
  /** Producer ids the Acknowledge may come from (the secure channel's id). */
  consumerOf?: readonly FlowControlId[];
  /** Where the puncture's bind listens (default '0.0.0.0:0'). */
  bindAddress?: string;
  /** How long to wait for Acknowledge (default 10 000 ms). */
  timeoutMs?: number;
  rendezvousTimeoutMs?: number;
}

/**
 * The initiator side: negotiates and starts a puncture. It is not open yet: wait with
 * `puncture.waitForOpen()`. On failure nothing is left behind.
 */
export async function negotiatePuncture(
  udp: UdpTransport,
  options: NegotiatePunctureOptions,
): Promise<UdpPuncture> {
  const node: Node = udp.node;
  const route = await node.resolveRoute(options.route, options.signal ? { signal: options.signal } : {});
  const client = node.client();
  for (const id of options.consumerOf ?? []) node.flowControls.addConsumer(client.address, id);
  const producer = node.flowControls.producer(toRoute(route).next());
  if (producer !== undefined) node.flowControls.addConsumer(client.address, producer.flowControlId);
  let bind: UdpBind | undefined;
  try {
    bind = await udp.bind(
      options.bindAddress ?? '0.0.0.0:0',
      options.signal ? { signal: options.signal } : {},
    );
    const mine = await getMyAddress(bind, options.rendezvousRoute, {
      timeoutMs: options.rendezvousTimeoutMs ?? RENDEZVOUS_TIMEOUT_MS,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const myRemote = Address.random('udp_puncture_remote_');
    await client.send(
      route,
      encodeNegotiationMessage({ udpPublicAddress: mine, remoteAddress: myRemote.value }),
    );
    const timeoutMs = options.timeoutMs ?? DEFAULT_ACKNOWLEDGE_TIMEOUT_MS;
    let reply: Awaited<ReturnType<typeof client.receive>>;
    try {
      reply = await client.receive({ timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
    } catch (e) {
      if (OckamError.isKind(e, 'timeout'))
        throw new TimeoutError(`No UDP puncture Acknowledge within ${timeoutMs} ms`, 'transport', {
          cause: e,
        });
      throw e;
    }
    const ack = decodeNegotiationMessage(reply.payload, 'UDP puncture Acknowledge');
    if (literalUdpPeer(ack.udpPublicAddress) === undefined)
      throw new UdpTransportError('protocol', `responder address '${ack.udpPublicAddress}' is not ipv4:port`);
    return startPuncture(bind, {
      peerUdpAddress: ack.udpPublicAddress,
      theirRemoteAddress: Address.local(ack.remoteAddress),
      myRemoteAddress: myRemote,
      ...(options.spawnerFlowControlId ? { spawnerFlowControlId: options.spawnerFlowControlId } : {}),
      ...(options.returnAddress ? { returnAddress: options.returnAddress } : {}),
      ...tuning(options),
    });
  } catch (e) {
    await bind?.close();
    if (OckamError.is(e)) throw e;
    throw new UdpTransportError('protocol', `UDP puncture negotiation failed: ${errorMessage(e)}`, {
      cause: e,
    });
  } finally {
    await client.stop();
  }
}

function tuning(o: PunctureTuning): PunctureTuning {
  const t: PunctureTuning = {};
  if (o.heartbeatIntervalMs !== undefined) t.heartbeatIntervalMs = o.heartbeatIntervalMs;
  if (o.closeAfterMs !== undefined) t.closeAfterMs = o.closeAfterMs;
  if (o.logger !== undefined) t.logger = o.logger;
  return t;
}
