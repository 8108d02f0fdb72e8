/**
 * UDP on a node (PROTOCOL.md §2.2): `ockam node create --udp` registers the UDP transport and
 * listens for puncture negotiations at `udp`; `ockam rendezvous create` runs a rendezvous
 * service on a UDP address; `tcp-inlet create --udp` makes an inlet whose portal runs over a
 * punched UDP path, falling back to the relayed route (unless `--no-tcp-fallback`).
 *
 * The inlet's route for `--udp`: for `…/secure/api/service/outlet` through a relay, a first channel
 * over the relay carries the puncture negotiation; a second channel runs through a fallback hop
 * that prefers the puncture, once it is open; the portal uses the second channel.
 */
import {
  Address,
  type FlowControlId,
  type Logger,
  MultiAddr,
  type Node,
  OckamError,
  Route,
  UDP,
} from '@ockam/core';
import type { RouteConnection } from '@ockam/portals';
import {
  createPunctureFallback,
  negotiatePuncture,
  type PunctureFallback,
  rendezvousRoute,
  startPunctureNegotiationListener,
  startRendezvousService,
  UdpTransport,
} from '@ockam/transport-udp';
import { type RouteContext, resolveMultiaddr } from './route-resolver.js';
import type { SecureChannels } from './secure-channels.js';

export interface UdpOptions {
  /** Where the rendezvous service is (HOST:PORT over UDP); default `$OCKAM_RENDEZVOUS_SERVER`. */
  rendezvous?: string;
  /** Run a rendezvous service on this node, bound to this UDP address. */
  rendezvousService?: string;
}

export class NodeUdp {
  readonly transport: UdpTransport;
  readonly #node: Node;
  readonly #rendezvous: string | undefined;
  #stops: Array<() => Promise<void> | void> = [];
  readonly fallbacks = new Set<PunctureFallback>();

  constructor(node: Node, options: UdpOptions, logger?: Logger) {
    this.#node = node;
    this.transport = new UdpTransport(node, logger ? { logger } : {});
    node.registerTransport(this.transport);
    this.#rendezvous = options.rendezvous ?? process.env.OCKAM_RENDEZVOUS_SERVER;
  }

  get rendezvous(): string | undefined {
    return this.#rendezvous;
  }

  /** Starts the rendezvous service on a UDP bind, and the negotiation listener when a rendezvous is known. */
  async start(
    options: UdpOptions,
    channels: SecureChannels,
    services: string[],
  ): Promise<{ rendezvousAddress?: string }> {
    let rendezvousAddress: string | undefined;
    if (options.rendezvousService) {
      const bind = await this.transport.bind(options.rendezvousService);
      const svc = startRendezvousService(this.#node, { exposeTo: [bind.flowControlId] });
      this.#stops.push(
        () => svc.stop(),
        () => bind.close(),
      );
      rendezvousAddress = `${bind.localAddress.host}:${bind.localAddress.port}`;
    }
    if (this.#rendezvous) {
      const listener = startPunctureNegotiationListener(this.transport, {
        rendezvousRoute: rendezvousRoute(this.#rendezvous),
        consumerOf: channels.listenerFlowControlIds(),
      });
      // What arrives through punctures may reach the channel listeners and services, like TCP.
      for (const s of ['api', ...services]) this.#node.flowControls.addConsumer(s, listener.flowControlId);
      this.#stops.push(() => listener.stop());
    }
    return rendezvousAddress ? { rendezvousAddress } : {};
  }

  /** The route connection of a `--udp` inlet (see the module comment). */
  async connectInlet(
    ctx: RouteContext,
    to: string,
    options: { authorized?: string[]; fallback: boolean; timeoutMs: number },
  ): Promise<RouteConnection> {
    if (!this.#rendezvous)
      throw new OckamError(
        'node',
        'invalid',
        "'--udp' needs a rendezvous service: start the node with --rendezvous HOST:PORT or set OCKAM_RENDEZVOUS_SERVER",
      );
    const c = MultiAddr.parse(to).components;
    const last = c.map((x) => x.protocol).lastIndexOf('secure');
    if (last < 0)
      throw new OckamError(
        'node',
        'invalid',
        `'--udp' needs a route with /secure/… to the outlet's node, got ${to}`,
      );
    const prefix = c
      .slice(0, last)
      .map((x) => `/${x.protocol}/${x.value}`)
      .join('');
    const listener = c[last]!.value;
    const rest = c.slice(last + 1).map((x) => Address.local(x.value));
    const relayed = await resolveMultiaddr(ctx, prefix || '/service/echo', {});
    const negotiation = await resolveMultiaddr(ctx, `${prefix}/secure/${listener}`, {
      timeoutMs: options.timeoutMs,
      ...(options.authorized ? { authorized: options.authorized } : {}),
    });
    const rendezvous = rendezvousRoute(this.#rendezvous);
    const fallback = await createPunctureFallback(this.#node, {
      relayRoute: relayed.route,
      punch: (request) =>
        negotiatePuncture(this.transport, {
          ...request,
          route: new Route([...negotiation.route.addresses, Address.local('udp')]),
          rendezvousRoute: rendezvous,
          consumerOf: negotiation.flowControlId ? [negotiation.flowControlId] : [],
        }),
      fallback: options.fallback,
      openTimeoutMs: options.timeoutMs,
    });
    this.fallbacks.add(fallback);
    const release = async () => {
      this.fallbacks.delete(fallback);
      await fallback.stop();
      await negotiation.close?.('stopped');
      await relayed.close?.('stopped');
    };
    try {
      // Open the portal's channel once the puncture is up, so that it follows the puncture.
      const deadline = Date.now() + options.timeoutMs;
      while (fallback.mode !== 'puncture' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      if (fallback.mode !== 'puncture' && !options.fallback)
        throw new OckamError(
          'transport',
          'timeout',
          `No UDP puncture to the outlet's node within ${options.timeoutMs} ms (and --no-tcp-fallback)`,
        );
      const consumerOf: FlowControlId[] = [
        fallback.flowControlId,
        ...(relayed.flowControlId ? [relayed.flowControlId] : []),
      ];
      const info = await ctx.channels.createChannel({
        route: new Route([fallback.address, Address.local(listener)]),
        timeoutMs: options.timeoutMs,
        consumerOf,
        ...(options.authorized ? { authorized: options.authorized } : {}),
      });
      const channel = ctx.channels.handle(info.address);
      return {
        route: new Route([Address.local(info.address), ...rest]),
        flowControlId: channel.flowControlId,
        close: async () => {
          await ctx.channels.deleteChannel(info.address).catch(() => {});
          await release();
        },
      };
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** Counters of all binds (datagrams and bytes in and out). */
  stats() {
    return this.transport.stats();
  }

  async stop(): Promise<void> {
    for (const f of this.fallbacks) await f.stop().catch(() => {});
    for (const s of this.#stops.reverse()) await Promise.resolve(s()).catch(() => {});
    await this.transport.stop();
  }
}

export const UDP_TYPE = UDP;
