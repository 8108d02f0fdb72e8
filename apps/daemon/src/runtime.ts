/**
 * One running Ockam node: the router, the TCP transport and listener, the standard services
 * exposed to the listener, and the control API. `startNodeRuntime` is what the daemon process
 * runs; tests call it directly too.
 *
 * @example
 * ```ts
 * import { OckamHome, startNodeRuntime } from '@ockam/daemon';
 * const rt = await startNodeRuntime({ home: new OckamHome('/tmp/ockam'), name: 'n1' });
 * console.log(rt.tcpListenerAddress); // 127.0.0.1:PORT
 * await rt.stop();
 * ```
 */

import { ALL_RESOURCE_TYPES, isResourceType, type ResourceType } from '@ockam/abac';
import {
  Address,
  ECHO_SERVICE,
  fromHex,
  HOP_SERVICE,
  type InboundLimitsOptions,
  type InboundStats,
  type Logger,
  Node,
  OckamError,
  Route,
  startEcho,
  startHop,
  startUppercase,
  toHex,
  UPPERCASE_SERVICE,
} from '@ockam/core';
import type { SessionOptions } from '@ockam/portals';
import type { OckamHome, State } from '@ockam/state';
import { Identities, Projects } from '@ockam/state';
import { type TcpConnection, type TcpListener, TcpTransport } from '@ockam/transport-tcp';
import type { WebSocketListener } from '@ockam/transport-websocket';
import { WebSocketTransport } from '@ockam/transport-websocket';
import type {
  CreateTcpConnectionRequest,
  NodeStatus,
  SendMessageRequest,
  SendMessageResponse,
  TcpConnectionInfo,
} from './control-protocol.js';
import { ControlServer, HttpError } from './control-server.js';
import {
  type InletConfig,
  type OutletConfig,
  Portals,
  type RelayConfig,
  type RelayLimits,
} from './portals.js';
import { type RouteContext, resolveMultiaddr } from './route-resolver.js';
import {
  type ChannelInfo,
  type HandshakeLimits,
  type ListenerInfo,
  SecureChannels,
} from './secure-channels.js';
import { type Metric, publicStatus, type StatusServer, startStatusServer } from './status-server.js';
import { NodeTrust, type TrustConfig } from './trust.js';
import { NodeUdp, type UdpOptions } from './udp.js';
import { WorkerMessageTotals } from './worker-kinds.js';

export interface NodeRuntimeOptions {
  home: OckamHome;
  /** The state database (identities and vaults live there). */
  state: State;
  name: string;
  /** The identity the node presents in secure channels (default identity if omitted). */
  identity?: string;
  /** [HOST:]PORT of an optional HTTP status server (/health, /show, /metrics). */
  httpServer?: string;
  /** UDP: the transport, puncture negotiation (with a rendezvous), and optionally a rendezvous service. */
  udp?: UdpOptions;
  /** HOST:PORT of a WebSocket listener (browsers and nodes behind HTTP proxies). */
  websocketListenerAddress?: string;
  /**
   * Web pages (origins) that may open WebSocket connections besides same-origin ones; the HTTP
   * status server's own origins are added when it serves the example page.
   */
  websocketAllowedOrigins?: readonly string[];
  /** `Host` names the HTTP status server answers to besides its own addresses (behind a proxy). */
  httpServerAllowedHosts?: readonly string[];
  /** Directory of static files the HTTP status server serves under /example/ (the browser example). */
  exampleDir?: string;
  /** Ping and reconnection timing of inlets and relays (Ockam's defaults if omitted). */
  session?: SessionOptions;
  /** Limits of the relay service (`OCKAM_MAX_RELAYS`, `OCKAM_MAX_RELAYS_PER_REGISTRANT`). */
  relayLimits?: RelayLimits;
  /** What secure channel listeners spend on unauthenticated handshakes (package defaults if omitted). */
  handshakeLimits?: HandshakeLimits;

  /**
   * Start the `hop` service and expose it like echo and uppercase (default: the `enableHop` the
   * node was created with, else off, as in Ockam Rust). Flow control still follows every message
   * it forwards: hop reaches only what the original sender could reach itself.
   */
  enableHop?: boolean;

  /** HOST:PORT for the TCP listener; default 127.0.0.1:0 (a free port). */
  tcpListenerAddress?: string;
  /** What peers of the TCP and WebSocket listeners may hold (core's `InboundLimits`; defaults if omitted). */
  transportLimits?: InboundLimitsOptions;
  logger?: Logger;
  /** Called once the node asks to be stopped through its control API. */
  onStopRequested?: () => void;
}

export interface NodeRuntime {
  readonly name: string;
  readonly node: Node;
  readonly tcp: TcpTransport;
  readonly listener: TcpListener;
  readonly tcpListenerAddress: string;
  readonly socketPath: string;
  readonly identifier: string;
  readonly secureChannels: SecureChannels;
  /** The bound address of the HTTP status server, if one was asked for. */
  readonly httpServerAddress: string | undefined;
  stop(): Promise<void>;
}

/** Services every node starts; `hop` joins them only on request (`enableHop`). */
const DEFAULT_SERVICES = [ECHO_SERVICE, UPPERCASE_SERVICE];

/**
 * The router's limits an operator may change from the environment of `ockam node create`/`start`:
 * `OCKAM_ROUTER_TIME_SLICE_MS` (default `DEFAULT_TIME_SLICE_MS`) and
 * `OCKAM_REFUSAL_LOG_INTERVAL_MS` (default `DEFAULT_REFUSAL_LOG_INTERVAL_MS`).
 */
function routerLimits(env: NodeJS.ProcessEnv): { timeSliceMs?: number; refusalLogIntervalMs?: number } {
  const ms = (name: string): number | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new OckamError(
        'node',
        'invalid',
        `Invalid ${name} '${text}': a whole number of milliseconds ≥ 1`,
      );
    return n;
  };
  const timeSliceMs = ms('OCKAM_ROUTER_TIME_SLICE_MS');
  const refusalLogIntervalMs = ms('OCKAM_REFUSAL_LOG_INTERVAL_MS');
  return {
    ...(timeSliceMs !== undefined ? { timeSliceMs } : {}),
    ...(refusalLogIntervalMs !== undefined ? { refusalLogIntervalMs } : {}),
  };
}

function str(body: unknown, key: string, required = true): string | undefined {
  const v = (body as Record<string, unknown> | null)?.[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new HttpError(400, `Field '${key}' must be a non-empty string`);
  return v;
}

function parseRoute(value: unknown): Route {
  if (!Array.isArray(value) || value.length === 0 || !value.every((a) => typeof a === 'string')) {
    throw new HttpError(400, "Field 'route' must be a non-empty list of addresses");
  }
  return new Route(value.map((a: string) => Address.parse(a)));
}

function policyTarget(b: Record<string, unknown>): { resourceName: string } | { resourceType: ResourceType } {
  if (typeof b.resource === 'string' && b.resource !== '') return { resourceName: b.resource };
  if (typeof b.resourceType === 'string') {
    if (!isResourceType(b.resourceType))
      throw new HttpError(
        400,
        `Unknown resource type '${b.resourceType}': use ${ALL_RESOURCE_TYPES.join(', ')}`,
      );
    return { resourceType: b.resourceType };
  }
  throw new HttpError(400, "Give a 'resource' or a 'resourceType'");
}

function identifiers(value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^I[0-9a-f]{64}$/.test(v))) {
    throw new HttpError(
      400,
      "Field 'authorized' must be a list of identifiers (I followed by 64 hex digits)",
    );
  }
  return value as string[];
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { home, name } = options;
  const logger = options.logger;
  const node = new Node({ name, ...(logger ? { logger } : {}), ...routerLimits(process.env) });
  const limits = options.transportLimits ?? {};
  const tcp = new TcpTransport(node, { ...(logger ? { logger } : {}), limits });
  node.registerTransport(tcp);
  const started = Date.now();
  let listener: TcpListener;
  try {
    listener = await tcp.listen(options.tcpListenerAddress ?? '127.0.0.1:0');
  } catch (e) {
    await node.stop();
    throw e;
  }
  const listenerId = listener.flowControlId;
  let ws: WebSocketTransport | undefined;
  let wsListener: WebSocketListener | undefined;
  if (options.websocketListenerAddress) {
    ws = new WebSocketTransport(node, { ...(logger ? { logger } : {}), limits });
    node.registerTransport(ws);
    try {
      wsListener = await ws.listen(options.websocketListenerAddress, {
        allowedOrigins: options.websocketAllowedOrigins ?? [],
      });
    } catch (e) {
      await node.stop();
      throw new OckamError(
        'node',
        'io',
        `Cannot listen for WebSockets on ${options.websocketListenerAddress}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  // Messages from TCP (and WebSocket) clients may reach the standard services, the secure channel
  // listeners and, without an authority, outlets and relays.
  const transportIds = [listenerId, ...(wsListener ? [wsListener.flowControlId] : [])];
  const enableHop = options.enableHop ?? options.state.getNode(name)?.options.enableHop === true;
  const services = enableHop ? [...DEFAULT_SERVICES, HOP_SERVICE] : DEFAULT_SERVICES;
  startEcho(node);
  startUppercase(node);
  if (enableHop) startHop(node);
  for (const s of services) for (const id of transportIds) node.flowControls.addConsumer(s, id);

  const identities = new Identities(options.state);
  const secureChannels = new SecureChannels({
    node,
    identities,
    defaultIdentity: (await identities.ensureIdentity(options.identity)).name,
    listenerSources: transportIds,
    services: [...services],
    ...(logger ? { logger } : {}),
    ...(options.handshakeLimits ? { handshakeLimits: options.handshakeLimits } : {}),
  });
  // Trust: a project member presents its credential and checks its peers'; a project node also
  // runs the authority. Deny by default once there is an authority (PROTOCOL.md §6).
  const loaded = await secureChannels.identity();
  const identifier = loaded.identity.identifier;
  const trustConfig = (options.state.getNode(name)?.options ?? {}) as TrustConfig;
  const projects = new Projects(options.state);
  let trust: NodeTrust;
  let udpInfo: { rendezvousAddress?: string } = {};
  try {
    trust = new NodeTrust({
      node,
      nodeName: name,
      state: options.state,
      identities,
      identityName: loaded.name,
      identity: loaded.identity,
      vault: loaded.vault.vault,
      config: {
        ...(trustConfig.project ? { project: trustConfig.project } : {}),
        ...(trustConfig.authority ? { authority: trustConfig.authority } : {}),
      },
      ...(logger ? { logger } : {}),
    });
  } catch (e) {
    await secureChannels.stop();
    await node.stop();
    throw e;
  }
  // With an authority, what the network sends to echo and uppercase goes through ABAC (`echoer`).
  for (const s of [ECHO_SERVICE, UPPERCASE_SERVICE]) {
    const ac = trust.serviceAccessControl(s);
    if (ac) node.setIncomingAccessControl(s, ac);
  }
  secureChannels.setTrust(() => trust.credentials(), trust.verifyCredentials);
  trust.onRefresh((credentials) => void secureChannels.refreshAll(credentials));
  const routeContext: RouteContext = {
    nodeName: name,
    state: options.state,
    tcp,
    channels: secureChannels,
    project: (p) => {
      const r = projects.require(p);
      return { route: r.route, identifier: r.identifier };
    },
    ...(logger ? { logger } : {}),
  };
  const udp = options.udp ? new NodeUdp(node, options.udp, logger) : undefined;
  const portals = new Portals({
    node,
    nodeName: name,
    state: options.state,
    tcp,
    channels: secureChannels,
    // Without an authority, outlets and the relay service are also reachable from the TCP listener,
    // as in Ockam (PROTOCOL.md §6); with one, only through secure channels.
    exposedTo: () =>
      trust.hasAuthority
        ? secureChannels.listenerFlowControlIds()
        : [...transportIds, ...secureChannels.listenerFlowControlIds()],
    accessControl: (kind, resource, allow) => trust.accessControl(kind, resource, allow),
    authorizeRelay: (relayName, peer) => trust.authorizeRelay(relayName, peer),
    relaysRequireSecureChannel: trust.hasAuthority,
    ...(options.relayLimits ? { relayLimits: options.relayLimits } : {}),
    ...(udp
      ? {
          udpConnect: (to: string, o: { authorized?: string[]; fallback: boolean; timeoutMs: number }) =>
            udp!.connectInlet(routeContext, to, o),
        }
      : {}),
    project: routeContext.project!,
    ...(options.session ? { session: options.session } : {}),
    ...(logger ? { logger } : {}),
  });
  try {
    await trust.start();
    await secureChannels.createListener({ address: 'api' });
    if (trust.isAuthority) await trust.startAuthority(secureChannels.listenerFlowControlIds());
    else
      trust.startRetriever(async () => {
        // Credentials come from the project's authority, which may be another node than the
        // project's (Ockam's projects, \`ockam authority create\`).
        const authority = projects.authority(trust.project!);
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
    if (udp) udpInfo = await udp.start(options.udp!, secureChannels, [...services]);
    await portals.start();
  } catch (e) {
    await udp?.stop();
    await portals.stop();
    await trust.stop();
    await secureChannels.stop();
    await node.stop();
    throw e;
  }

  const tcpListenerAddress = `${listener.address.host}:${listener.address.port}`;
  const connections = new Map<string, { conn: TcpConnection; exposed: boolean }>();

  let httpServer: StatusServer | undefined;
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
  const status = (): NodeStatus => ({
    name,
    pid: process.pid,
    tcpListenerAddress,
    identifier,
    uptimeMs: Date.now() - started,
    services,
    tcpConnections: [...connections.values()].filter((c) => c.conn.isOpen).map(connectionInfo),
    secureChannels: secureChannels.openCounts(),
    websocketListenerAddress: wsListener ? `${wsListener.address.host}:${wsListener.address.port}` : null,
    udp: udp
      ? {
          rendezvous: udp.rendezvous ?? null,
          rendezvousService: udpInfo.rendezvousAddress ?? null,
          stats: { ...udp.stats() },
        }
      : null,
    httpServerAddress: httpServer?.address ?? null,
  });
  const connectionInfo = (c: { conn: TcpConnection; exposed: boolean }): TcpConnectionInfo => ({
    senderAddress: c.conn.senderAddress.value,
    peer: c.conn.peerAddress,
    flowControlId: c.conn.flowControlId,
    exposed: c.exposed,
  });

  const api = new ControlServer()
    .on('GET', '/node', (): NodeStatus => status())
    .on('GET', '/workers', () => ({
      workers: node
        .addresses()
        .map((a) => a.value)
        .sort(),
    }))
    .on('POST', '/tcp-connections', async (body): Promise<TcpConnectionInfo> => {
      const req = body as CreateTcpConnectionRequest;
      const to = str(req, 'to')!;
      const exposed = req.expose === true;
      // Reuse an open connection to the same peer with the same exposure.
      for (const c of connections.values()) {
        if (c.conn.isOpen && c.exposed === exposed && c.conn.peerAddress === to) return connectionInfo(c);
      }
      const conn = await tcp.connect(
        to,
        exposed ? { exposeTo: [listenerId, ...secureChannels.listenerFlowControlIds()] } : {},
      );
      const entry = { conn, exposed };
      const key = conn.senderAddress.value;
      connections.set(key, entry);
      void conn.closed.then((info) => {
        connections.delete(key);
        logger?.info('tcp connection closed', {
          peer: conn.peerAddress,
          cause: info.cause,
          reason: info.reason,
        });
      });
      return connectionInfo(entry);
    })
    .on('GET', '/tcp-connections', () => ({
      connections: [...connections.values()].filter((c) => c.conn.isOpen).map(connectionInfo),
    }))
    .on('DELETE', '/tcp-connections/:address', async (_b, p) => {
      const c = connections.get(p.address!);
      if (!c) throw new HttpError(404, `No TCP connection with sender address ${p.address}`, 'not-found');
      await c.conn.close();
      connections.delete(p.address!);
      return { deleted: p.address };
    })
    .on('POST', '/messages', async (body): Promise<SendMessageResponse> => {
      const req = body as SendMessageRequest;
      const route = parseRoute(req.route);
      const payload = fromHex(str(req, 'payloadHex', false) ?? '', 'payloadHex');
      const client = node.client();
      secureChannels.admitReplies(client.address, route);
      try {
        const reply = await client.request(route, payload, { timeoutMs: req.timeoutMs ?? 10_000 });
        return {
          payloadHex: toHex(reply.payload),
          returnRoute: reply.returnRoute.addresses.map((a) => a.toString()),
        };
      } finally {
        await client.stop();
      }
    })
    .on('POST', '/secure-channels', async (body): Promise<ChannelInfo> => {
      const req = body as { route?: unknown; authorized?: unknown; identity?: unknown; timeoutMs?: unknown };
      return secureChannels.createChannel({
        route: parseRoute(req.route),
        ...(req.authorized !== undefined ? { authorized: identifiers(req.authorized) } : {}),
        ...(typeof req.identity === 'string' ? { identity: req.identity } : {}),
        ...(typeof req.timeoutMs === 'number' ? { timeoutMs: req.timeoutMs } : {}),
      });
    })
    .on('GET', '/secure-channels', () => ({ channels: secureChannels.listChannels() }))
    .on('GET', '/secure-channels/:address', (_b, p) => secureChannels.getChannel(p.address!))
    .on('DELETE', '/secure-channels/:address', async (_b, p) => {
      await secureChannels.deleteChannel(p.address!);
      return { deleted: p.address };
    })
    .on('POST', '/secure-channel-listeners', async (body): Promise<ListenerInfo> => {
      const req = body as { address?: unknown; authorized?: unknown; identity?: unknown };
      return secureChannels.createListener({
        address: str(req, 'address')!,
        ...(req.authorized !== undefined ? { authorized: identifiers(req.authorized) } : {}),
        ...(typeof req.identity === 'string' ? { identity: req.identity } : {}),
      });
    })
    .on('GET', '/secure-channel-listeners', () => ({ listeners: secureChannels.listListeners() }))
    .on('DELETE', '/secure-channel-listeners/:address', async (_b, p) => {
      await secureChannels.deleteListener(p.address!);
      return { deleted: p.address };
    })
    .on('POST', '/tcp-outlets', (body) => {
      const b = body as Record<string, unknown>;
      const config: OutletConfig = { address: str(b, 'address', false) ?? 'outlet', to: str(b, 'to')! };
      if (typeof b.allow === 'string') config.allow = b.allow;
      return portals.createOutlet(config);
    })
    .on('GET', '/tcp-outlets', () => ({ outlets: portals.outlets() }))
    .on('GET', '/tcp-outlets/:address', (_b, p) => portals.outlet(p.address!))
    .on('DELETE', '/tcp-outlets/:address', async (_b, p) => {
      await portals.deleteOutlet(p.address!);
      return { deleted: p.address };
    })
    .on('POST', '/tcp-inlets', (body) => {
      const b = body as Record<string, unknown>;
      const config: InletConfig = { name: str(b, 'name')!, from: str(b, 'from')!, to: str(b, 'to')! };
      if (b.authorized !== undefined) config.authorized = identifiers(b.authorized);
      if (typeof b.allow === 'string') config.allow = b.allow;
      if (typeof b.connectionWaitMs === 'number') config.connectionWaitMs = b.connectionWaitMs;
      if (b.udp === true) config.udp = true;
      if (b.noTcpFallback === true) config.noTcpFallback = true;
      return portals.createInlet(config);
    })
    .on('GET', '/tcp-inlets', () => ({ inlets: portals.inlets() }))
    .on('GET', '/tcp-inlets/:name', (_b, p) => portals.inlet(p.name!))
    .on('DELETE', '/tcp-inlets/:name', async (_b, p) => {
      await portals.deleteInlet(p.name!);
      return { deleted: p.name };
    })
    .on('POST', '/relays', (body) => {
      const b = body as Record<string, unknown>;
      const config: RelayConfig = { name: str(b, 'name')!, at: str(b, 'at')! };
      if (b.authorized !== undefined) config.authorized = identifiers(b.authorized);
      return portals.createRelay(config);
    })
    .on('GET', '/relays', () => ({ relays: portals.relays(), served: portals.relayNames() }))
    .on('GET', '/relays/:name', (_b, p) => portals.relay(p.name!))
    .on('DELETE', '/relays/:name', async (_b, p) => {
      await portals.deleteRelay(p.name!);
      return { deleted: p.name };
    })
    .on('POST', '/policies', async (body) => {
      const b = body as Record<string, unknown>;
      const target = policyTarget(b);
      const expression = await trust.policies.setPolicy(target, str(b, 'expression')!);
      logger?.info('policy set', { ...target, expression });
      return { ...target, expression };
    })
    .on('GET', '/policies', async () => ({
      resources: await trust.policies.store.listResourcePolicies(),
      resourceTypes: await trust.policies.store.listResourceTypePolicies(),
    }))
    .on('GET', '/policy', async (_b, p) => {
      const target = policyTarget(p);
      const expression = await trust.policies.getPolicy(target);
      if (expression === undefined)
        throw new HttpError(
          404,
          `No policy for ${'resourceName' in target ? `resource ${target.resourceName}` : `resource type ${target.resourceType}`}`,
          'not-found',
        );
      return { ...target, expression };
    })
    .on('DELETE', '/policy', async (_b, p) => {
      const target = policyTarget(p);
      if (!(await trust.policies.deletePolicy(target)))
        throw new HttpError(404, 'No such policy', 'not-found');
      return { deleted: target };
    })
    .on('GET', '/trust', () => ({
      project: trust.project
        ? { name: trust.project.name, id: trust.project.id, identifier: trust.project.identifier }
        : null,
      authority: trust.isAuthority,
      credentials: trust.credentials().length,
    }))
    .on('POST', '/stop', () => {
      setImmediate(() => options.onStopRequested?.());
      return { stopping: name };
    });

  const socketPath = home.socketPath(name);
  try {
    home.ensureNodeDir(name);
    await api.listen(socketPath);
  } catch (e) {
    await secureChannels.stop();
    await node.stop();
    throw OckamError.is(e)
      ? e
      : new OckamError(
          'node',
          'io',
          `Cannot serve the control API on ${socketPath}: ${(e as Error).message}`,
          { cause: e },
        );
  }
  if (options.httpServer) {
    try {
      httpServer = await startStatusServer(options.httpServer, {
        health: () => ({ node: name, identifier, uptimeMs: Date.now() - started }),
        show: () => publicStatus(status()),
        ...(options.exampleDir ? { staticDir: options.exampleDir } : {}),
        ...(options.httpServerAllowedHosts ? { allowedHosts: options.httpServerAllowedHosts } : {}),
        ...(logger ? { logger } : {}),
        metrics: () => [
          ...nodeMetrics(node, tcp, closedTcpTotals, secureChannels, started, workerMessages, ws),
          {
            name: 'ockam_portal_connections_open',
            help: 'Open portal connections (inlets and outlets)',
            type: 'gauge',
            samples: [{ value: portals.openConnections() }],
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
      });
      // The example page this server serves connects to the WebSocket listener from its origins.
      if (options.exampleDir) for (const o of httpServer.origins) wsListener?.allowOrigin(o);
    } catch (e) {
      await api.close();
      await secureChannels.stop();
      await node.stop();
      throw new OckamError(
        'node',
        'io',
        `Cannot start the HTTP status server on ${options.httpServer}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  logger?.info('node started', {
    name,
    tcpListenerAddress,
    pid: process.pid,
    httpServer: httpServer?.address,
  });

  let stopping: Promise<void> | undefined;
  return {
    name,
    node,
    tcp,
    listener,
    tcpListenerAddress,
    socketPath,
    identifier,
    secureChannels,
    httpServerAddress: httpServer?.address,
    stop() {
      stopping ??= (async () => {
        await httpServer?.close();
        await api.close();
        await portals.stop();
        await udp?.stop();
        await trust.stop();
        await secureChannels.stop();
        await node.stop();
        logger?.info('node stopped', { name });
      })();
      return stopping;
    },
  };
}

type TcpTotals = { bytesRead: number; bytesWritten: number; messagesIn: number; messagesOut: number };

function nodeMetrics(
  node: Node,
  tcp: TcpTransport,
  closed: TcpTotals,
  channels: SecureChannels,
  started: number,
  workerMessages: WorkerMessageTotals,
  ws: WebSocketTransport | undefined,
): Metric[] {
  const conns = tcp.connections();
  const sum = (f: (s: TcpTotals) => number) => conns.reduce((n, c) => n + f(c.stats()), f(closed));

  const open = channels.openCounts();
  const handshakes = channels.handshakeCounts();
  return [
    {
      name: 'ockam_worker_messages_total',
      help: 'Messages delivered to workers, by kind (a service name, or secure_channel, tcp_sender, relay, ...)',
      type: 'counter',
      samples: [...workerMessages.read(node.deliveryCounts())]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([kind, value]) => ({ labels: { kind }, value })),
    },
    {
      name: 'ockam_tcp_connections_open',
      help: 'Open TCP connections',
      type: 'gauge',
      samples: [{ value: conns.length }],
    },
    {
      name: 'ockam_transport_connections_limited_total',
      help: 'Connections refused (max-connections) or closed by a limit of the TCP or WebSocket transport',
      type: 'counter',
      samples: [
        ...limitSamples('tcp', tcp.inboundStats()),
        ...(ws ? limitSamples('websocket', ws.inboundStats()) : []),
      ],
    },
    {
      name: 'ockam_tcp_bytes_received_total',
      help: 'Bytes read from open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.bytesRead) }],
    },
    {
      name: 'ockam_tcp_bytes_sent_total',
      help: 'Bytes written to open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.bytesWritten) }],
    },
    {
      name: 'ockam_tcp_messages_received_total',
      help: 'Messages read from open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.messagesIn) }],
    },
    {
      name: 'ockam_tcp_messages_sent_total',
      help: 'Messages written to open TCP connections',
      type: 'counter',
      samples: [{ value: sum((s) => s.messagesOut) }],
    },
    {
      name: 'ockam_secure_channel_handshakes_total',
      help: 'Secure channel handshakes by outcome',
      type: 'counter',
      samples: [
        { labels: { result: 'initiated' }, value: channels.handshakes.initiated },
        { labels: { result: 'accepted' }, value: channels.handshakes.accepted },
        { labels: { result: 'failed' }, value: channels.handshakes.failed },
        { labels: { result: 'dropped' }, value: handshakes.dropped },
      ],
    },
    {
      name: 'ockam_secure_channel_handshakes_pending',
      help: 'Unfinished secure channel handshakes over all listeners (failed ones until their deadline)',
      type: 'gauge',
      samples: [{ value: handshakes.pending }],
    },
    {
      name: 'ockam_secure_channels_open',
      help: 'Open secure channels by role',
      type: 'gauge',
      samples: [
        { labels: { role: 'initiator' }, value: open.initiated },
        { labels: { role: 'responder' }, value: open.accepted },
      ],
    },
    {
      name: 'ockam_secure_channels_idle_closed_total',
      help: 'Secure channels accepted by a listener and closed for carrying nothing for the idle timeout',
      type: 'counter',
      samples: [{ value: handshakes.idleClosed }],
    },
    {
      name: 'process_resident_memory_bytes',
      help: 'Resident set size',
      type: 'gauge',
      samples: [{ value: process.memoryUsage.rss() }],
    },
    {
      name: 'process_uptime_seconds',
      help: 'Seconds since the node started',
      type: 'gauge',
      samples: [{ value: (Date.now() - started) / 1000 }],
    },
  ];
}

function limitSamples(transport: string, stats: InboundStats): Metric['samples'] {
  return [
    { labels: { transport, limit: 'max-connections' }, value: stats.refused },
    ...Object.entries(stats.closed).map(([limit, value]) => ({ labels: { transport, limit }, value })),
  ];
}
