/**
 * `createNode()`: one Ockam node in this process, started, with typed methods for what the
 * `ockam-node` daemon offers over its control API: TCP (and WebSocket, UDP) listeners and
 * connections, secure channels and their listeners, inlets, outlets, relays, policies, trust,
 * status, workers, `send` and `request`. The daemon is this node plus a control socket.
 *
 * @example
 * ```ts
 * import { createNode } from '@ockam/node';
 * const bob = await createNode({ name: 'bob' });
 * const alice = await createNode({ name: 'alice' });
 * const channel = await alice.createSecureChannel(bob.multiaddr); // to bob's listener `api`
 * const reply = await channel.request('echo', new TextEncoder().encode('hello'));
 * await alice.stop();
 * await bob.stop();
 * ```
 */
import type { ResourcePolicy, ResourceType, ResourceTypePolicy } from '@ockam/abac';
import {
  ECHO_SERVICE,
  type FlowControlId,
  HOP_SERVICE,
  type InboundLimitsOptions,
  type LocalMessage,
  type Logger,
  MultiAddr,
  Node,
  OckamError,
  type Route,
  type RouteLike,
  startEcho,
  startHop,
  startUppercase,
  toHex,
  toRoute,
  UPPERCASE_SERVICE,
  type Worker,
  type WorkerContext,
} from '@ockam/core';
import type { SessionOptions } from '@ockam/portals';
import { Identities, OckamHome, Projects, State } from '@ockam/state';
import { type TcpConnection, type TcpListener, TcpTransport } from '@ockam/transport-tcp';
import { type WebSocketListener, WebSocketTransport } from '@ockam/transport-websocket';
import {
  type BrokerConnectionInfo,
  type BrokerKind,
  type BrokerListenerInfo,
  type BrokerOptions,
  NodeBrokers,
} from './brokers.js';
import { CleanupStack } from './cleanup.js';
import { createKafkaKeyExchange, type KafkaKeyLimits, registerKafkaNode } from './kafka-keys.js';
import {
  type KafkaInletConfig,
  type KafkaInletInfo,
  type KafkaOutletConfig,
  type KafkaOutletInfo,
  type KafkaServiceStatus,
  KafkaServices,
} from './kafka-services.js';
import { MemoryIdentities, NO_RECORDS, type NodeIdentities, type NodeRecords } from './memory-state.js';
import { type Metric, nodeMetrics } from './metrics.js';
import {
  type InletConfig,
  type InletInfo,
  type OutletConfig,
  type OutletInfo,
  Portals,
  type RelayConfig,
  type RelayInfo,
  type RelayLimits,
} from './portals.js';
import { type ResolveOptions, type RouteContext, resolveMultiaddr } from './route-resolver.js';
import {
  type ChannelInfo,
  type HandshakeLimits,
  type ListenerInfo,
  SecureChannels,
} from './secure-channels.js';
import { NodeTrust, type TrustConfig, type TrustOptions } from './trust.js';
import { NodeUdp, type UdpOptions } from './udp.js';
import { WorkerMessageTotals } from './worker-kinds.js';

export interface NodeOptions {
  /** The node's name in its state (default `node`); `/node/NAME` multiaddrs name nodes of the same state. */
  name?: string;
  /**
   * Where identities, vaults, projects and saved portals live (`@ockam/state`, SQLite). Default:
   * none: the node's identity and vault are in memory, it saves nothing and knows no project, and
   * nothing outlives it (no directory, no SQLite needed).
   */
  state?: State;
  /** An `OCKAM_HOME` directory whose SQLite state to open (and close on `stop()`); instead of `state`. */
  home?: string;
  /** The identity (by name in the state) the node presents in secure channels; the default identity if omitted (in memory: created). */
  identity?: string;
  /**
   * TCP, which every node has (connections, inlets and outlets use it): where its listener listens,
   * HOST:PORT (default `127.0.0.1:0`, a free port); `listen: false` for a node that only dials out.
   */
  tcp?: TcpOptions;
  /** A WebSocket listener (browsers, nodes behind HTTP proxies); none if omitted. */
  websocket?: WebSocketOptions;
  /** UDP: the transport, puncture negotiation with a rendezvous, and optionally a rendezvous service; none if omitted. */
  udp?: UdpOptions;
  /**
   * An authority to trust without a project: peers' credentials are checked against it, this node
   * presents `credential` (if given) in its handshakes, and inlets, outlets, relays, echo and
   * uppercase are deny by default until `setPolicy` says who may use them. Not with a node whose
   * saved options name a project.
   *
   * @example
   * ```ts
   * const authority = await createNode();
   * const server = await createNode({ trust: { authority: authority.exportIdentity() } });
   * await server.setPolicy({ resourceName: 'echo' }, '(= subject.cluster "green")');
   * const client = await createNode({ trust: { authority: authority.exportIdentity() } });
   * client.presentCredential(await authority.issueCredential(client.identifier, { cluster: 'green' }));
   * ```
   */
  trust?: TrustOptions;
  /** Start the `hop` service and expose it like echo and uppercase (default: the node's saved option, else off). */
  enableHop?: boolean;
  /** What peers of the TCP and WebSocket listeners may hold (core's `InboundLimits`; defaults if omitted). */
  transportLimits?: InboundLimitsOptions;
  /** What secure channel listeners spend on unauthenticated handshakes (package defaults if omitted). */
  handshakeLimits?: HandshakeLimits;
  /** Ping and reconnection timing of inlets and relays (Ockam's defaults if omitted). */
  session?: SessionOptions;
  /** Limits of the Kafka and RabbitMQ hops (`@ockam/transport-broker`'s defaults if omitted). */
  brokers?: BrokerOptions;
  /** Limits of the relay service. */
  relayLimits?: RelayLimits;
  /** How many Kafka decryption keys the node keeps (see `createKafkaKeyExchange`; defaults if omitted). */
  kafkaKeyLimits?: KafkaKeyLimits;
  /** The router's time slice and refusal log interval (core's defaults if omitted). */
  router?: { timeSliceMs?: number; refusalLogIntervalMs?: number };
  logger?: Logger;
}

/** The TCP transport of a node. */
export interface TcpOptions {
  /** HOST:PORT of the listener (default `127.0.0.1:0`, a free port); `false`: no listener. */
  listen?: string | false;
}

/** The WebSocket transport of a node: a listener browsers and HTTP proxies can reach. */
export interface WebSocketOptions {
  /** HOST:PORT of the listener (port 0: a free port). */
  listen: string;
  /** Web pages (origins) that may open connections besides same-origin ones. */
  allowedOrigins?: readonly string[];
}

/** Hooks for this package's tests, outside the public `NodeOptions`. */
export interface StartHooks {
  /** Called before each start step with its name; what it throws fails the start there (tests of the cleanup path). */
  beforeStartStep?: (step: string) => void | Promise<void>;
}

/** What a node reports about itself (the control API's `GET /node` adds the daemon's HTTP server). */
export interface NodeStatus {
  name: string;
  pid: number;
  /** HOST:PORT of the TCP listener (empty without one). */
  tcpListenerAddress: string;
  /** The identifier of the identity the node presents in secure channels. */
  identifier: string;
  uptimeMs: number;
  services: string[];
  tcpConnections: TcpConnectionInfo[];
  secureChannels: { initiated: number; accepted: number };
  websocketListenerAddress: string | null;
  udp: { rendezvous: string | null; rendezvousService: string | null; stats: Record<string, number> } | null;
}

/** The kinds of service `startService` starts. */
export type ServiceKind = 'hop';
export const SERVICE_KINDS: readonly ServiceKind[] = ['hop'];

export interface ServiceInfo {
  address: string;
  /** `echo`, `uppercase`, `hop`. */
  type: string;
}

export interface TcpListenerInfo {
  /** Bound HOST:PORT. */
  address: string;
  processorAddress: string;
  flowControlId: string;
}

/** Services started on request beyond the standard ones (each is a worker and a flow-control entry). */
export const MAX_STARTED_SERVICES = 64;
/** TCP listeners beyond the node's own (each holds a port and up to its connection limit). */
export const MAX_EXTRA_TCP_LISTENERS = 16;

export interface TcpConnectionInfo {
  senderAddress: string;
  /**
   * The connection's worker address as Ockam names one, 32 hex digits (routes reach the peer
   * through `/worker/ADDRESS`): a forwarder to the sender that admits only what the sender admits.
   */
  workerAddress: string;
  peer: string;
  flowControlId: string;
  exposed: boolean;
}

/** Which policy: one resource by name, or every resource of a type. */
export type PolicyTarget = { resourceName: string } | { resourceType: ResourceType };

export interface PolicyList {
  resources: ResourcePolicy[];
  resourceTypes: ResourceTypePolicy[];
}

export interface TrustInfo {
  project: { name: string; id: string; identifier: string } | null;
  /** This node runs a project's authority. */
  authority: boolean;
  /** The identifier of the authority whose credentials this node checks and presents, if any. */
  trustedAuthority: string | null;
  credentials: number;
}

export interface RequestOptions extends ResolveOptions {
  /** How long to wait for the reply (default 10 s). */
  timeoutMs?: number;
}

/** A secure channel this node opened: send and request through it. */
export interface SecureChannelHandle {
  /** The channel's local address (its encryptor): put it first in a route to go through it. */
  readonly address: string;
  /** The identifier of the identity at the other end. */
  readonly peerIdentifier: string;
  info(): ChannelInfo;
  /** Sends `payload` to `route` on the other side of the channel. */
  send(route: RouteLike, payload: Uint8Array): Promise<void>;
  /** Sends to `route` on the other side and waits for one reply (flow control for the reply is set up here). */
  request(route: RouteLike, payload: Uint8Array, options?: { timeoutMs?: number }): Promise<LocalMessage>;
  close(): Promise<void>;
}

export interface OckamNode {
  readonly name: string;
  /** The router: workers, flow control, clients, for what the methods below do not cover. */
  readonly router: Node;
  readonly tcp: TcpTransport;
  /** HOST:PORT of the TCP listener (empty without one). */
  readonly tcpListenerAddress: string;
  /** `/ip4/HOST/tcp/PORT` (or `/dnsaddr/…`) of the TCP listener, for other nodes' multiaddrs. */
  readonly multiaddr: string;
  /** The identifier of the identity this node presents. */
  readonly identifier: string;
  /** The SQLite state the node uses (`state` or `home`), undefined for a node in memory. */
  readonly state: State | undefined;
  /** This node's identity, exported (its change history, hex): what other nodes trust as an authority (`trust.authority`). */
  exportIdentity(): string;
  /**
   * Issues a credential signed by this node's identity: this node is the authority of nodes that
   * trust its `exportIdentity()`. `ttlSeconds` defaults to 30 minutes.
   *
   * @example
   * ```ts
   * const credential = await authority.issueCredential(client.identifier, { cluster: 'green' });
   * const member = await createNode({ trust: { authority: authority.exportIdentity(), credential } });
   * ```
   */
  issueCredential(
    subject: string,
    attributes: Record<string, string>,
    options?: { ttlSeconds?: number },
  ): Promise<Uint8Array>;
  /**
   * Presents `credential` (from the authority in `trust`, for this node's identifier) in every
   * secure channel from now on, and over the channels already open. Throws if it does not verify.
   *
   * @example
   * ```ts
   * client.presentCredential(await authority.issueCredential(client.identifier, { cluster: 'green' }));
   * ```
   */
  presentCredential(credential: Uint8Array): void;

  status(): NodeStatus;
  metrics(): Metric[];
  /** Every worker address, sorted. */
  workers(): string[];

  /**
   * Starts a worker. `expose: true` lets peers reach it through the secure channel listeners (and,
   * without a project authority, the transport listeners), as the standard services are.
   */
  startWorker(
    address: string,
    worker: Worker | ((ctx: WorkerContext, message: LocalMessage) => void | Promise<void>),
    options?: { expose?: boolean },
  ): WorkerContext;

  /** Sends one message. `to` is a route, or a multiaddr (`/ip4/…/tcp/…/secure/api/service/echo`) resolved here. */
  send(to: RouteLike | string, payload: Uint8Array, options?: ResolveOptions): Promise<void>;
  /**
   * Sends one message and waits for its reply; the reply may come back through the connections
   * and channels of the route without the caller wiring flow control. Channels opened to resolve a
   * multiaddr are closed afterwards.
   */
  request(to: RouteLike | string, payload: Uint8Array, options?: RequestOptions): Promise<LocalMessage>;
  /** Resolves a multiaddr into a route, opening the connection and channels it names (see `route-resolver.ts`). */
  resolve(multiaddr: string, options?: ResolveOptions): Promise<{ route: Route; close(): Promise<void> }>;

  /** Lets pages from `origin` open WebSocket connections to the WebSocket listener (if any). */
  allowWebSocketOrigin(origin: string): void;

  connectTcp(to: string, options?: { expose?: boolean }): Promise<TcpConnectionInfo>;
  tcpConnections(): TcpConnectionInfo[];
  /** Closes a connection named by its sender address or its worker address. */
  closeTcpConnection(address: string): Promise<void>;

  /**
   * Starts consuming a Kafka topic or RabbitMQ queue as this node's inbox (`kafka-listener
   * create`): whoever can write to it reaches what the TCP listener's peers reach. `broker` is the
   * Kafka bootstrap servers (`HOST:PORT[,…]`) or the AMQP URL; a node uses one broker of each kind.
   */
  createBrokerListener(kind: BrokerKind, broker: string, inbox: string): Promise<BrokerListenerInfo>;
  brokerListeners(kind?: BrokerKind): BrokerListenerInfo[];
  deleteBrokerListener(kind: BrokerKind, inbox: string): Promise<BrokerListenerInfo>;
  /**
   * A connection that publishes to another node's inbox (`kafka-connection create`), reachable as
   * `/worker/<workerAddress>`; `expose` lets what came in through this node's listeners use it.
   */
  connectBroker(
    kind: BrokerKind,
    target: string,
    options?: { broker?: string; expose?: boolean },
  ): Promise<BrokerConnectionInfo>;
  brokerConnections(kind?: BrokerKind): BrokerConnectionInfo[];
  /** Closes a broker connection named by its sender or worker address. */
  closeBrokerConnection(kind: BrokerKind, address: string): Promise<string>;

  /**
   * Starts one more TCP listener (Ockam's `tcp-listener create`); its peers reach the node's
   * services as the first listener's do. At most `MAX_EXTRA_TCP_LISTENERS`.
   */
  createTcpListener(address: string): Promise<TcpListenerInfo>;
  /** Every TCP listener, the node's own first. */
  tcpListeners(): TcpListenerInfo[];
  /** Closes a listener started by `createTcpListener`, named by its bound HOST:PORT or its processor address. */
  deleteTcpListener(address: string): Promise<TcpListenerInfo>;

  /**
   * Starts a service of `kind` at `address` (Ockam's `service start`), reachable as the standard
   * services are. Only `hop` is offered: it forwards to the next address of a route, and stays off
   * until asked for. At most `MAX_STARTED_SERVICES`.
   */
  startService(kind: ServiceKind, address: string): ServiceInfo;
  /** The running services, standard ones first. */
  services(): ServiceInfo[];

  /**
   * Opens a secure channel: `to` is a route to a secure channel listener, or a multiaddr (to the
   * listener `api` unless it ends with `/secure/NAME`).
   */
  createSecureChannel(
    to: RouteLike | string,
    options?: {
      authorized?: string[];
      identity?: string;
      timeoutMs?: number;
      /** Presented in this handshake instead of the node's own credential (e.g. a project-admin credential). */
      credential?: Uint8Array;
      /** Verify the peer's credentials against this authority (exported identity) on this channel. */
      authority?: string | Uint8Array;
    },
  ): Promise<SecureChannelHandle>;
  secureChannels(): ChannelInfo[];
  secureChannel(address: string): SecureChannelHandle;
  deleteSecureChannel(address: string): Promise<void>;

  createSecureChannelListener(options: {
    address: string;
    authorized?: string[];
    identity?: string;
  }): Promise<ListenerInfo>;
  secureChannelListeners(): ListenerInfo[];
  deleteSecureChannelListener(address: string): Promise<void>;

  createOutlet(config: OutletConfig): Promise<OutletInfo>;
  outlets(): OutletInfo[];
  outlet(address: string): OutletInfo;
  deleteOutlet(address: string): Promise<void>;

  createInlet(config: InletConfig): Promise<InletInfo>;
  inlets(): InletInfo[];
  inlet(name: string): InletInfo;
  deleteInlet(name: string): Promise<void>;

  createRelay(config: RelayConfig): Promise<RelayInfo>;
  relays(): RelayInfo[];
  /** Names of the relays other nodes registered here. */
  servedRelays(): string[];
  relay(name: string): RelayInfo;
  deleteRelay(name: string): Promise<void>;

  /**
   * Starts the node's kafka-outlet (KAFKA.md §1.1): `kafka_interceptor`, `kafka_bootstrap` to the
   * bootstrap server, and `kafka_outlet_<id>` per broker as Metadata responses name them. One per node.
   */
  createKafkaOutlet(config: KafkaOutletConfig): Promise<KafkaOutletInfo>;
  kafkaOutlets(): KafkaOutletInfo[];
  kafkaOutlet(addr: string): KafkaOutletInfo;
  deleteKafkaOutlet(addr: string): Promise<void>;
  /** Starts a kafka-inlet (KAFKA.md §1.1): a Kafka-aware portal to a kafka-outlet, with end-to-end encryption. */
  createKafkaInlet(config: KafkaInletConfig): Promise<KafkaInletInfo>;
  kafkaInlets(): KafkaInletInfo[];
  kafkaInlet(addr: string): KafkaInletInfo;
  deleteKafkaInlet(addr: string): Promise<void>;
  /** Every kafka service as Ockam lists them: `{ addr, type }`. */
  kafkaServices(): KafkaServiceStatus[];

  setPolicy(target: PolicyTarget, expression: string): Promise<string>;
  policies(): Promise<PolicyList>;
  policy(target: PolicyTarget): Promise<string | undefined>;
  deletePolicy(target: PolicyTarget): Promise<boolean>;
  trust(): TrustInfo;

  /** Stops everything the node started, in reverse order; idempotent. */
  stop(): Promise<void>;
}

/** The hex digits of a connection's sender address: its worker address as Ockam writes it. */
function bareWorkerAddress(conn: { senderAddress: { value: string } }): string {
  const value = conn.senderAddress.value;
  return value.slice(value.lastIndexOf('_') + 1);
}

/** Services every node starts; `hop` joins them only on request (`enableHop`). */
const DEFAULT_SERVICES = [ECHO_SERVICE, UPPERCASE_SERVICE];

/**
 * Starts a node. Every step that starts something registers what stops it; a failure at any step
 * stops exactly what had started, in reverse order, and rethrows.
 */
export function createNode(options: NodeOptions = {}): Promise<OckamNode> {
  return startNode(options, {});
}

/** `createNode` with test hooks; not exported from the package. */
export async function startNode(options: NodeOptions, hooks: StartHooks): Promise<OckamNode> {
  const name = options.name ?? 'node';
  const logger = options.logger;
  const lg = logger ? { logger } : {};
  const cleanup = new CleanupStack();
  const step = async (s: string) => hooks.beforeStartStep?.(s);
  try {
    await step('state');
    const state = openState(options, cleanup);
    if (state && !state.getNode(name)) state.createNode(name);
    const records: NodeRecords = state ?? NO_RECORDS;

    await step('router');
    const node = new Node({ name, ...lg, ...options.router });
    cleanup.push('router', () => node.stop());
    const limits = options.transportLimits ?? {};
    const tcp = new TcpTransport(node, { ...lg, limits });
    node.registerTransport(tcp);
    const started = Date.now();

    await step('tcp-listener');
    let listener: TcpListener | undefined;
    const tcpListen = options.tcp?.listen ?? '127.0.0.1:0';
    if (tcpListen !== false) {
      listener = await tcp.listen(tcpListen);
      const l = listener;
      cleanup.push('tcp-listener', () => l.close());
    }

    await step('websocket-listener');
    let ws: WebSocketTransport | undefined;
    let wsListener: WebSocketListener | undefined;
    if (options.websocket) {
      const { listen, allowedOrigins = [] } = options.websocket;
      ws = new WebSocketTransport(node, { ...lg, limits });
      node.registerTransport(ws);
      try {
        wsListener = await ws.listen(listen, { allowedOrigins });
      } catch (e) {
        throw new OckamError(
          'node',
          'io',
          `Cannot listen for WebSockets on ${listen}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      const l = wsListener;
      cleanup.push('websocket-listener', () => l.close());
    }

    // Messages from TCP (and WebSocket) clients may reach the standard services, the secure
    // channel listeners and, without an authority, outlets and relays.
    const transportIds: FlowControlId[] = [
      ...(listener ? [listener.flowControlId] : []),
      ...(wsListener ? [wsListener.flowControlId] : []),
    ];
    const enableHop = options.enableHop ?? records.getNode(name)?.options.enableHop === true;
    const services = enableHop ? [...DEFAULT_SERVICES, HOP_SERVICE] : [...DEFAULT_SERVICES];
    /** Service address → kind, for every service in `services`. */
    const serviceTypes = new Map<string, string>(services.map((s) => [s, s]));
    const extraListeners = new Map<string, TcpListener>();
    startEcho(node);
    startUppercase(node);
    if (enableHop) startHop(node);
    for (const s of services) for (const id of transportIds) node.flowControls.addConsumer(s, id);

    await step('identity');
    const identities: NodeIdentities = state ? new Identities(state) : new MemoryIdentities();
    // Kafka and RabbitMQ inboxes join the transport listeners (`transportIds`) when created;
    // stopped after the secure channels, whose Close frames may still go through them.
    const brokers = new NodeBrokers({
      node,
      logger,
      options: options.brokers,
      transportIds,
      exposedAddresses: () => [...services, ...secureChannels.listListeners().map((l) => l.address)],
      exposeIds: () => [...transportIds, ...secureChannels.listenerFlowControlIds()],
      startAlias: (conn, ids) => startWorkerAlias(conn, ids),
    });
    cleanup.push('brokers', () => brokers.stop());
    const secureChannels = new SecureChannels({
      node,
      identities,
      defaultIdentity: (await identities.ensureIdentity(options.identity)).name,
      listenerSources: transportIds,
      services: [...services],
      ...lg,
      ...(options.handshakeLimits ? { handshakeLimits: options.handshakeLimits } : {}),
    });
    cleanup.push('secure-channels', () => secureChannels.stop());
    const loaded = await secureChannels.identity();
    const identifier = loaded.identity.identifier;

    // Trust: a project member presents its credential and checks its peers'; a project node also
    // runs the authority. Deny by default once there is an authority (PROTOCOL.md §6).
    await step('trust');
    const trustConfig = (records.getNode(name)?.options ?? {}) as TrustConfig;
    const projects = state ? new Projects(state) : undefined;
    const trust = new NodeTrust({
      node,
      nodeName: name,
      state,
      identities,
      identityName: loaded.name,
      identity: loaded.identity,
      vault: loaded.vault.vault,
      config: {
        ...(trustConfig.project ? { project: trustConfig.project } : {}),
        ...(trustConfig.authority ? { authority: trustConfig.authority } : {}),
        ...(typeof trustConfig.authorityIdentity === 'string'
          ? { authorityIdentity: trustConfig.authorityIdentity }
          : {}),
        ...(typeof trustConfig.authorityRoute === 'string'
          ? { authorityRoute: trustConfig.authorityRoute }
          : {}),
        ...(typeof trustConfig.credentialScope === 'string'
          ? { credentialScope: trustConfig.credentialScope }
          : {}),
      },
      ...(options.trust ? { given: options.trust } : {}),
      ...lg,
    });
    cleanup.push('trust', () => trust.stop());
    // With an authority, what the network sends to echo and uppercase goes through ABAC (`echoer`).
    for (const s of [ECHO_SERVICE, UPPERCASE_SERVICE]) {
      const ac = trust.serviceAccessControl(s);
      if (ac) node.setIncomingAccessControl(s, ac);
    }
    secureChannels.setTrust(() => trust.credentials(), trust.verifyCredentials);
    trust.onRefresh((credentials) => void secureChannels.refreshAll(credentials));
    const routeContext: RouteContext = {
      nodeName: name,
      state: records,
      tcp,
      brokers,
      channels: secureChannels,
      project: (p) => {
        if (!projects)
          throw new OckamError('node', 'not-found', `No project ${p}: a node in memory knows none`);
        const r = projects.require(p);
        return { route: r.route, identifier: r.identifier };
      },
      ...lg,
    };
    await trust.start();

    await step('secure-channel-listener');
    await secureChannels.createListener({ address: 'api' });

    await step('credentials');
    if (trust.isAuthority) await trust.startAuthority(secureChannels.listenerFlowControlIds());
    else
      trust.startRetriever(async () => {
        // Credentials come from the project's authority, which may be another node than the
        // project's (Ockam's projects, `ockam authority create`).
        const authority = projects!.authority(trust.project!);
        const c = await resolveMultiaddr(routeContext, `${authority.route}/secure/api`, {
          timeoutMs: 10_000,
          authorized: [authority.identity.identifier],
        });
        const client = node.client();
        if (c.flowControlId) node.flowControls.addConsumer(client.address, c.flowControlId);
        return {
          client,
          via: c.route,
          close: async () => {
            await client.stop();
            await c.close?.('stopped');
          },
        };
      });

    await step('udp');
    let udp: NodeUdp | undefined;
    let udpInfo: { rendezvousAddress?: string } = {};
    if (options.udp) {
      const u = new NodeUdp(node, options.udp, logger);
      udp = u;
      cleanup.push('udp', () => u.stop());
      udpInfo = await u.start(options.udp, secureChannels, [...services]);
    }

    await step('portals');
    const exposedTo = (): FlowControlId[] =>
      trust.hasAuthority
        ? secureChannels.listenerFlowControlIds()
        : [...transportIds, ...secureChannels.listenerFlowControlIds()];
    const portals = new Portals({
      node,
      nodeName: name,
      state: records,
      tcp,
      channels: secureChannels,
      // Without an authority, outlets and the relay service are also reachable from the transport
      // listeners, as in Ockam (PROTOCOL.md §6); with one, only through secure channels.
      exposedTo: () => exposedTo(),
      // Through a relay, as through the TCP listener: the standard services too, without an authority.
      relayServices: () => (trust.hasAuthority ? [] : [...services]),
      accessControl: (kind, resource, allow) => trust.accessControl(kind, resource, allow),
      authorizeRelay: (relayName, peer) => trust.authorizeRelay(relayName, peer),
      relaysRequireSecureChannel: trust.hasAuthority,
      ...(options.relayLimits ? { relayLimits: options.relayLimits } : {}),
      ...(udp
        ? {
            udpConnect: (to: string, o: { authorized?: string[]; fallback: boolean; timeoutMs: number }) =>
              udp.connectInlet(routeContext, to, o),
          }
        : {}),
      project: routeContext.project!,
      ...(options.session ? { session: options.session } : {}),
      ...lg,
    });
    cleanup.push('portals', () => portals.stop());
    await portals.start();
    const kafka = new KafkaServices({
      node,
      nodeName: name,
      state: records,
      channels: secureChannels,
      routeContext: () => routeContext,
      exposedTo: () => exposedTo(),
      accessControl: (kind, resource, allow) => trust.accessControl(kind, resource, allow),
      // `self` exists by the time a kafka-inlet is made (saved ones are recreated at the end).
      keyExchange: (o) => createKafkaKeyExchange(self, o),
      ...(options.session ? { session: options.session } : {}),
      ...lg,
    });
    cleanup.push('kafka', () => kafka.stop());

    await step('started');
    const tcpListenerAddress = listener ? `${listener.address.host}:${listener.address.port}` : '';
    const connections = new Map<string, { conn: TcpConnection; exposed: boolean }>();
    const workerMessages = new WorkerMessageTotals();
    // Counters must never go down: keep what closed connections carried.
    const closedTcpTotals = { bytesRead: 0, bytesWritten: 0, messagesIn: 0, messagesOut: 0 };
    tcp.on('close', (c) => {
      const s = c.stats();
      closedTcpTotals.bytesRead += s.bytesRead;
      closedTcpTotals.bytesWritten += s.bytesWritten;
      closedTcpTotals.messagesIn += s.messagesIn;
      closedTcpTotals.messagesOut += s.messagesOut;
    });
    const connectionInfo = (c: { conn: TcpConnection; exposed: boolean }): TcpConnectionInfo => ({
      senderAddress: c.conn.senderAddress.value,
      workerAddress: bareWorkerAddress(c.conn),
      peer: c.conn.peerAddress,
      flowControlId: c.conn.flowControlId,
      exposed: c.exposed,
    });
    /**
     * Ockam's routes name a connection by its worker's bare address (`/worker/<32 hex>`), which
     * Ockam's scripts cut out of `tcp-connection create`'s output; ours are `tcp_sender_<hex>`
     * (metrics count workers by that prefix). The alias at the bare hex passes each message on to
     * the sender unchanged, its origin kept, so the sender's flow control still decides, and it
     * accepts from the same ids as the sender: it opens no path the sender does not.
     */
    const startWorkerAlias = (
      conn: Pick<TcpConnection, 'senderAddress'> & { closed: Promise<unknown> },
      consumerOf: readonly FlowControlId[],
    ) => {
      const alias = bareWorkerAddress(conn);
      if (node.addresses().some((a) => a.value === alias)) return;
      const ctx = node.startWorker(alias, {
        handleMessage: (c, { message }) =>
          c.forward(message.withOnward(message.onwardRoute.popFront().prepend(conn.senderAddress))),
      });
      for (const id of consumerOf) node.flowControls.addConsumer(alias, id);
      void conn.closed.then(() => ctx.stop());
    };
    const openConnections = () => [...connections.values()].filter((c) => c.conn.isOpen).map(connectionInfo);

    /** A client that can receive the replies of a message sent along `route`. */
    const replyClient = (route: Route, flowControlId: string | undefined) => {
      const client = node.client();
      if (flowControlId) node.flowControls.addConsumer(client.address, flowControlId);
      secureChannels.admitReplies(client.address, route);
      return client;
    };
    const resolveTo = async (to: RouteLike | string, o: ResolveOptions = {}) =>
      typeof to === 'string' && to.startsWith('/')
        ? await resolveMultiaddr(routeContext, to, o)
        : { route: toRoute(to), flowControlId: undefined, close: undefined };
    const channelHandle = (address: string): SecureChannelHandle => {
      const channel = secureChannels.handle(address);
      const through = (route: RouteLike) => toRoute([address, ...toRoute(route).addresses]);
      return {
        address,
        peerIdentifier: channel.peerIdentifier,
        info: () => secureChannels.getChannel(address),
        async send(route, payload) {
          const client = node.client();
          try {
            await client.send(through(route), payload);
          } finally {
            await client.stop();
          }
        },
        async request(route, payload, o = {}) {
          const r = through(route);
          const client = replyClient(r, channel.flowControlId);
          try {
            return await client.request(r, payload, { timeoutMs: o.timeoutMs ?? 10_000 });
          } finally {
            await client.stop();
          }
        },
        close: () => secureChannels.deleteChannel(address),
      };
    };

    const listenerInfo = (l: TcpListener): TcpListenerInfo => ({
      address: `${l.address.host}:${l.address.port}`,
      processorAddress: l.processorAddress.value,
      flowControlId: String(l.flowControlId),
    });
    const self: OckamNode = {
      name,
      router: node,
      tcp,
      tcpListenerAddress,
      multiaddr: listener ? hostPortMultiaddr(listener.address.host, listener.address.port) : '',
      identifier,
      state,
      exportIdentity: () => toHex(loaded.identity.changeHistory),
      issueCredential: (subject, attributes, o = {}) => trust.issue(subject, attributes, o.ttlSeconds),
      presentCredential: (credential) => trust.present(credential),
      status: () => ({
        name,
        pid: process.pid,
        tcpListenerAddress,
        identifier,
        uptimeMs: Date.now() - started,
        services,
        tcpConnections: openConnections(),
        secureChannels: secureChannels.openCounts(),
        websocketListenerAddress: wsListener ? `${wsListener.address.host}:${wsListener.address.port}` : null,
        udp: udp
          ? {
              rendezvous: udp.rendezvous ?? null,
              rendezvousService: udpInfo.rendezvousAddress ?? null,
              stats: { ...udp.stats() },
            }
          : null,
      }),
      metrics: () => [
        ...nodeMetrics(node, tcp, closedTcpTotals, secureChannels, started, workerMessages, ws),
        {
          name: 'ockam_portal_connections_open',
          help: 'Open portal connections (inlets and outlets)',
          type: 'gauge',
          samples: [{ value: portals.openConnections() + kafka.openConnections() }],
        },
        {
          name: 'ockam_reconnects_total',
          help: 'Routes rebuilt by inlets and relays',
          type: 'counter',
          samples: [
            { value: [...portals.inlets(), ...portals.relays()].reduce((n, r) => n + r.reconnects, 0) },
          ],
        },
      ],
      workers: () =>
        node
          .addresses()
          .map((a) => a.value)
          .sort(),
      startWorker(address, worker, o = {}) {
        const w: Worker =
          typeof worker === 'function' ? { handleMessage: (ctx, m) => worker(ctx, m.message) } : worker;
        const ctx = node.startWorker(address, w);
        if (o.expose) {
          for (const id of exposedTo()) node.flowControls.addConsumer(address, id);
          secureChannels.exposeService(address);
        }
        return ctx;
      },
      async send(to, payload, o = {}) {
        const r = await resolveTo(to, o);
        const client = node.client();
        try {
          await client.send(r.route, payload);
        } finally {
          await client.stop();
        }
      },
      async request(to, payload, o = {}) {
        const r = await resolveTo(to, o);
        const client = replyClient(r.route, r.flowControlId);
        try {
          return await client.request(r.route, payload, { timeoutMs: o.timeoutMs ?? 10_000 });
        } finally {
          await client.stop();
          await r.close?.('stopped');
        }
      },
      async resolve(multiaddr, o = {}) {
        const r = await resolveMultiaddr(routeContext, multiaddr, o);
        return { route: r.route, close: async () => void (await r.close?.('stopped')) };
      },
      allowWebSocketOrigin: (origin) => wsListener?.allowOrigin(origin),
      async connectTcp(to, o = {}) {
        const exposed = o.expose === true;
        // Reuse an open connection to the same peer with the same exposure.
        for (const c of connections.values()) {
          if (c.conn.isOpen && c.exposed === exposed && c.conn.peerAddress === to) return connectionInfo(c);
        }
        const conn = await tcp.connect(
          to,
          exposed ? { exposeTo: [...transportIds, ...secureChannels.listenerFlowControlIds()] } : {},
        );
        const entry = { conn, exposed };
        const key = conn.senderAddress.value;
        connections.set(key, entry);
        startWorkerAlias(conn, exposed ? [...transportIds, ...secureChannels.listenerFlowControlIds()] : []);
        void conn.closed.then((info) => {
          connections.delete(key);
          logger?.info('tcp connection closed', {
            peer: conn.peerAddress,
            cause: info.cause,
            reason: info.reason,
          });
        });
        return connectionInfo(entry);
      },
      tcpConnections: openConnections,
      createBrokerListener: (kind, broker, inbox) => brokers.createListener(kind, broker, inbox),
      brokerListeners: (kind) => brokers.listeners(kind),
      deleteBrokerListener: (kind, inbox) => brokers.deleteListener(kind, inbox),
      connectBroker: (kind, target, o = {}) => brokers.connect(kind, target, o),
      brokerConnections: (kind) => brokers.connections(kind),
      closeBrokerConnection: (kind, address) => brokers.closeConnection(kind, address),
      async closeTcpConnection(address) {
        const senderAddress =
          [...connections.values()].find((c) => bareWorkerAddress(c.conn) === address)?.conn.senderAddress
            .value ?? address;
        const c = connections.get(senderAddress);
        if (!c)
          throw new OckamError('node', 'not-found', `No TCP connection with sender address ${senderAddress}`);
        await c.conn.close();
        connections.delete(senderAddress);
      },
      async createTcpListener(address) {
        if (extraListeners.size >= MAX_EXTRA_TCP_LISTENERS)
          throw new OckamError(
            'node',
            'invalid',
            `A node runs at most ${MAX_EXTRA_TCP_LISTENERS} TCP listeners besides its own`,
          );
        const l = await tcp.listen(address);
        const bound = `${l.address.host}:${l.address.port}`;
        extraListeners.set(bound, l);
        transportIds.push(l.flowControlId);
        for (const s of services) node.flowControls.addConsumer(s, l.flowControlId);
        return listenerInfo(l);
      },
      tcpListeners: () => [...(listener ? [listener] : []), ...extraListeners.values()].map(listenerInfo),
      async deleteTcpListener(address) {
        const entry = [...extraListeners].find(
          ([bound, l]) => bound === address || l.processorAddress.value === address,
        );
        if (!entry) {
          const own = listener && `${listener.address.host}:${listener.address.port}`;
          throw new OckamError(
            'node',
            own === address ? 'invalid' : 'not-found',
            own === address
              ? `${address} is the node's own TCP listener; it closes when the node stops`
              : `No TCP listener at ${address}`,
          );
        }
        const [bound, l] = entry;
        await l.close();
        extraListeners.delete(bound);
        const i = transportIds.indexOf(l.flowControlId);
        if (i >= 0) transportIds.splice(i, 1);
        return listenerInfo(l);
      },
      startService(kind, address) {
        if (!SERVICE_KINDS.includes(kind))
          throw new OckamError(
            'node',
            'invalid',
            `Unknown service kind '${String(kind)}': use ${SERVICE_KINDS.join(', ')}`,
          );
        if (serviceTypes.has(address) || node.addresses().some((a) => a.value === address))
          throw new OckamError('node', 'already-exists', `A worker is already running at address ${address}`);
        if (serviceTypes.size - DEFAULT_SERVICES.length >= MAX_STARTED_SERVICES)
          throw new OckamError(
            'node',
            'invalid',
            `A node runs at most ${MAX_STARTED_SERVICES} started services`,
          );
        startHop(node, address);
        serviceTypes.set(address, kind);
        services.push(address);
        for (const id of transportIds) node.flowControls.addConsumer(address, id);
        secureChannels.exposeService(address);
        return { address, type: kind };
      },
      services: () => services.map((address) => ({ address, type: serviceTypes.get(address) ?? address })),
      async createSecureChannel(to, o = {}) {
        if (typeof to === 'string' && to.startsWith('/')) {
          if (o.credential !== undefined || o.authority !== undefined)
            throw new OckamError(
              'node',
              'unsupported',
              'A credential or an authority for one channel needs a route, not a multiaddr',
            );
          const hasSecure = MultiAddr.parse(to).components.some((c) => c.protocol === 'secure');
          const r = await resolveMultiaddr(routeContext, hasSecure ? to : `${to}/secure/api`, o);
          const last = r.route.addresses.at(-1)!.value;
          if (r.route.addresses.length !== 1) {
            await r.close?.('stopped');
            throw new OckamError('node', 'invalid', `Multiaddr ${to} goes on past its last secure channel`);
          }
          return channelHandle(last);
        }
        const info = await secureChannels.createChannel({
          route: toRoute(to),
          ...(o.authorized?.length ? { authorized: o.authorized } : {}),
          ...(o.identity ? { identity: o.identity } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
          ...(o.credential ? { credentials: [o.credential] } : {}),
          ...(o.authority !== undefined
            ? {
                verifyCredentials: trust.verifyAgainst(o.authority),
              }
            : {}),
        });
        return channelHandle(info.address);
      },
      secureChannels: () => secureChannels.listChannels(),
      secureChannel: channelHandle,
      deleteSecureChannel: (address) => secureChannels.deleteChannel(address),
      createSecureChannelListener: (o) => secureChannels.createListener(o),
      secureChannelListeners: () => secureChannels.listListeners(),
      deleteSecureChannelListener: (address) => secureChannels.deleteListener(address),
      createOutlet: (config) => portals.createOutlet(config),
      outlets: () => portals.outlets(),
      outlet: (address) => portals.outlet(address),
      deleteOutlet: (address) => portals.deleteOutlet(address),
      createInlet: (config) => portals.createInlet(config),
      inlets: () => portals.inlets(),
      inlet: (inletName) => portals.inlet(inletName),
      deleteInlet: (inletName) => portals.deleteInlet(inletName),
      createRelay: (config) => portals.createRelay(config),
      relays: () => portals.relays(),
      servedRelays: () => portals.relayNames(),
      relay: (relayName) => portals.relay(relayName),
      deleteRelay: (relayName) => portals.deleteRelay(relayName),
      createKafkaOutlet: (config) => kafka.createOutlet(config),
      kafkaOutlets: () => kafka.outlets(),
      kafkaOutlet: (addr) => kafka.outlet(addr),
      deleteKafkaOutlet: (addr) => kafka.deleteOutlet(addr),
      createKafkaInlet: (config) => kafka.createInlet(config),
      kafkaInlets: () => kafka.inlets(),
      kafkaInlet: (addr) => kafka.inlet(addr),
      deleteKafkaInlet: (addr) => kafka.deleteInlet(addr),
      kafkaServices: () => kafka.statuses(),
      async setPolicy(target, expression) {
        const text = await trust.policies.setPolicy(target, expression);
        logger?.info('policy set', { ...target, expression: text });
        return text;
      },
      policies: async () => ({
        resources: await trust.policies.store.listResourcePolicies(),
        resourceTypes: await trust.policies.store.listResourceTypePolicies(),
      }),
      policy: (target) => trust.policies.getPolicy(target),
      deletePolicy: (target) => trust.policies.deletePolicy(target),
      trust: () => ({
        project: trust.project
          ? { name: trust.project.name, id: trust.project.id, identifier: trust.project.identifier }
          : null,
        authority: trust.isAuthority,
        trustedAuthority: trust.authorityIdentifier ?? null,
        credentials: trust.credentials().length,
      }),
      async stop() {
        await cleanup.run(logger);
        logger?.info('node stopped', { name });
      },
    };
    // What the Kafka key exchange needs of this node (kafka-keys.ts), reached from the node object.
    registerKafkaNode(self, {
      router: node,
      nodeName: name,
      state,
      secureChannels,
      trust,
      routeContext,
      ...(options.session ? { session: options.session } : {}),
      ...(options.kafkaKeyLimits ? { limits: options.kafkaKeyLimits } : {}),
      cleanup,
      ...lg,
    });
    // Saved kafka services come back once the key exchange can reach the node.
    await kafka.start();
    logger?.info('node started', { name, tcpListenerAddress, pid: process.pid });
    return self;
  } catch (e) {
    await cleanup.run(logger);
    throw e;
  }
}

/** The SQLite state to use: given, or opened from a home; none for a node in memory. */
function openState(options: NodeOptions, cleanup: CleanupStack): State | undefined {
  if (options.state) return options.state;
  if (options.home === undefined) return undefined;
  const state = new State(new OckamHome(options.home));
  cleanup.push('state', () => state.close());
  return state;
}

function hostPortMultiaddr(host: string, port: number): string {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return `/ip4/${host}/tcp/${port}`;
  if (host.includes(':')) return `/ip6/${host.replace(/^\[|\]$/g, '')}/tcp/${port}`;
  return `/dnsaddr/${host}/tcp/${port}`;
}
