/**
 * A node's kafka-outlet and kafka-inlets (KAFKA.md §1.1, §1.2, §3): Ockam's Kafka portals on our
 * TCP portals, with the Kafka interception of `@ockam/kafka` on a portal interceptor hop.
 *
 * kafka-outlet (beside the brokers): the interceptor `kafka_interceptor` (reachable through the
 * node's secure channels, and its listener without an authority, as outlets are), the outlet
 * `kafka_bootstrap` to the bootstrap server, and one outlet `kafka_outlet_<id>` per broker, made
 * the first time a Metadata response names it. The worker addresses are fixed (Ockam's, on the
 * wire), so a node holds one kafka-outlet. Deleting it removes every outlet it made (Ockam leaves
 * the broker outlets behind).
 *
 * kafka-inlet (beside a Kafka client): the interceptor `<addr>` (Kafka-aware: it rewrites broker
 * addresses, encrypts Produce values and decrypts Fetch responses through the inlet's key
 * exchange), a bootstrap TCP inlet on `from` with route `[<addr>] ++ to ++ [kafka_interceptor,
 * kafka_bootstrap]`, and a TCP inlet per broker, on ports given out in order from the broker port
 * range, with route `… kafka_outlet_<id>`. Deleting it stops all of them (Ockam stops only the
 * interceptor and leaves the ports bound).
 *
 * Both are saved in the state database and recreated when the node starts again.
 */
import {
  type FlowControlId,
  type IncomingAccessControl,
  type Logger,
  type Node,
  OckamError,
  parseHostPort,
  Route,
} from '@ockam/core';
import { KafkaInletInterceptor, KafkaOutletInterceptor } from '@ockam/kafka';
import {
  createInlet,
  createOutlet,
  type Inlet,
  type Outlet,
  type PortalInterceptor,
  type SessionOptions,
  startInletInterceptor,
  startOutletInterceptor,
} from '@ockam/portals';
import type {
  ConsumerPublishing,
  ConsumerResolution,
  KafkaKeyExchange,
  KafkaKeyExchangeOptions,
} from './kafka-keys.js';
import type { NodeRecords } from './memory-state.js';
import { type RouteContext, resolveMultiaddr } from './route-resolver.js';
import type { SecureChannels } from './secure-channels.js';

/** Ockam's fixed addresses (KAFKA.md §1.1). */
export const KAFKA_OUTLET_INTERCEPTOR_ADDRESS = 'kafka_interceptor';
export const KAFKA_OUTLET_BOOTSTRAP_ADDRESS = 'kafka_bootstrap';
export const DEFAULT_KAFKA_INLET_ADDRESS = 'kafka_inlet';
export const DEFAULT_KAFKA_OUTLET_ADDRESS = 'kafka_outlet';

/** `kafka_outlet_<broker id>`. */
export function kafkaOutletAddress(brokerId: number): string {
  return `kafka_outlet_${brokerId}`;
}

export interface KafkaOutletConfig {
  /** The service's name and the ABAC resource of its outlets (default `kafka_outlet`). */
  addr?: string;
  /** HOST:PORT of the bootstrap server. */
  bootstrapServer: string;
  /** TLS to the bootstrap server and every broker. */
  tls?: boolean;
  /** Policy of the outlets (resource `<addr>`, type `tcp-outlet`). */
  allow?: string;
}

export interface KafkaInletConfig {
  /** The interceptor's address and the service's name (default `kafka_inlet`). */
  addr?: string;
  /** HOST:PORT of the bootstrap listener; its host is also where brokers are offered. */
  from: string;
  /** Broker ports, inclusive (default `from`'s port + 1 … + 100, at most 65535). */
  brokersPortRange?: [number, number];
  /** Multiaddr of the node running the kafka-outlet. */
  to: string;
  /** false: `--disable-content-encryption`. */
  encryptContent?: boolean;
  /** `--encrypted-field`: encrypt these top-level JSON fields only. */
  encryptedFields?: string[];
  consumerResolution: ConsumerResolution;
  consumerPublishing: ConsumerPublishing;
  /** Policy of the inlet (resource `<addr>`, type `tcp-inlet`). */
  allow?: string;
  /** Policy for consumers (resource `kafka-consumer-<addr>`). */
  allowConsumer?: string;
  /** Policy for producers (resource `kafka-producer-<addr>`). */
  allowProducer?: string;
}

/** A Kafka service as Ockam lists it (`ServiceStatus`): `{ addr, type }`. */
export interface KafkaServiceStatus {
  addr: string;
  type: 'kafka_inlet' | 'kafka_outlet';
}

export interface KafkaOutletInfo extends KafkaServiceStatus {
  type: 'kafka_outlet';
  bootstrapServer: string;
  tls: boolean;
  /** Broker outlets made so far, by broker id. */
  brokers: Record<string, string>;
}

export interface KafkaInletInfo extends KafkaServiceStatus {
  type: 'kafka_inlet';
  /** The bootstrap listener's bound HOST:PORT. */
  from: string;
  brokersPortRange: [number, number];
  to: string;
  encryptContent: boolean;
  encryptedFields: string[];
  /** Broker inlets made so far: broker id → HOST:PORT. */
  brokers: Record<string, string>;
  status: string;
}

export interface KafkaServicesOptions {
  node: Node;
  nodeName: string;
  state: NodeRecords;
  channels: SecureChannels;
  routeContext: () => RouteContext;
  /** Flow-control ids whose producers may reach outlet-side services. */
  exposedTo: () => FlowControlId[];
  accessControl: (
    kind: 'tcp-inlet' | 'tcp-outlet',
    name: string,
    allow: string | undefined,
  ) => Promise<IncomingAccessControl | undefined>;
  /** The key exchange of one kafka-inlet (`createKafkaKeyExchange` on this node). */
  keyExchange: (options: KafkaKeyExchangeOptions) => Promise<KafkaKeyExchange>;
  session?: SessionOptions;
  logger?: Logger;
}

/** Handshake timeout of the channels the inlets build (as `Portals`). */
const SESSION_HANDSHAKE_TIMEOUT_MS = 10_000;

interface RunningOutlet {
  addr: string;
  config: KafkaOutletConfig;
  interceptor: PortalInterceptor;
  bootstrap: Outlet;
  brokers: Map<number, Outlet>;
  stopped: boolean;
}

interface RunningInlet {
  addr: string;
  config: KafkaInletConfig;
  range: [number, number];
  interceptor: PortalInterceptor;
  keys: KafkaKeyExchange;
  bootstrap: Inlet;
  /** Broker id → its inlet (a promise while it is being made). */
  brokers: Map<number, Promise<{ inlet: Inlet; host: string; port: number }>>;
  /** Broker id → HOST:PORT, once its inlet is bound. */
  bound: Map<number, string>;
  nextPort: number;
  stopped: boolean;
}

function invalid(message: string): OckamError {
  return new OckamError('node', 'invalid', message);
}

/** Ockam's default broker ports for a bootstrap port: the next 100, capped at 65535. */
export function defaultBrokersPortRange(fromPort: number): [number, number] {
  return [Math.min(fromPort + 1, 65535), Math.min(fromPort + 100, 65535)];
}

/** `START-END` (Ockam's `PortRange`): start ≤ end, both ports. */
export function parsePortRange(text: string): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
  const start = m ? Number(m[1]) : Number.NaN;
  const end = m ? Number(m[2]) : Number.NaN;
  if (!m || start > 65535 || end > 65535 || start > end)
    throw invalid(`Invalid port range '${text}': expected START-END with START <= END <= 65535`);
  return [start, end];
}

export class KafkaServices {
  readonly #o: KafkaServicesOptions;
  #outlet: RunningOutlet | undefined;
  readonly #inlets = new Map<string, RunningInlet>();

  constructor(options: KafkaServicesOptions) {
    this.#o = options;
  }

  /** Recreates the saved kafka services (after the node is up: inlets need its key exchange). */
  async start(): Promise<void> {
    const { state, nodeName, logger } = this.#o;
    for (const r of state.listResources(nodeName)) {
      try {
        if (r.kind === 'kafka-outlet') await this.createOutlet(r.config as KafkaOutletConfig, false);
        else if (r.kind === 'kafka-inlet') await this.createInlet(r.config as KafkaInletConfig, false);
      } catch (e) {
        logger?.error('could not recreate a saved kafka service', {
          kind: r.kind,
          name: r.name,
          error: (e as Error).message,
        });
      }
    }
  }

  // ---- kafka-outlet ----

  async createOutlet(requested: KafkaOutletConfig, save = true): Promise<KafkaOutletInfo> {
    const { node, nodeName } = this.#o;
    const addr = requested.addr ?? DEFAULT_KAFKA_OUTLET_ADDRESS;
    const config: KafkaOutletConfig = { ...requested, addr };
    parseHostPort(config.bootstrapServer);
    if (this.#inlets.has(addr))
      throw new OckamError(
        'node',
        'already-exists',
        `A kafka-inlet is already at address ${addr} on node ${nodeName}`,
      );
    if (
      this.#outlet !== undefined ||
      node.has(KAFKA_OUTLET_INTERCEPTOR_ADDRESS) ||
      node.has(KAFKA_OUTLET_BOOTSTRAP_ADDRESS)
    )
      throw new OckamError(
        'node',
        'already-exists',
        `Node ${nodeName} already has a kafka-outlet${this.#outlet ? ` (${this.#outlet.addr})` : ''}: a node holds one, at the fixed addresses ${KAFKA_OUTLET_INTERCEPTOR_ADDRESS} and ${KAFKA_OUTLET_BOOTSTRAP_ADDRESS}`,
      );
    const incoming = await this.#o.accessControl('tcp-outlet', addr, config.allow);
    const logger = this.#o.logger?.child({ kafkaOutlet: addr });
    const exposed = this.#o.exposedTo();
    const brokers = new Map<number, Outlet>();
    const running: RunningOutlet = {
      addr,
      config,
      brokers,
      stopped: false,
      interceptor: undefined as unknown as PortalInterceptor,
      bootstrap: undefined as unknown as Outlet,
    };
    const outletOptions = (to: string) => ({
      to,
      // KAFKA.md §3.2: TLS to the bootstrap server and to every broker.
      ...(config.tls ? { tls: true } : {}),
      consumerOf: exposed,
      ...(incoming ? { incoming } : {}),
      ...(logger ? { logger } : {}),
    });
    const kafka = new KafkaOutletInterceptor(
      {
        // KAFKA.md §1.5: a broker's outlet exists once a Metadata response named it, and goes to the
        // broker's own advertised address.
        brokerSeen: async (id, { host, port }) => {
          if (running.stopped || brokers.has(id)) return;
          const address = kafkaOutletAddress(id);
          if (node.has(address)) return;
          const outlet = createOutlet(node, { address, ...outletOptions(`${host}:${port}`) });
          brokers.set(id, outlet);
          this.#o.channels.exposeService(address);
          logger?.info('kafka-outlet: broker outlet created', { broker: id, address, to: `${host}:${port}` });
        },
      },
      logger ? { log: (level, message, fields) => logger[level](message, fields) } : {},
    );
    running.interceptor = startOutletInterceptor(node, {
      address: KAFKA_OUTLET_INTERCEPTOR_ADDRESS,
      create: () => kafka.connection(),
      consumerOf: exposed,
      ...(incoming ? { incoming } : {}),
      ...(logger ? { logger } : {}),
    });
    try {
      running.bootstrap = createOutlet(node, {
        address: KAFKA_OUTLET_BOOTSTRAP_ADDRESS,
        ...outletOptions(config.bootstrapServer),
      });
    } catch (e) {
      await running.interceptor.stop();
      throw e;
    }
    this.#o.channels.exposeService(KAFKA_OUTLET_INTERCEPTOR_ADDRESS);
    this.#o.channels.exposeService(KAFKA_OUTLET_BOOTSTRAP_ADDRESS);
    this.#outlet = running;
    if (save) this.#o.state.saveResource(nodeName, 'kafka-outlet', addr, config);
    logger?.info('kafka-outlet created', { bootstrapServer: config.bootstrapServer });
    return this.outlet(addr);
  }

  outlet(addr: string): KafkaOutletInfo {
    const o = this.#outlet;
    if (o === undefined || o.addr !== addr) throw this.#notFound(addr, 'kafka_outlet');
    return {
      addr,
      type: 'kafka_outlet',
      bootstrapServer: o.config.bootstrapServer,
      tls: o.config.tls === true,
      brokers: Object.fromEntries(
        [...o.brokers].map(([id, out]) => [String(id), `${out.to.host}:${out.to.port}`]),
      ),
    };
  }

  outlets(): KafkaOutletInfo[] {
    return this.#outlet ? [this.outlet(this.#outlet.addr)] : [];
  }

  async deleteOutlet(addr: string): Promise<void> {
    const o = this.#outlet;
    if (o === undefined || o.addr !== addr) throw this.#notFound(addr, 'kafka_outlet');
    this.#outlet = undefined;
    o.stopped = true;
    this.#o.state.deleteResource(this.#o.nodeName, 'kafka-outlet', addr);
    await o.interceptor.stop();
    await o.bootstrap.stop();
    await Promise.all([...o.brokers.values()].map((b) => b.stop()));
  }

  // ---- kafka-inlet ----

  async createInlet(requested: KafkaInletConfig, save = true): Promise<KafkaInletInfo> {
    const { node, nodeName } = this.#o;
    const addr = requested.addr ?? DEFAULT_KAFKA_INLET_ADDRESS;
    const config: KafkaInletConfig = { ...requested, addr };
    const from = parseHostPort(config.from);
    const range = config.brokersPortRange ?? defaultBrokersPortRange(from.port);
    if (!(range[0] >= 1 && range[1] <= 65535 && range[0] <= range[1]))
      throw invalid(`Invalid port range ${range[0]}-${range[1]}`);
    if (from.port >= range[0] && from.port <= range[1])
      throw invalid(
        `The bootstrap port ${from.port} can't overlap with the brokers port range ${range[0]}-${range[1]}`,
      );
    if (this.#inlets.has(addr) || this.#outlet?.addr === addr || node.has(addr))
      throw new OckamError('node', 'already-exists', `Address ${addr} is already in use on node ${nodeName}`);
    // KAFKA.md §1.1 step 4: --allow, else a project route's default, else the tcp-inlet type policy.
    let allow = config.allow;
    const project = /^\/project\/([^/]+)/.exec(config.to);
    if (allow === undefined && project) {
      const p = this.#o.routeContext().project?.(project[1]!);
      if (p) allow = `(or (= subject.identifier "${p.identifier}") (= subject.has_credential true))`;
    }
    const incoming = await this.#o.accessControl('tcp-inlet', addr, allow);
    const logger = this.#o.logger?.child({ kafkaInlet: addr });
    const keys = await this.#o.keyExchange({
      addr,
      consumerResolution: config.consumerResolution,
      consumerPublishing: config.consumerPublishing,
      ...(config.allowConsumer !== undefined ? { allowConsumer: config.allowConsumer } : {}),
      ...(config.allowProducer !== undefined ? { allowProducer: config.allowProducer } : {}),
    });
    const running: RunningInlet = {
      addr,
      config,
      range,
      keys,
      brokers: new Map(),
      bound: new Map(),
      nextPort: range[0],
      stopped: false,
      interceptor: undefined as unknown as PortalInterceptor,
      bootstrap: undefined as unknown as Inlet,
    };
    const kafka = new KafkaInletInterceptor(
      {
        brokerAddress: (id) => this.#brokerInlet(running, from.host, id),
        publishConsumer: (topic, partitions) => keys.publishConsumer(topic, partitions),
        encryptValue: (topic, partition, plaintext) => keys.encryptValue(topic, partition, plaintext),
        decryptValue: (topic, partition, stored) => keys.decryptValue(topic, partition, stored),
      },
      {
        encryptContent: config.encryptContent !== false,
        encryptedFields: config.encryptedFields ?? [],
        ...(logger ? { log: (level, message, fields) => logger[level](message, fields) } : {}),
      },
    );
    try {
      running.interceptor = startInletInterceptor(node, {
        address: addr,
        create: () => kafka.connection(),
        ...(incoming ? { incoming } : {}),
        ...(logger ? { logger } : {}),
      });
      running.bootstrap = await createInlet(node, {
        bind: config.from,
        route: this.#connector(addr, config.to, KAFKA_OUTLET_BOOTSTRAP_ADDRESS),
        // As Ockam's bootstrap inlet: wait for the route's first attempt.
        ...this.#sessionOptions(),
        ...(logger ? { logger } : {}),
      });
    } catch (e) {
      await running.interceptor?.stop();
      await keys.close();
      throw e;
    }
    this.#inlets.set(addr, running);
    const bound = `${running.bootstrap.address.host}:${running.bootstrap.address.port}`;
    // Saved with the port actually bound, so a restart listens where clients expect it.
    if (save) this.#o.state.saveResource(nodeName, 'kafka-inlet', addr, { ...config, from: bound });
    logger?.info('kafka-inlet created', { from: bound, to: config.to });
    return this.inlet(addr);
  }

  /** The broker inlet of broker `id`, made on the next free port of the range the first time. */
  #brokerInlet(running: RunningInlet, host: string, id: number): Promise<{ host: string; port: number }> {
    let made = running.brokers.get(id);
    if (made === undefined) {
      if (running.stopped) return Promise.reject(invalid('The kafka-inlet is stopped'));
      if (running.nextPort > running.range[1])
        return Promise.reject(
          new OckamError(
            'node',
            'unsupported',
            `The kafka-inlet ${running.addr} reached the upper port range ${running.range[1]}: no port left for broker ${id}`,
          ),
        );
      const port = running.nextPort++;
      made = createInlet(this.#o.node, {
        bind: `${host}:${port}`,
        route: this.#connector(running.addr, running.config.to, kafkaOutletAddress(id)),
        waitForRoute: false,
        ...this.#sessionOptions(),
        ...(this.#o.logger ? { logger: this.#o.logger } : {}),
      }).then(async (inlet) => {
        if (running.stopped) await inlet.stop();
        running.bound.set(id, `${host}:${inlet.address.port}`);
        this.#o.logger?.info('kafka-inlet: broker inlet created', { broker: id, at: `${host}:${port}` });
        return { inlet, host, port: inlet.address.port };
      });
      running.brokers.set(id, made);
      // A failed bind must not stick: the next Metadata response tries again (on the next port).
      made.catch(() => running.brokers.delete(id));
    }
    return made.then(({ host: h, port }) => ({ host: h, port }));
  }

  #sessionOptions(): { session?: SessionOptions } {
    return this.#o.session ? { session: this.#o.session } : {};
  }

  /**
   * The route of one of the inlet's TCP inlets: `[<addr>] ++ to ++ [kafka_interceptor, <outlet>]`,
   * rebuilt whenever it dies; pings go to `echo` on the outlet's node.
   */
  #connector(addr: string, to: string, outlet: string) {
    return async () => {
      const c = await resolveMultiaddr(this.#o.routeContext(), to, {
        timeoutMs: SESSION_HANDSHAKE_TIMEOUT_MS,
      });
      return {
        route: Route.of(addr).concat(c.route).append(KAFKA_OUTLET_INTERCEPTOR_ADDRESS).append(outlet),
        pingRoute: c.route.append('echo'),
        ...(c.flowControlId ? { flowControlId: c.flowControlId } : {}),
        ...(c.close ? { close: c.close } : {}),
      };
    };
  }

  inlet(addr: string): KafkaInletInfo {
    const i = this.#inlets.get(addr);
    if (i === undefined) throw this.#notFound(addr, 'kafka_inlet');
    const brokers = Object.fromEntries([...i.bound].map(([id, at]) => [String(id), at]));
    return {
      addr,
      type: 'kafka_inlet',
      from: `${i.bootstrap.address.host}:${i.bootstrap.address.port}`,
      brokersPortRange: i.range,
      to: i.config.to,
      encryptContent: i.config.encryptContent !== false,
      encryptedFields: i.config.encryptedFields ?? [],
      brokers,
      status: i.bootstrap.status,
    };
  }

  inlets(): KafkaInletInfo[] {
    return [...this.#inlets.keys()].map((a) => this.inlet(a));
  }

  async deleteInlet(addr: string): Promise<void> {
    const i = this.#inlets.get(addr);
    if (i === undefined) throw this.#notFound(addr, 'kafka_inlet');
    this.#inlets.delete(addr);
    i.stopped = true;
    this.#o.state.deleteResource(this.#o.nodeName, 'kafka-inlet', addr);
    await i.bootstrap.stop();
    const brokers = await Promise.allSettled([...i.brokers.values()]);
    await Promise.all(brokers.map((b) => (b.status === 'fulfilled' ? b.value.inlet.stop() : undefined)));
    await i.interceptor.stop();
    await i.keys.close();
  }

  /** Ockam's list of kafka services (`GET /node/services/kafka_*`). */
  statuses(): KafkaServiceStatus[] {
    return [
      ...[...this.#inlets.keys()].map((addr) => ({ addr, type: 'kafka_inlet' as const })),
      ...(this.#outlet ? [{ addr: this.#outlet.addr, type: 'kafka_outlet' as const }] : []),
    ];
  }

  /** Open connections through the kafka services (for metrics). */
  openConnections(): number {
    let n = this.#outlet?.interceptor.connections() ?? 0;
    for (const i of this.#inlets.values()) n += i.interceptor.connections();
    return n;
  }

  async stop(): Promise<void> {
    for (const addr of [...this.#inlets.keys()]) {
      const i = this.#inlets.get(addr)!;
      this.#inlets.delete(addr);
      i.stopped = true;
      await i.bootstrap.stop().catch(() => {});
      for (const b of await Promise.allSettled([...i.brokers.values()]))
        if (b.status === 'fulfilled') await b.value.inlet.stop().catch(() => {});
      await i.interceptor.stop().catch(() => {});
      await i.keys.close().catch(() => {});
    }
    const o = this.#outlet;
    this.#outlet = undefined;
    if (o) {
      o.stopped = true;
      await o.interceptor.stop().catch(() => {});
      await o.bootstrap.stop().catch(() => {});
      for (const b of o.brokers.values()) await b.stop().catch(() => {});
    }
  }

  /** Ockam's texts: the other kind at that address, or nothing there. */
  #notFound(addr: string, kind: 'kafka_inlet' | 'kafka_outlet'): OckamError {
    const actual = this.#inlets.has(addr) ? 'inlet' : this.#outlet?.addr === addr ? 'outlet' : undefined;
    const expected = kind === 'kafka_inlet' ? 'inlet' : 'outlet';
    return new OckamError(
      'node',
      'not-found',
      actual !== undefined && actual !== expected
        ? `Service at address '${addr}' is not a kafka ${expected}. A service of kind ${actual} was found instead`
        : `Service at address '${addr}' with kind ${expected} not found`,
    );
  }
}
