/**
 * A node's TCP outlets, TCP inlets and relays (PROTOCOL.md §7, §8), for the control API. Each is
 * saved in the state database when created and recreated when the node starts again, so a node
 * killed with SIGKILL comes back with its portals.
 */
import { randomBytes } from 'node:crypto';
import {
  type FlowControlId,
  type IncomingAccessControl,
  type Logger,
  type Node,
  OckamError,
  parseHostPort,
} from '@ockam/core';
import type { RouteConnection } from '@ockam/portals';
import {
  createInlet,
  createOutlet,
  createRelay,
  type Inlet,
  type Outlet,
  type Relay,
  type RelayService,
  type RelayServiceOptions,
  type SessionOptions,
  startRelayService,
} from '@ockam/portals';
import type { TcpTransport } from '@ockam/transport-tcp';
import type { NodeRecords } from './memory-state.js';
import { type ResolveOptions, type RouteContext, resolveMultiaddr } from './route-resolver.js';
import type { SecureChannels } from './secure-channels.js';

export interface OutletConfig {
  /**
   * Worker address of the outlet. If omitted: `outlet` when that address is free, else a random
   * one (as Ockam's nodes choose).
   */
  address?: string;
  /** HOST:PORT of the TCP service. */
  to: string;
  allow?: string;
}

export interface InletConfig {
  name: string;
  /** HOST:PORT to listen on (port 0: any). */
  from: string;
  /** Multiaddr to the outlet. */
  to: string;
  authorized?: string[];
  /** Identity the inlet's secure channels present (the node's identity if omitted). */
  identity?: string;
  allow?: string;
  /** Wait for a route that is down before refusing a client (ms). */
  connectionWaitMs?: number;
  /** Longest pause between attempts to rebuild a route that is down (ms; the session's default if omitted). */
  retryWaitMs?: number;
  /** Return once bound, without waiting for the first attempt at the route (`--no-connection-wait`). */
  noConnectionWait?: boolean;
  /** Run the portal over a punched UDP path (`--udp`). */
  udp?: boolean;
  /** With `udp`: no relayed fallback while there is no puncture (`--no-tcp-fallback`). */
  noTcpFallback?: boolean;
}

export interface RelayConfig {
  name: string;
  /** Multiaddr of the relay node. */
  at: string;
  authorized?: string[];
  /** Return at once and register in the background, instead of failing when the first try fails. */
  noConnectionWait?: boolean;
}

/** Limits of the node's relay service (`OCKAM_MAX_RELAYS`, `OCKAM_MAX_RELAYS_PER_REGISTRANT`). */
export type RelayLimits = Pick<RelayServiceOptions, 'maxRelays' | 'maxRelaysPerRegistrant'>;

export interface OutletInfo extends OutletConfig {
  address: string;
  connections: number;
}

export interface InletInfo extends InletConfig {
  /** The bound address (the actual port). */
  bound: string;
  status: string;
  route: string | null;
  connections: number;
  reconnects: number;
}

export interface RelayInfo extends RelayConfig {
  status: string;
  remoteAddress: string;
  /** The route to the relay node in use (`0#… => 0#…`), while up. */
  route: string | null;
  reconnects: number;
}

export interface PortalsOptions {
  node: Node;
  nodeName: string;
  state: NodeRecords;
  tcp: TcpTransport;
  channels: SecureChannels;
  /** Flow-control ids whose producers may reach outlets and the relay service (listeners). */
  exposedTo: () => FlowControlId[];
  /** Access control for a resource, from its policy (ABAC); allow-all when the node has no authority and no policy. */
  accessControl?: (
    kind: 'tcp-inlet' | 'tcp-outlet',
    name: string,
    allow: string | undefined,
  ) => Promise<IncomingAccessControl | undefined>;

  /**
   * Services that messages arriving through this node's relays may reach besides `api` (the
   * standard services on a node without an authority, as its TCP listener exposes them).
   */
  relayServices?: () => string[];
  /** Resolves `/project/NAME`. */
  project?: RouteContext['project'];
  /** Builds the route of a `--udp` inlet. */
  udpConnect?: (
    to: string,
    options: { authorized?: string[]; fallback: boolean; timeoutMs: number },
  ) => Promise<RouteConnection>;
  /** Decides relay registrations (the `ockam-relay` attribute with an authority). */
  authorizeRelay?: (name: string, peer: string | undefined) => boolean | Promise<boolean>;
  /** Refuse relay registrations that do not come through a secure channel (a node with an authority). */
  relaysRequireSecureChannel?: boolean;
  /** Limits of the relay service (its defaults if omitted). */
  relayLimits?: RelayLimits;
  session?: SessionOptions;
  logger?: Logger;
}

/**
 * Handshake timeout for channels that inlets and relays build: a handshake whose first message was
 * lost (the relay on the way not registered yet) is retried by the session after this, instead
 * of Ockam's 120 s channel default.
 */
const SESSION_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The address of the first outlet created without one (Ockam's `/service/outlet`). */
const DEFAULT_OUTLET_ADDRESS = 'outlet';

function conflict(message: string): OckamError {
  return new OckamError('node', 'already-exists', message);
}

export class Portals {
  readonly #o: PortalsOptions;
  readonly #outlets = new Map<string, { config: OutletConfig; outlet: Outlet }>();
  readonly #inlets = new Map<string, { config: InletConfig; inlet: Inlet }>();
  readonly #relays = new Map<string, { config: RelayConfig; relay: Relay }>();
  #relayService: RelayService | undefined;

  constructor(options: PortalsOptions) {
    this.#o = options;
  }

  get #routeContext(): RouteContext {
    return {
      nodeName: this.#o.nodeName,
      state: this.#o.state,
      tcp: this.#o.tcp,
      channels: this.#o.channels,
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      ...(this.#o.project ? { project: this.#o.project } : {}),
    };
  }

  /** Starts the relay service (every node offers one, as in Ockam) and recreates saved resources. */
  async start(): Promise<void> {
    this.#relayService = startRelayService(this.#o.node, {
      consumerOf: this.#o.exposedTo(),
      requireSecureChannel: this.#o.relaysRequireSecureChannel ?? false,
      ...this.#o.relayLimits,
      ...(this.#o.authorizeRelay
        ? {
            authorize: (name: string, m: { message: { localInfo: { secureChannelIdentifier?: string } } }) =>
              this.#o.authorizeRelay!(name, m.message.localInfo.secureChannelIdentifier),
          }
        : {}),
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    for (const s of ['forwarding_service', 'static_forwarding_service']) this.#o.channels.exposeService(s);
    for (const r of this.#o.state.listResources(this.#o.nodeName)) {
      try {
        if (r.kind === 'tcp-outlet') await this.createOutlet(r.config as OutletConfig, false);
        else if (r.kind === 'tcp-inlet') await this.createInlet(r.config as InletConfig, false);
        else if (r.kind === 'relay') await this.createRelay(r.config as RelayConfig, false);
      } catch (e) {
        this.#o.logger?.error('could not recreate a saved resource', {
          kind: r.kind,
          name: r.name,
          error: (e as Error).message,
        });
      }
    }
  }

  relayNames(): string[] {
    return this.#relayService?.relays() ?? [];
  }

  // ---- outlets ----

  async createOutlet(requested: OutletConfig, save = true): Promise<OutletInfo> {
    parseHostPort(requested.to);
    const address = requested.address ?? this.#defaultOutletAddress();
    const config = { ...requested, address };
    if (this.#outlets.has(address) || this.#o.node.has(address)) {
      throw conflict(`Address ${address} is already in use on node ${this.#o.nodeName}`);
    }
    const incoming = await this.#o.accessControl?.('tcp-outlet', address, config.allow);
    const outlet = createOutlet(this.#o.node, {
      address,
      to: config.to,
      consumerOf: this.#o.exposedTo(),
      ...(incoming ? { incoming } : {}),
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    this.#o.channels.exposeService(config.address);
    this.#outlets.set(config.address, { config, outlet });
    if (save) this.#o.state.saveResource(this.#o.nodeName, 'tcp-outlet', config.address, config);
    this.#o.logger?.info('tcp outlet created', { address: config.address, to: config.to });
    return this.outlet(config.address);
  }

  /** `outlet` for the first outlet created without an address, a random address after it. */
  #defaultOutletAddress(): string {
    const taken = (a: string) => this.#outlets.has(a) || this.#o.node.has(a);
    if (!taken(DEFAULT_OUTLET_ADDRESS)) return DEFAULT_OUTLET_ADDRESS;
    let a: string;
    do a = randomBytes(8).toString('hex');
    while (taken(a));
    return a;
  }

  outlet(address: string): OutletInfo {
    const o = this.#outlets.get(address);
    if (!o)
      throw new OckamError(
        'node',
        'not-found',
        `The TCP outlet ${address} was not found on node ${this.#o.nodeName}`,
      );
    return { ...o.config, address, connections: o.outlet.connections() };
  }

  outlets(): OutletInfo[] {
    return [...this.#outlets.keys()].map((a) => this.outlet(a));
  }

  async deleteOutlet(address: string): Promise<void> {
    const o = this.#outlets.get(address);
    if (!o)
      throw new OckamError(
        'node',
        'not-found',
        `The TCP outlet ${address} was not found on node ${this.#o.nodeName}`,
      );
    this.#outlets.delete(address);
    this.#o.state.deleteResource(this.#o.nodeName, 'tcp-outlet', address);
    await o.outlet.stop();
  }

  // ---- inlets ----

  async createInlet(config: InletConfig, save = true): Promise<InletInfo> {
    if (this.#inlets.has(config.name))
      throw conflict(`TCP inlet ${config.name} already exists on node ${this.#o.nodeName}`);
    const resolve: ResolveOptions = {
      timeoutMs: SESSION_HANDSHAKE_TIMEOUT_MS,
      ...(config.authorized?.length ? { authorized: config.authorized } : {}),
      ...(config.identity ? { identity: config.identity } : {}),
    };
    const incoming = await this.#o.accessControl?.('tcp-inlet', config.name, config.allow);
    const inlet = await createInlet(this.#o.node, {
      bind: config.from,
      route: config.udp
        ? () => {
            if (!this.#o.udpConnect)
              throw new OckamError('node', 'invalid', "'--udp' needs a node created with --udp");
            return this.#o.udpConnect(config.to, {
              ...(config.authorized?.length ? { authorized: config.authorized } : {}),
              fallback: !config.noTcpFallback,
              timeoutMs: SESSION_HANDSHAKE_TIMEOUT_MS,
            });
          }
        : () => resolveMultiaddr(this.#routeContext, config.to, resolve),
      ...(config.connectionWaitMs !== undefined ? { connectionWaitMs: config.connectionWaitMs } : {}),
      ...(config.noConnectionWait ? { waitForRoute: false } : {}),
      ...(this.#o.session || config.retryWaitMs !== undefined
        ? {
            session: {
              ...this.#o.session,
              ...(config.retryWaitMs !== undefined ? { retryMaxMs: config.retryWaitMs } : {}),
            },
          }
        : {}),
      ...(incoming ? { incoming } : {}),
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    this.#inlets.set(config.name, { config, inlet });
    // Saved with the port actually bound, so a restart listens where clients expect it.
    if (save)
      this.#o.state.saveResource(this.#o.nodeName, 'tcp-inlet', config.name, {
        ...config,
        from: `${inlet.address.host}:${inlet.address.port}`,
      });
    this.#o.logger?.info('tcp inlet created', {
      name: config.name,
      from: `${inlet.address.host}:${inlet.address.port}`,
      to: config.to,
    });
    return this.inlet(config.name);
  }

  inlet(name: string): InletInfo {
    const i = this.#inlets.get(name);
    if (!i)
      throw new OckamError(
        'node',
        'not-found',
        `The TCP inlet ${name} was not found on node ${this.#o.nodeName}`,
      );
    const stats = i.inlet.session.stats();
    return {
      ...i.config,
      bound: `${i.inlet.address.host}:${i.inlet.address.port}`,
      status: i.inlet.status,
      route: i.inlet.route?.toString() ?? null,
      connections: i.inlet.connections(),
      reconnects: Math.max(0, stats.connects - 1),
    };
  }

  inlets(): InletInfo[] {
    return [...this.#inlets.keys()].map((n) => this.inlet(n));
  }

  async deleteInlet(name: string): Promise<void> {
    const i = this.#inlets.get(name);
    if (!i)
      throw new OckamError(
        'node',
        'not-found',
        `The TCP inlet ${name} was not found on node ${this.#o.nodeName}`,
      );
    this.#inlets.delete(name);
    this.#o.state.deleteResource(this.#o.nodeName, 'tcp-inlet', name);
    await i.inlet.stop();
  }

  // ---- relays ----

  async createRelay(config: RelayConfig, save = true): Promise<RelayInfo> {
    if (this.#relays.has(config.name))
      throw conflict(`Relay ${config.name} already exists on node ${this.#o.nodeName}`);
    const resolve: ResolveOptions = {
      timeoutMs: SESSION_HANDSHAKE_TIMEOUT_MS,
      ...(config.authorized?.length ? { authorized: config.authorized } : {}),
    };
    const connect = async () => {
      const c = await resolveMultiaddr(this.#routeContext, config.at, resolve);
      return { ...c, ...(c.close ? { close: c.close } : {}) };
    };
    const relay = await createRelay(this.#o.node, connect, config.name, {
      // `key_exchanger` as `api`: a Kafka consumer reached through its relay (KAFKA.md §2.3) takes
      // key exchanges there; it authenticates its peers itself, as `api` does.
      exposeTo: ['api', 'key_exchanger', ...(this.#o.relayServices?.() ?? [])],
      // A saved relay recreated at start keeps trying: the relay node may be down, or still hold
      // the name for the connection this node had before it was killed.
      required: save && !config.noConnectionWait,
      ...(this.#o.session ? { session: this.#o.session } : {}),
      ...(this.#o.logger ? { logger: this.#o.logger } : {}),
    });
    this.#relays.set(config.name, { config, relay });
    if (save) this.#o.state.saveResource(this.#o.nodeName, 'relay', config.name, config);
    this.#o.logger?.info('relay created', { name: config.name, at: config.at, remote: relay.remoteAddress });
    return this.relay(config.name);
  }

  relay(name: string): RelayInfo {
    const r = this.#relays.get(name);
    if (!r)
      throw new OckamError(
        'node',
        'not-found',
        `The relay ${name} was not found on node ${this.#o.nodeName}`,
      );
    return {
      ...r.config,
      status: r.relay.status,
      remoteAddress: r.relay.remoteAddress,
      route: r.relay.route?.toString() ?? null,
      reconnects: Math.max(0, r.relay.session.stats().connects - 1),
    };
  }

  relays(): RelayInfo[] {
    return [...this.#relays.keys()].map((n) => this.relay(n));
  }

  async deleteRelay(name: string): Promise<void> {
    const r = this.#relays.get(name);
    if (!r)
      throw new OckamError(
        'node',
        'not-found',
        `The relay ${name} was not found on node ${this.#o.nodeName}`,
      );
    this.#relays.delete(name);
    this.#o.state.deleteResource(this.#o.nodeName, 'relay', name);
    await r.relay.stop();
  }

  /** Open portal connections (for metrics). */
  openConnections(): number {
    let n = 0;
    for (const o of this.#outlets.values()) n += o.outlet.connections();
    for (const i of this.#inlets.values()) n += i.inlet.connections();
    return n;
  }

  async stop(): Promise<void> {
    for (const i of this.#inlets.values()) await i.inlet.stop().catch(() => {});
    for (const r of this.#relays.values()) await r.relay.stop().catch(() => {});
    for (const o of this.#outlets.values()) await o.outlet.stop().catch(() => {});
    await this.#relayService?.stop().catch(() => {});
    this.#inlets.clear();
    this.#relays.clear();
    this.#outlets.clear();
  }
}
