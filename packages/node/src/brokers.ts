/**
 * Broker hops on a node (`@ockam/transport-broker`): Kafka and RabbitMQ listeners (inboxes the
 * node consumes, exposed like a TCP listener) and connections (sender workers that publish to
 * another node's inbox, each also reachable as `/worker/<hex>`, like `tcp-connection create`).
 *
 * A node talks to one Kafka cluster and one RabbitMQ broker: the first listener names it, and
 * later listeners and connections must name the same one (or none).
 */
import { Address, AMQP, type FlowControlId, KAFKA, type Logger, type Node, OckamError } from '@ockam/core';
import { type BrokerConnection, type BrokerListener, BrokerTransport } from '@ockam/transport-broker';

export type BrokerKind = 'kafka' | 'amqp';
export const BROKER_KINDS: readonly BrokerKind[] = ['kafka', 'amqp'];

export interface BrokerListenerInfo {
  kind: BrokerKind;
  /** The broker: Kafka bootstrap servers, or the AMQP URL without its password. */
  broker: string;
  /** The topic or queue the node consumes. */
  inbox: string;
  processorAddress: string;
  flowControlId: string;
}

export interface BrokerConnectionInfo {
  kind: BrokerKind;
  broker: string;
  /** The topic or queue it publishes to. */
  target: string;
  senderAddress: string;
  /** 32 hex digits: routes reach the target through `/worker/ADDRESS`. */
  workerAddress: string;
  flowControlId: string;
  exposed: boolean;
}

export interface BrokerOptions {
  /** Options of each broker transport (`maxMessageBytes`, `maxQueued`, `replyPrefix`, …). */
  transport?: ConstructorParameters<typeof BrokerTransport>[2];
}

interface NodeBrokersInit {
  readonly node: Node;
  readonly logger?: Logger | undefined;
  readonly options?: BrokerOptions | undefined;
  /** The flow-control ids of the node's transport listeners (this adds and removes its inboxes). */
  readonly transportIds: FlowControlId[];
  /** Services and secure channel listeners that transport listeners' peers may reach. */
  readonly exposedAddresses: () => string[];
  /** What an exposed connection admits: the transport listeners' and channel listeners' ids. */
  readonly exposeIds: () => FlowControlId[];
  /** Starts the `/worker/<hex>` alias of a connection's sender. */
  readonly startAlias: (
    conn: { senderAddress: Address; closed: Promise<unknown> },
    consumerOf: FlowControlId[],
  ) => void;
}

const label = (kind: BrokerKind) => (kind === 'kafka' ? 'Kafka' : 'AMQP');

export class NodeBrokers {
  readonly #init: NodeBrokersInit;
  readonly #transports = new Map<BrokerKind, { transport: BrokerTransport; broker: string }>();
  readonly #exposed = new Set<BrokerConnection>();

  constructor(init: NodeBrokersInit) {
    this.#init = init;
  }

  /** The transport of `kind`, if the node has one. */
  transport(kind: BrokerKind): BrokerTransport | undefined {
    return this.#transports.get(kind)?.transport;
  }

  /** Starts consuming `inbox` on `broker` and exposes it as a TCP listener is exposed. */
  async createListener(kind: BrokerKind, broker: string, inbox: string): Promise<BrokerListenerInfo> {
    const t = await this.#transport(kind, broker);
    const listener = await t.listen(inbox);
    const { node, transportIds } = this.#init;
    transportIds.push(listener.flowControlId);
    for (const a of this.#init.exposedAddresses()) node.flowControls.addConsumer(a, listener.flowControlId);
    return this.#listenerInfo(kind, listener);
  }

  listeners(kind?: BrokerKind): BrokerListenerInfo[] {
    return this.#kinds(kind).flatMap((k) =>
      (this.#transports.get(k)?.transport.listeners() ?? []).map((l) => this.#listenerInfo(k, l)),
    );
  }

  async deleteListener(kind: BrokerKind, inbox: string): Promise<BrokerListenerInfo> {
    const listener = this.#transports
      .get(kind)
      ?.transport.listeners()
      .find((l) => l.inbox === inbox || l.processorAddress.value === inbox);
    if (!listener) throw new OckamError('node', 'not-found', `No ${label(kind)} listener on ${inbox}`);
    const info = this.#listenerInfo(kind, listener);
    await listener.close();
    const ids = this.#init.transportIds;
    const i = ids.indexOf(listener.flowControlId);
    if (i >= 0) ids.splice(i, 1);
    return info;
  }

  /**
   * A connection that publishes to `target`. Replies come back into the node's first listener
   * on the same broker, which must exist. `expose`: messages that came in through the node's
   * transport listeners may be forwarded through it (for multi-hop routes).
   */
  async connect(
    kind: BrokerKind,
    target: string,
    options: { broker?: string; expose?: boolean } = {},
  ): Promise<BrokerConnectionInfo> {
    const entry = this.#transports.get(kind);
    if (entry === undefined)
      throw new OckamError(
        'node',
        'not-found',
        `A ${label(kind)} connection needs a ${kind}-listener on this node first: replies come back into its inbox`,
      );
    if (options.broker !== undefined && normalize(kind, options.broker) !== entry.broker)
      throw new OckamError(
        'node',
        'invalid',
        `This node uses the ${label(kind)} broker ${entry.transport.client.endpoint}; it cannot also use ${redacted(kind, options.broker)}`,
      );
    const exposed = options.expose === true;
    // Reuse an open connection to the same target with the same exposure, as `connectTcp` does.
    const open = entry.transport
      .connections()
      .find((c) => c.isOpen && c.target === target && this.#exposed.has(c) === exposed);
    if (open !== undefined) return this.#connectionInfo(kind, open);
    const ids = exposed ? this.#init.exposeIds() : [];
    const conn = await entry.transport.connect(target, { exposeTo: ids });
    if (exposed) this.#exposed.add(conn);
    void conn.closed.then(() => this.#exposed.delete(conn));
    this.#init.startAlias(conn, ids);
    return this.#connectionInfo(kind, conn);
  }

  connections(kind?: BrokerKind): BrokerConnectionInfo[] {
    return this.#kinds(kind).flatMap((k) =>
      (this.#transports.get(k)?.transport.connections() ?? []).map((c) => this.#connectionInfo(k, c)),
    );
  }

  /** Closes a connection named by its sender address or its worker address. */
  async closeConnection(kind: BrokerKind, address: string): Promise<string> {
    const conn = this.#transports
      .get(kind)
      ?.transport.connections()
      .find((c) => c.senderAddress.value === address || workerAddress(c) === address);
    if (!conn) throw new OckamError('node', 'not-found', `No ${label(kind)} connection at ${address}`);
    await conn.close();
    return conn.senderAddress.value;
  }

  /** The sender address of the (shared) connection to `/kafka/NAME` or `/amqp/NAME`. */
  async resolve(kind: BrokerKind, name: string): Promise<Address> {
    const t = this.#transports.get(kind)?.transport;
    if (!t)
      throw new OckamError(
        'node',
        'not-found',
        `'/${kind}/${name}' needs a ${kind}-listener on this node: replies come back into its inbox`,
      );
    return t.resolve(new Address(brokerType(kind), name));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#transports.values()].map((e) => e.transport.stop()));
    this.#transports.clear();
  }

  async #transport(kind: BrokerKind, broker: string): Promise<BrokerTransport> {
    const key = normalize(kind, broker);
    const found = this.#transports.get(kind);
    if (found !== undefined) {
      if (found.broker !== key)
        throw new OckamError(
          'node',
          'invalid',
          `This node uses the ${label(kind)} broker ${found.transport.client.endpoint}; it cannot also use ${redacted(kind, broker)}`,
        );
      return found.transport;
    }
    const { node, logger } = this.#init;
    // The client libraries load only on a node that uses a broker: a daemon starts without them.
    const client =
      kind === 'kafka'
        ? new (await import('@ockam/transport-broker/kafka')).KafkaBroker({
            bootstrapServers: key.split(','),
          })
        : new (await import('@ockam/transport-broker/amqp')).AmqpBroker({ url: broker });
    // Another listener may have made the transport while the library loaded.
    const raced = this.#transports.get(kind);
    if (raced !== undefined) return this.#transport(kind, broker);
    const transport = new BrokerTransport(node, client, {
      ...(logger ? { logger } : {}),
      ...this.#init.options?.transport,
    });
    node.registerTransport(transport);
    this.#transports.set(kind, { transport, broker: key });
    return transport;
  }

  #kinds(kind: BrokerKind | undefined): BrokerKind[] {
    return kind === undefined ? [...BROKER_KINDS] : [kind];
  }

  #listenerInfo(kind: BrokerKind, l: BrokerListener): BrokerListenerInfo {
    return {
      kind,
      broker: l.transport.client.endpoint,
      inbox: l.inbox,
      processorAddress: l.processorAddress.value,
      flowControlId: l.flowControlId,
    };
  }

  #connectionInfo(kind: BrokerKind, c: BrokerConnection): BrokerConnectionInfo {
    return {
      kind,
      broker: c.transport.client.endpoint,
      target: c.target,
      senderAddress: c.senderAddress.value,
      workerAddress: workerAddress(c),
      flowControlId: c.flowControlId,
      exposed: this.#exposed.has(c),
    };
  }
}

/** The transport type of a broker kind (`KAFKA` = 16, `AMQP` = 17). */
export function brokerType(kind: BrokerKind): number {
  return kind === 'kafka' ? KAFKA : AMQP;
}

function workerAddress(c: BrokerConnection): string {
  const v = c.senderAddress.value;
  return v.slice(v.lastIndexOf('_') + 1);
}

/** One spelling per broker: bootstrap servers trimmed and comma-joined; an AMQP URL without its password. */
function normalize(kind: BrokerKind, broker: string): string {
  if (kind === 'kafka')
    return broker
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .join(',');
  return broker;
}

function redacted(kind: BrokerKind, broker: string): string {
  if (kind === 'kafka') return broker;
  try {
    const u = new URL(broker);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an invalid AMQP URL';
  }
}
