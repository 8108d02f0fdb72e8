/**
 * The daemon's node: `createNode` from `@ockam/node`, plus the control API on the node's Unix
 * socket and, on request, the HTTP status server. `startNodeRuntime` is what the daemon process
 * runs; tests call it directly too.
 *
 * @example
 * ```ts
 * import { OckamHome, State } from '@ockam/state';
 * import { startNodeRuntime } from '@ockam/daemon';
 * const home = new OckamHome('/tmp/ockam');
 * const rt = await startNodeRuntime({ home, state: new State(home), name: 'n1' });
 * console.log(rt.tcpListenerAddress); // 127.0.0.1:PORT
 * await rt.stop();
 * ```
 */

import { ALL_RESOURCE_TYPES, isResourceType } from '@ockam/abac';
import { Address, fromHex, OckamError, Route, toHex } from '@ockam/core';
import {
  type BrokerKind,
  CleanupStack,
  createNode,
  type InletConfig,
  type KafkaInletConfig,
  type KafkaOutletConfig,
  type NodeOptions,
  type OckamNode,
  type OutletConfig,
  type PolicyTarget,
  type RelayConfig,
  SERVICE_KINDS,
  type ServiceKind,
} from '@ockam/node';
import type { NodeStatus } from '@ockam/node/control';
import type { OckamHome, State } from '@ockam/state';
import { ControlServer, type Handlers, HttpError } from './control-server.js';
import { publicStatus, type StatusServer, startStatusServer } from './status-server.js';

/** What `createNode` takes (but its state and name are required), and what the daemon adds. */
export interface NodeRuntimeOptions extends Omit<NodeOptions, 'state' | 'home' | 'name' | 'router' | 'tcp'> {
  home: OckamHome;
  /** The state database (identities and vaults live there). */
  state: State;
  name: string;
  /** HOST:PORT for the TCP listener; default 127.0.0.1:0 (a free port). */
  tcpListenerAddress?: string;
  /** [HOST:]PORT of an optional HTTP status server (/health, /show, /metrics). */
  httpServer?: string;
  /** `Host` names the HTTP status server answers to besides its own addresses (behind a proxy). */
  httpServerAllowedHosts?: readonly string[];
  /** Directory of static files the HTTP status server serves under /example/ (the browser example). */
  exampleDir?: string;
  /** Called once the node asks to be stopped through its control API. */
  onStopRequested?: () => void;
}

export interface NodeRuntime {
  readonly name: string;
  readonly node: OckamNode;
  readonly tcpListenerAddress: string;
  readonly socketPath: string;
  readonly identifier: string;
  /** The bound address of the HTTP status server, if one was asked for. */
  readonly httpServerAddress: string | undefined;
  stop(): Promise<void>;
}

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

/** A hex field of a request (a credential, an exported identity: well under 64 KiB of text). */
function hexField(value: unknown, key: string): Uint8Array {
  if (typeof value !== 'string' || value.length > 64 * 1024 || !/^([0-9a-fA-F]{2})+$/.test(value))
    throw new HttpError(400, `${key} must be hex (at most 32 KiB)`, 'invalid');
  return fromHex(value, key);
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

function policyTarget(b: Record<string, unknown>): PolicyTarget {
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

function brokerKind(value: unknown): BrokerKind {
  if (value === 'kafka' || value === 'amqp') return value;
  throw new HttpError(400, "Field 'kind' must be 'kafka' or 'amqp'");
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

/** An address a service is named by: 1-64 letters, digits, '_', '.' or '-'. */
function serviceAddress(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(value))
    throw new HttpError(
      400,
      `Invalid address ${JSON.stringify(value)}: 1-64 letters, digits, '_', '.' or '-'`,
    );
  return value;
}

/** A `ConsumerResolution` or `ConsumerPublishing` from the socket. */
function kafkaChoice(
  value: unknown,
  key: string,
  kinds: readonly string[],
): { kind: string; route?: string } {
  const v = value as { kind?: unknown; route?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.kind !== 'string' || !kinds.includes(v.kind))
    throw new HttpError(400, `Field '${key}' must be an object with a kind of ${kinds.join(', ')}`);
  if (v.kind === 'none') return { kind: 'none' };
  if (typeof v.route !== 'string' || v.route === '' || v.route.length > 1024)
    throw new HttpError(400, `Field '${key}.route' must be a multiaddr`);
  return { kind: v.kind, route: v.route };
}

/** A kafka-inlet's configuration from the socket, every field checked. */
function kafkaInletConfig(b: Record<string, unknown>): KafkaInletConfig {
  const config: KafkaInletConfig = {
    from: str(b, 'from')!,
    to: str(b, 'to')!,
    consumerResolution: kafkaChoice(b.consumerResolution, 'consumerResolution', [
      'none',
      'single-node',
      'via-relay',
    ]) as KafkaInletConfig['consumerResolution'],
    consumerPublishing: kafkaChoice(b.consumerPublishing, 'consumerPublishing', [
      'none',
      'relay',
    ]) as KafkaInletConfig['consumerPublishing'],
  };
  const addr = serviceAddress(b.addr);
  if (addr !== undefined) config.addr = addr;
  if (b.brokersPortRange !== undefined) {
    const r = b.brokersPortRange;
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !r.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535) ||
      r[0] > r[1]
    )
      throw new HttpError(400, "Field 'brokersPortRange' must be [start, end], ports with start <= end");
    config.brokersPortRange = [r[0], r[1]];
  }
  if (b.encryptContent === false) config.encryptContent = false;
  if (b.encryptedFields !== undefined) {
    const f = b.encryptedFields;
    if (
      !Array.isArray(f) ||
      f.length > 256 ||
      !f.every((x) => typeof x === 'string' && x !== '' && x.length <= 1024)
    )
      throw new HttpError(400, "Field 'encryptedFields' must be a list of field names");
    config.encryptedFields = f as string[];
  }
  for (const key of ['allow', 'allowConsumer', 'allowProducer'] as const)
    if (b[key] !== undefined) config[key] = str(b, key)!;
  return config;
}

/** The control API's handlers: each checks what the socket sent and calls the node. */
function controlHandlers(node: OckamNode, status: () => NodeStatus, onStop: () => void): Handlers {
  return {
    status: () => status(),
    workers: () => ({ workers: node.workers() }),
    stop: () => {
      setImmediate(onStop);
      return { stopping: node.name };
    },
    createTcpConnection: (b) => node.connectTcp(str(b, 'to')!, { expose: b.expose === true }),
    listTcpConnections: () => ({ connections: node.tcpConnections() }),
    deleteTcpConnection: async (p) => {
      const address = str(p, 'address')!;
      await node.closeTcpConnection(address);
      return { deleted: address };
    },
    createBrokerListener: (b) =>
      node.createBrokerListener(brokerKind(b.kind), str(b, 'broker')!, str(b, 'inbox')!),
    listBrokerListeners: (q) => ({
      listeners: node.brokerListeners(q.kind === undefined ? undefined : brokerKind(q.kind)),
    }),
    deleteBrokerListener: (p) => node.deleteBrokerListener(brokerKind(p.kind), str(p, 'inbox')!),
    createBrokerConnection: (b) =>
      node.connectBroker(brokerKind(b.kind), str(b, 'target')!, {
        ...(typeof b.broker === 'string' ? { broker: b.broker } : {}),
        expose: b.expose === true,
      }),
    listBrokerConnections: (q) => ({
      connections: node.brokerConnections(q.kind === undefined ? undefined : brokerKind(q.kind)),
    }),
    deleteBrokerConnection: async (p) => ({
      deleted: await node.closeBrokerConnection(brokerKind(p.kind), str(p, 'address')!),
    }),
    createTcpListener: (b) => node.createTcpListener(str(b, 'address')!),
    listTcpListeners: () => ({ listeners: node.tcpListeners() }),
    deleteTcpListener: (p) => node.deleteTcpListener(str(p, 'address')!),
    startService: (b) => {
      const kind = str(b, 'kind')!;
      if (!(SERVICE_KINDS as readonly string[]).includes(kind))
        throw new HttpError(400, `Unknown service kind '${kind}': use ${SERVICE_KINDS.join(', ')}`);
      const address = str(b, 'address')!;
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(address))
        throw new HttpError(
          400,
          `Invalid service address '${address}': 1-64 letters, digits, '_', '.' or '-'`,
        );
      return node.startService(kind as ServiceKind, address);
    },
    listServices: () => ({ services: node.services() }),
    sendMessage: async (b) => {
      const reply = await node.request(
        parseRoute(b.route),
        fromHex(str(b, 'payloadHex', false) ?? '', 'payloadHex'),
        { timeoutMs: typeof b.timeoutMs === 'number' ? b.timeoutMs : 10_000 },
      );
      return {
        payloadHex: toHex(reply.payload),
        returnRoute: reply.returnRoute.addresses.map((a) => a.toString()),
      };
    },
    createSecureChannel: async (b) =>
      (
        await node.createSecureChannel(parseRoute(b.route), {
          ...(b.authorized !== undefined ? { authorized: identifiers(b.authorized) } : {}),
          ...(typeof b.identity === 'string' ? { identity: b.identity } : {}),
          ...(typeof b.timeoutMs === 'number' ? { timeoutMs: b.timeoutMs } : {}),
          ...(b.credential !== undefined ? { credential: hexField(b.credential, 'credential') } : {}),
          ...(b.authorityIdentity !== undefined
            ? { authority: hexField(b.authorityIdentity, 'authorityIdentity') }
            : {}),
        })
      ).info(),
    listSecureChannels: () => ({ channels: node.secureChannels() }),
    getSecureChannel: (p) => node.secureChannel(str(p, 'address')!).info(),
    deleteSecureChannel: async (p) => {
      const address = str(p, 'address')!;
      await node.deleteSecureChannel(address);
      return { deleted: address };
    },
    createSecureChannelListener: (b) =>
      node.createSecureChannelListener({
        address: str(b, 'address')!,
        ...(b.authorized !== undefined ? { authorized: identifiers(b.authorized) } : {}),
        ...(typeof b.identity === 'string' ? { identity: b.identity } : {}),
      }),
    listSecureChannelListeners: () => ({ listeners: node.secureChannelListeners() }),
    deleteSecureChannelListener: async (p) => {
      const address = str(p, 'address')!;
      await node.deleteSecureChannelListener(address);
      return { deleted: address };
    },
    createOutlet: (b) => {
      const config: OutletConfig = { to: str(b, 'to')! };
      const address = str(b, 'address', false);
      if (address !== undefined) config.address = address;
      if (typeof b.allow === 'string') config.allow = b.allow;
      return node.createOutlet(config);
    },
    listOutlets: () => ({ outlets: node.outlets() }),
    getOutlet: (p) => node.outlet(str(p, 'address')!),
    deleteOutlet: async (p) => {
      const address = str(p, 'address')!;
      await node.deleteOutlet(address);
      return { deleted: address };
    },
    createInlet: (b) => {
      const config: InletConfig = { name: str(b, 'name')!, from: str(b, 'from')!, to: str(b, 'to')! };
      if (b.authorized !== undefined) config.authorized = identifiers(b.authorized);
      if (typeof b.identity === 'string') config.identity = b.identity;
      if (typeof b.allow === 'string') config.allow = b.allow;
      if (typeof b.connectionWaitMs === 'number') config.connectionWaitMs = b.connectionWaitMs;
      if (typeof b.retryWaitMs === 'number') config.retryWaitMs = b.retryWaitMs;
      if (b.noConnectionWait === true) config.noConnectionWait = true;
      if (b.udp === true) config.udp = true;
      if (b.noTcpFallback === true) config.noTcpFallback = true;
      return node.createInlet(config);
    },
    listInlets: () => ({ inlets: node.inlets() }),
    getInlet: (p) => node.inlet(str(p, 'name')!),
    deleteInlet: async (p) => {
      const name = str(p, 'name')!;
      await node.deleteInlet(name);
      return { deleted: name };
    },
    createRelay: (b) => {
      const config: RelayConfig = { name: str(b, 'name')!, at: str(b, 'at')! };
      if (b.authorized !== undefined) config.authorized = identifiers(b.authorized);
      if (b.noConnectionWait === true) config.noConnectionWait = true;
      return node.createRelay(config);
    },
    listRelays: () => ({ relays: node.relays(), served: node.servedRelays() }),
    getRelay: (p) => node.relay(str(p, 'name')!),
    deleteRelay: async (p) => {
      const name = str(p, 'name')!;
      await node.deleteRelay(name);
      return { deleted: name };
    },
    createKafkaOutlet: (b) => {
      const config: KafkaOutletConfig = { bootstrapServer: str(b, 'bootstrapServer')! };
      const addr = serviceAddress(b.addr);
      if (addr !== undefined) config.addr = addr;
      if (b.tls === true) config.tls = true;
      if (b.allow !== undefined) config.allow = str(b, 'allow')!;
      return node.createKafkaOutlet(config);
    },
    listKafkaOutlets: () => ({ outlets: node.kafkaOutlets() }),
    getKafkaOutlet: (p) => node.kafkaOutlet(str(p, 'addr')!),
    deleteKafkaOutlet: async (p) => {
      const addr = str(p, 'addr')!;
      await node.deleteKafkaOutlet(addr);
      return { deleted: addr };
    },
    createKafkaInlet: (b) => node.createKafkaInlet(kafkaInletConfig(b)),
    listKafkaInlets: () => ({ inlets: node.kafkaInlets() }),
    getKafkaInlet: (p) => node.kafkaInlet(str(p, 'addr')!),
    deleteKafkaInlet: async (p) => {
      const addr = str(p, 'addr')!;
      await node.deleteKafkaInlet(addr);
      return { deleted: addr };
    },
    setPolicy: async (b) => {
      const target = policyTarget(b);
      return { ...target, expression: await node.setPolicy(target, str(b, 'expression')!) };
    },
    listPolicies: () => node.policies(),
    getPolicy: async (p) => {
      const target = policyTarget(p);
      const expression = await node.policy(target);
      if (expression === undefined)
        throw new HttpError(
          404,
          `No policy for ${'resourceName' in target ? `resource ${target.resourceName}` : `resource type ${target.resourceType}`}`,
          'not-found',
        );
      return { ...target, expression };
    },
    deletePolicy: async (p) => {
      const target = policyTarget(p);
      if (!(await node.deletePolicy(target))) throw new HttpError(404, 'No such policy', 'not-found');
      return { deleted: target };
    },
    trust: () => node.trust(),
    presentCredential: (b) => {
      const credential = hexField(b.credential, 'credential');
      if (node.trust().trustedAuthority === null)
        throw new HttpError(409, 'This node trusts no authority: it presents no credential', 'invalid');
      node.presentCredential(credential);
      return { presented: true as const };
    },
  };
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { home, name, logger } = options;
  const cleanup = new CleanupStack();
  try {
    // What is the daemon's stays here; the rest is the node's.
    const {
      home: _home,
      httpServer,
      httpServerAllowedHosts,
      exampleDir,
      onStopRequested,
      tcpListenerAddress,
      ...nodeOptions
    } = options;
    const node = await createNode({
      ...nodeOptions,
      ...(tcpListenerAddress ? { tcp: { listen: tcpListenerAddress } } : {}),
      router: routerLimits(process.env),
    });
    cleanup.push('node', () => node.stop());

    let statusServer: StatusServer | undefined;
    const status = (): NodeStatus => ({ ...node.status(), httpServerAddress: statusServer?.address ?? null });
    const api = new ControlServer().serve(controlHandlers(node, status, () => onStopRequested?.()));
    const socketPath = home.socketPath(name);
    try {
      home.ensureSocketDir();
      await api.listen(socketPath);
    } catch (e) {
      throw OckamError.is(e)
        ? e
        : new OckamError(
            'node',
            'io',
            `Cannot serve the control API on ${socketPath}: ${(e as Error).message}`,
            {
              cause: e,
            },
          );
    }
    cleanup.push('control API', () => api.close());

    if (httpServer) {
      try {
        statusServer = await startStatusServer(httpServer, {
          health: () => ({ node: name, identifier: node.identifier, uptimeMs: node.status().uptimeMs }),
          show: () => publicStatus(status()),
          ...(exampleDir ? { staticDir: exampleDir } : {}),
          ...(httpServerAllowedHosts ? { allowedHosts: httpServerAllowedHosts } : {}),
          ...(logger ? { logger } : {}),
          metrics: () => node.metrics(),
        });
      } catch (e) {
        throw new OckamError(
          'node',
          'io',
          `Cannot start the HTTP status server on ${httpServer}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      const server = statusServer;
      cleanup.push('status server', () => server.close());
      // The example page this server serves connects to the WebSocket listener from its origins.
      if (exampleDir) for (const o of server.origins) node.allowWebSocketOrigin(o);
    }
    logger?.info('daemon serving', { name, socketPath, httpServer: statusServer?.address });
    return {
      name,
      node,
      tcpListenerAddress: node.tcpListenerAddress,
      socketPath,
      identifier: node.identifier,
      httpServerAddress: statusServer?.address,
      stop: () => cleanup.run(logger),
    };
  } catch (e) {
    await cleanup.run(logger);
    throw e;
  }
}
