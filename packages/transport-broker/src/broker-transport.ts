/**
 * Brokers as route hops: a Kafka topic or a RabbitMQ queue carries Ockam routing messages (the
 * CBOR transport message of the TCP transport, PROTOCOL.md §2.1, one per broker message), so a
 * secure channel runs end to end through a broker that sees only its ciphertext.
 *
 * The design, shared by both brokers (each adapter only publishes and consumes):
 *
 * - **Inbox.** A node listens on its own inbox (`listen(name)`): a topic or queue it consumes.
 *   Whoever can write to it is an unauthenticated network peer, like a TCP client: its messages
 *   get the listener's flow-control id (a spawner, as a TCP listener's) and reach only what is
 *   exposed to it. Sizes are checked before decoding; a bounded local queue holds what waits to be
 *   routed, and the consumer pauses (Kafka) or stops being fed (AMQP prefetch) when it is full.
 * - **Replies.** Every message a node publishes carries, first in its return route, the address
 *   of its own inbox (`16#TOPIC` / `17#QUEUE`). The receiving node swaps it for a local *reply
 *   sender* that publishes to that inbox: only to names with the configured prefix, and at most
 *   `maxReplySenders` of them at once, so a remote message can never make a node publish anywhere
 *   else. A node never publishes because a remote message named a destination.
 * - **Connections.** Local code reaches another node's inbox through a connection
 *   (`connect(name)`, or `/kafka/NAME` / `/amqp/NAME` in a multiaddr): a sender worker that
 *   publishes there. Its messages also carry the connection's reply tag (its receiver's random
 *   address) after the inbox address, so replies that come back into our inbox are handed to that
 *   connection and routed with its own flow-control id — reaching whoever sent through it, as
 *   replies on an outgoing TCP connection do, and nothing else.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { BrokerTransport } from '@ockam/transport-broker';
 * import { KafkaBroker } from '@ockam/transport-broker/kafka';
 * const node = new Node();
 * const kafka = new BrokerTransport(node, new KafkaBroker({ bootstrapServers: ['127.0.0.1:9092'] }));
 * node.registerTransport(kafka);
 * const inbox = await kafka.listen('ockam.alice');        // replies (and peers) come in here
 * node.flowControls.addConsumer('echo', inbox.flowControlId); // expose echo to the inbox
 * ```
 */
import {
  Address,
  decodeTransportMessage,
  encodeTransportMessage,
  type FlowControlId,
  isBrokerName,
  type LocalInfo,
  LocalMessage,
  type Logger,
  LogLimiter,
  type Node,
  OckamError,
  type Route,
  type Transport,
} from '@ockam/core';
import type { BrokerClient, BrokerDelivery, InboxSubscription } from './broker-client.js';
import { BrokerTransportError } from './errors.js';

/** Largest message taken from an inbox or published (Kafka's default `message.max.bytes`, 1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Messages taken from an inbox and not yet routed above which consumption pauses. */
export const DEFAULT_MAX_QUEUED = 64;
/** Reply senders (distinct inboxes answered to) a transport holds at once. */
export const DEFAULT_MAX_REPLY_SENDERS = 16;
/** Inboxes a node may answer to must start with this, unless `replyPrefix` says otherwise. */
export const DEFAULT_REPLY_PREFIX = 'ockam';
/** Listeners and connections a transport holds at once. */
export const MAX_LISTENERS = 16;
export const MAX_CONNECTIONS = 64;

export interface BrokerTransportOptions {
  logger?: Logger;
  /** Largest message taken or published, in bytes (default `DEFAULT_MAX_MESSAGE_BYTES`). */
  maxMessageBytes?: number;
  /** Messages waiting to be routed, per inbox, above which consumption pauses (default 64). */
  maxQueued?: number;
  /** Inbox names this node may publish replies to start with this (default `ockam`; `''`: any). */
  replyPrefix?: string;
  /** Distinct inboxes answered to at once (default 16); messages asking for more are dropped. */
  maxReplySenders?: number;
  /**
   * Messages one sender (a connection, a reply sender) has handed to the broker client and not
   * yet seen acknowledged, at most (default 32); at the limit the sender waits, which fills its
   * bounded mailbox and pushes back on whoever sends. 1: one message at a time.
   */
  maxInFlight?: number;
  /**
   * How long a reply sender must have been idle before a new inbox may take its place when all
   * `maxReplySenders` are in use (default 60 s): junk names cannot hold the slots for long.
   */
  replyIdleMs?: number;
}

/** The default `replyIdleMs`. */
export const DEFAULT_REPLY_IDLE_MS = 60_000;
/** The default `maxInFlight`. */
export const DEFAULT_MAX_IN_FLIGHT = 32;

/** Publishes in flight for one sender, at most `size`: `add` returns once there is room again. */
class PublishWindow {
  #pending = 0;
  #waiter: (() => void) | undefined;

  constructor(readonly size: number) {}

  /** `publish` never rejects (failures are counted where it is made). */
  async add(publish: Promise<void>): Promise<void> {
    this.#pending++;
    void publish.then(() => {
      this.#pending--;
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.();
    });
    while (this.#pending >= this.size) await new Promise<void>((r) => (this.#waiter = r));
  }
}

/** Why a message taken from an inbox was dropped, or one to publish was not published. */
export type BrokerDropReason =
  | 'oversize'
  | 'decode'
  | 'empty'
  | 'no-reply-inbox'
  | 'reply-refused'
  | 'reply-limit'
  | 'refused'
  | 'overflow'
  | 'publish-oversize'
  | 'publish-failed';

export interface BrokerTransportStats {
  /** Messages taken from inboxes. */
  received: number;
  /** Messages handed to the node's router. */
  routed: number;
  published: number;
  dropped: Record<BrokerDropReason, number>;
  /** Times an inbox consumer was paused because its queue was full. */
  pauses: number;
  /** The most messages any inbox queue has held at once. */
  queuedHighWater: number;
}

function emptyDrops(): Record<BrokerDropReason, number> {
  return {
    oversize: 0,
    decode: 0,
    empty: 0,
    'no-reply-inbox': 0,
    'reply-refused': 0,
    'reply-limit': 0,
    refused: 0,
    overflow: 0,
    'publish-oversize': 0,
    'publish-failed': 0,
  };
}

/** A node's inbox: a topic or queue it consumes. */
export class BrokerListener {
  /** The spawner id: make a service a consumer of it to expose it to whoever writes to the inbox. */
  readonly flowControlId: FlowControlId;
  /** The LOCAL address registered as the spawner. */
  readonly processorAddress: Address;
  /** The producer that routes what the inbox delivers (its id is spawned by `flowControlId`). */
  readonly receiverAddress: Address;
  /** The inbox's own address, first in the return route of what this node publishes. */
  readonly replyAddress: Address;
  readonly localInfo: LocalInfo;
  readonly #queue: BrokerDelivery[] = [];
  #subscription: InboxSubscription | undefined;
  #paused = false;
  #pumping = false;
  #closing: Promise<void> | undefined;

  constructor(
    readonly inbox: string,
    readonly transport: BrokerTransport,
    ids: { spawner: FlowControlId; producer: FlowControlId; prefix: string },
  ) {
    this.flowControlId = ids.spawner;
    this.processorAddress = Address.random(`${ids.prefix}_listener_`);
    this.receiverAddress = Address.random(`${ids.prefix}_receiver_`);
    this.replyAddress = new Address(transport.type, inbox);
    this.localInfo = Object.freeze({ flowControlId: ids.producer });
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  /** Messages taken from the inbox and not yet routed. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Whether the consumer is paused because the queue is full. */
  get paused(): boolean {
    return this.#paused;
  }

  /** @internal */
  attach(subscription: InboxSubscription): void {
    this.#subscription = subscription;
  }

  /** @internal A delivery from the adapter. */
  deliver(d: BrokerDelivery): void {
    const t = this.transport;
    const limit = t.maxQueued;
    if (this.#closing !== undefined || this.#queue.length >= 2 * limit) {
      // Past twice the pause mark the client library ignored the pause: drop rather than grow.
      if (this.#closing === undefined) t.drop('overflow', this.inbox);
      d.settle();
      return;
    }
    this.#queue.push(d);
    t.sawQueued(this.#queue.length);
    if (this.#queue.length >= limit && !this.#paused) {
      this.#paused = true;
      t.paused();
      this.#subscription?.pause();
    }
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (;;) {
        const d = this.#queue.shift();
        if (d === undefined) return;
        try {
          if (this.#closing === undefined) await this.transport.take(this, d.bytes);
        } catch (e) {
          // `take` counts what it refuses; anything else it throws must not stop the inbox.
          this.transport.drop('refused', this.inbox, message(e));
        } finally {
          d.settle();
        }
        if (
          this.#paused &&
          this.#queue.length <= this.transport.maxQueued / 2 &&
          this.#closing === undefined
        ) {
          this.#paused = false;
          this.#subscription?.resume();
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Stops consuming; what was queued is settled unrouted. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.transport.closeListener(this, async () => {
      try {
        await this.#subscription?.close();
      } finally {
        for (const d of this.#queue.splice(0)) d.settle();
      }
    });
    return this.#closing;
  }
}

/** A sender worker that publishes to one topic or queue (an outgoing hop). */
export class BrokerConnection {
  /** The LOCAL address of the sender worker: the connection's hop in routes. */
  readonly senderAddress: Address;
  /** The LOCAL address of the receiver (a producer) that routes replies; also the reply tag. */
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly localInfo: LocalInfo;
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #closing: Promise<void> | undefined;

  constructor(
    /** The topic or queue it publishes to. */
    readonly target: string,
    /** The inbox whose address replies are asked to come back to. */
    readonly listener: BrokerListener,
    readonly transport: BrokerTransport,
    ids: { flowControlId: FlowControlId; prefix: string },
  ) {
    this.flowControlId = ids.flowControlId;
    this.senderAddress = Address.random(`${ids.prefix}_sender_`);
    this.receiverAddress = Address.random(`${ids.prefix}_replies_`);
    this.localInfo = Object.freeze({ flowControlId: ids.flowControlId });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  get isOpen(): boolean {
    return this.#closing === undefined;
  }

  /** Stops both workers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.transport.closeConnection(this).finally(() => this.#resolveClosed());
    return this.#closing;
  }
}

interface ReplySender {
  readonly address: Address;
  /** When a message last came from its inbox or went out through it (ms). */
  lastUsed: number;
}

/** Carries Ockam routing messages through one broker; see the module comment. */
export class BrokerTransport implements Transport {
  readonly type: number;
  readonly kind: 'kafka' | 'amqp';
  readonly node: Node;
  readonly client: BrokerClient;
  readonly maxMessageBytes: number;
  readonly maxQueued: number;
  readonly replyPrefix: string;
  readonly maxReplySenders: number;
  readonly replyIdleMs: number;
  readonly maxInFlight: number;
  readonly #logger: Logger;
  readonly #log: LogLimiter;
  readonly #listeners = new Map<string, BrokerListener>();
  readonly #connections = new Set<BrokerConnection>();
  /** Connections by reply tag (their receiver's address value). */
  readonly #byTag = new Map<string, BrokerConnection>();
  /** The connection `resolve` reuses per target. */
  readonly #shared = new Map<string, BrokerConnection>();
  readonly #replySenders = new Map<string, ReplySender>();
  readonly #stats: BrokerTransportStats = {
    received: 0,
    routed: 0,
    published: 0,
    dropped: emptyDrops(),
    pauses: 0,
    queuedHighWater: 0,
  };
  #stopping: Promise<void> | undefined;

  constructor(node: Node, client: BrokerClient, options: BrokerTransportOptions = {}) {
    this.node = node;
    this.client = client;
    this.type = client.type;
    this.kind = client.kind;
    this.#logger = options.logger ?? node.logger;
    this.#log = new LogLimiter(this.#logger);
    this.maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    this.maxQueued = positive('maxQueued', options.maxQueued ?? DEFAULT_MAX_QUEUED);
    this.maxReplySenders = positive('maxReplySenders', options.maxReplySenders ?? DEFAULT_MAX_REPLY_SENDERS);
    this.replyPrefix = options.replyPrefix ?? DEFAULT_REPLY_PREFIX;
    this.replyIdleMs = options.replyIdleMs ?? DEFAULT_REPLY_IDLE_MS;
    this.maxInFlight = positive('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  }

  /** Counters since the transport started (a copy). */
  stats(): BrokerTransportStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  listeners(): BrokerListener[] {
    return [...this.#listeners.values()];
  }

  connections(): BrokerConnection[] {
    return [...this.#connections];
  }

  /** The connection whose sender or receiver has this address (or whose sender's hex is it). */
  connection(address: string): BrokerConnection | undefined {
    for (const c of this.#connections)
      if (c.senderAddress.value === address || c.receiverAddress.value === address) return c;
    return undefined;
  }

  /**
   * Starts consuming `inbox`. Resolves once deliveries can flow; nothing is exposed to it yet
   * (make services consumers of `flowControlId`).
   */
  async listen(inbox: string): Promise<BrokerListener> {
    this.#checkRunning();
    this.#checkName(inbox);
    if (this.#listeners.has(inbox))
      throw new BrokerTransportError('already-exists', `${this.#label} already listens on ${inbox}`);
    if (this.#listeners.size >= MAX_LISTENERS)
      throw new BrokerTransportError('resource', `${this.#label} holds at most ${MAX_LISTENERS} listeners`);
    const fc = this.node.flowControls;
    const listener = new BrokerListener(inbox, this, {
      spawner: fc.generateId(),
      producer: fc.generateId(),
      prefix: this.kind,
    });
    this.#listeners.set(inbox, listener);
    this.node.startProcessor(listener.processorAddress);
    fc.addSpawner(listener.processorAddress, listener.flowControlId);
    this.node.startProcessor(listener.receiverAddress);
    fc.addProducer(listener.receiverAddress, listener.localInfo.flowControlId!, listener.flowControlId);
    try {
      listener.attach(
        await this.client.subscribe(
          inbox,
          { prefetch: this.maxQueued, maxMessageBytes: this.maxMessageBytes },
          (d) => listener.deliver(d),
        ),
      );
    } catch (e) {
      await listener.close();
      throw new BrokerTransportError(
        'io',
        `Cannot consume ${this.kind} inbox ${inbox} at ${this.client.endpoint}: ${message(e)}`,
        { cause: e },
      );
    }
    this.#logger.info(`${this.kind} listener started`, { inbox, broker: this.client.endpoint });
    return listener;
  }

  /**
   * A connection that publishes to `target`; replies come back through `via` (default: the first
   * listener). `exposeTo`: flow-control ids whose messages may be forwarded through it (a hop node
   * passes its listeners' ids), as for a TCP connection.
   */
  async connect(
    target: string,
    options: { via?: string; exposeTo?: readonly FlowControlId[] } = {},
  ): Promise<BrokerConnection> {
    this.#checkRunning();
    this.#checkName(target);
    const listener =
      options.via === undefined ? this.#listeners.values().next().value : this.#listeners.get(options.via);
    if (listener === undefined)
      throw new BrokerTransportError(
        'not-found',
        options.via === undefined
          ? `A ${this.kind} connection needs a ${this.kind} listener of this node: replies come back into its inbox`
          : `No ${this.kind} listener on ${options.via}`,
      );
    if (this.#connections.size >= MAX_CONNECTIONS)
      throw new BrokerTransportError(
        'resource',
        `${this.#label} holds at most ${MAX_CONNECTIONS} connections`,
      );
    const node = this.node;
    const window = new PublishWindow(this.maxInFlight);
    const conn = new BrokerConnection(target, listener, this, {
      flowControlId: node.flowControls.generateId(),
      prefix: this.kind,
    });
    node.startWorker(conn.senderAddress, {
      handleMessage: (_ctx, { message: m }) => {
        // §1.5: what comes back through this connection may reach whoever sent through it.
        node.allowReplies(conn.flowControlId, m.returnRoute);
        return window.add(
          this.#publish(
            target,
            listener.inbox,
            m,
            m.returnRoute.prepend(conn.receiverAddress).prepend(listener.replyAddress),
          ),
        );
      },
      shutdown: () => void conn.close(),
    });
    node.startProcessor(conn.receiverAddress);
    node.flowControls.addProducer(conn.receiverAddress, conn.flowControlId);
    for (const id of options.exposeTo ?? []) node.flowControls.addConsumer(conn.senderAddress, id);
    this.#connections.add(conn);
    this.#byTag.set(conn.receiverAddress.value, conn);
    return conn;
  }

  /** `Transport.resolve`: the sender of the shared connection to the address's topic or queue. */
  async resolve(address: Address): Promise<Address> {
    this.#checkRunning();
    if (address.type !== this.type)
      throw new BrokerTransportError('invalid', `Cannot resolve ${address}: not a ${this.kind} address`);
    let conn = this.#shared.get(address.value);
    if (conn === undefined || !conn.isOpen) {
      conn = await this.connect(address.value);
      this.#shared.set(address.value, conn);
    }
    return conn.senderAddress;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all([...this.#listeners.values()].map((l) => l.close()));
      await Promise.all([...this.#connections].map((c) => c.close()));
      await this.client.close();
    })();
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  // ---- inbound ----

  /** @internal Takes one delivery of `listener`'s inbox: checks, decodes and routes it. */
  async take(listener: BrokerListener, bytes: Uint8Array): Promise<void> {
    this.#stats.received++;
    const inbox = listener.inbox;
    // Sizes first: the adapter bounded what it fetched; nothing past the limit is decoded.
    if (bytes.length > this.maxMessageBytes) return this.drop('oversize', inbox, `${bytes.length} bytes`);
    let m: LocalMessage;
    try {
      m = decodeTransportMessage(bytes, `${this.kind} message`);
    } catch (e) {
      return this.drop('decode', inbox, message(e));
    }
    if (m.onwardRoute.isEmpty) return this.drop('empty', inbox);
    const from = m.returnRoute.addresses[0];
    if (from === undefined || from.type !== this.type || !this.#validName(from.value))
      return this.drop('no-reply-inbox', inbox);
    const rest = m.returnRoute.popFront();
    const first = m.onwardRoute.addresses[0]!;
    const conn = first.isLocal ? this.#byTag.get(first.value) : undefined;
    if (conn !== undefined) {
      // A reply to what we sent through `conn`: its flow, back through its sender.
      const routed = LocalMessage.fromParts(
        m.onwardRoute.popFront(),
        rest.prepend(conn.senderAddress),
        m.payloadParts,
        conn.localInfo,
        m.tracingContext,
      );
      await this.#route(conn.receiverAddress, routed, inbox);
      return;
    }
    const known = this.#replySenders.has(`${listener.inbox}>${from.value}`);
    const replier = this.#replySender(listener, from.value);
    if (typeof replier === 'string') return this.drop(replier, inbox, from.value);
    const routed = LocalMessage.fromParts(
      m.onwardRoute,
      rest.prepend(replier.address),
      m.payloadParts,
      listener.localInfo,
      m.tracingContext,
    );
    // A reply sender made for a message that was then refused goes again: what the inbox may
    // not deliver must not hold one of the `maxReplySenders` slots.
    if (!(await this.#route(listener.receiverAddress, routed, inbox)) && !known)
      this.#dropReplySender(`${listener.inbox}>${from.value}`);
  }

  /** Routes `routed` from `source`; false (counted as `refused`) if the node refused it. */
  async #route(source: Address, routed: LocalMessage, inbox: string): Promise<boolean> {
    try {
      // Strict: a flow-control refusal throws, so it is counted here.
      await this.node.route(source, routed, true);
      this.#stats.routed++;
      return true;
    } catch (e) {
      this.drop('refused', inbox, message(e));
      return false;
    }
  }

  /**
   * The reply sender for answers from `listener` to `name`, or why there is none. Its address is
   * derived from the two names, so a sender evicted while idle comes back at the same address the
   * next time its inbox writes, and routes that remembered it (a channel's) work again.
   */
  #replySender(listener: BrokerListener, name: string): ReplySender | 'reply-refused' | 'reply-limit' {
    if (!name.startsWith(this.replyPrefix)) return 'reply-refused';
    const key = `${listener.inbox}>${name}`;
    const now = Date.now();
    const found = this.#replySenders.get(key);
    if (found !== undefined) {
      found.lastUsed = now;
      return found;
    }
    if (this.#replySenders.size >= this.maxReplySenders && !this.#evictIdleReplySender(now))
      return 'reply-limit';
    const sender: ReplySender = { address: Address.local(`${this.kind}_reply_${key}`), lastUsed: now };
    const window = new PublishWindow(this.maxInFlight);
    this.node.startWorker(sender.address, {
      handleMessage: (_ctx, { message: m }) => {
        sender.lastUsed = Date.now();
        return window.add(
          this.#publish(name, listener.inbox, m, m.returnRoute.prepend(listener.replyAddress)),
        );
      },
    });
    this.#replySenders.set(key, sender);
    return sender;
  }

  /** Stops the least recently used reply sender if it has been idle long enough. */
  #evictIdleReplySender(now: number): boolean {
    let oldest: [string, ReplySender] | undefined;
    for (const e of this.#replySenders)
      if (oldest === undefined || e[1].lastUsed < oldest[1].lastUsed) oldest = e;
    if (oldest === undefined || now - oldest[1].lastUsed < this.replyIdleMs) return false;
    this.#dropReplySender(oldest[0]);
    return true;
  }

  #dropReplySender(key: string): void {
    const sender = this.#replySenders.get(key);
    if (sender === undefined) return;
    this.#replySenders.delete(key);
    void this.node.stopWorker(sender.address).catch(() => false);
  }

  // ---- outbound ----

  /** Publishes `m` (whose first onward address is our worker's, dropped here) with return route `ret`. */
  async #publish(target: string, from: string, m: LocalMessage, ret: Route): Promise<void> {
    const onward = m.onwardRoute.popFront();
    let bytes: Uint8Array;
    try {
      bytes = encodeTransportMessage(
        LocalMessage.fromParts(onward, ret, m.payloadParts, {}, m.tracingContext),
      );
    } finally {
      m.releasePayload();
    }
    if (bytes.length > this.maxMessageBytes)
      return this.drop('publish-oversize', target, `${bytes.length} bytes`);
    try {
      // The sender's window holds this until the broker took it: a slow broker fills the window,
      // then the sender's bounded mailbox, and pushes back on whoever sends. The client keeps the
      // order of what one sender hands it.
      await this.client.publish(target, bytes, from);
      this.#stats.published++;
    } catch (e) {
      this.drop('publish-failed', target, message(e));
    }
  }

  // ---- bookkeeping ----

  /** @internal Counts (and logs, rate-limited) a dropped message. */
  drop(reason: BrokerDropReason, name: string, detail?: string): void {
    this.#stats.dropped[reason]++;
    this.#log.warn(reason, `${this.kind} message dropped`, {
      reason,
      [reason.startsWith('publish') ? 'target' : 'inbox']: name,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  /** @internal */
  paused(): void {
    this.#stats.pauses++;
  }

  /** @internal */
  sawQueued(n: number): void {
    if (n > this.#stats.queuedHighWater) this.#stats.queuedHighWater = n;
  }

  /** @internal Stops what `listen` started for `listener` (its reply senders and connections too). */
  async closeListener(listener: BrokerListener, unsubscribe: () => Promise<void>): Promise<void> {
    try {
      await unsubscribe();
    } catch (e) {
      this.#logger.warn(`${this.kind} listener failed to stop consuming`, {
        inbox: listener.inbox,
        error: message(e),
      });
    }
    const node = this.node;
    await node.stopWorker(listener.receiverAddress).catch(() => false);
    await node.stopWorker(listener.processorAddress).catch(() => false);
    for (const [key, s] of this.#replySenders) {
      if (!key.startsWith(`${listener.inbox}>`)) continue;
      this.#replySenders.delete(key);
      await node.stopWorker(s.address).catch(() => false);
    }
    await Promise.all([...this.#connections].filter((c) => c.listener === listener).map((c) => c.close()));
    // Exposures to the inbox die with it, as a TCP listener's do.
    for (const a of node.addresses())
      if (node.flowControls.isConsumer(a, listener.flowControlId))
        node.flowControls.removeConsumer(a, listener.flowControlId);
    if (this.#listeners.get(listener.inbox) === listener) this.#listeners.delete(listener.inbox);
  }

  /** @internal */
  async closeConnection(conn: BrokerConnection): Promise<void> {
    this.#connections.delete(conn);
    this.#byTag.delete(conn.receiverAddress.value);
    if (this.#shared.get(conn.target) === conn) this.#shared.delete(conn.target);
    await this.node.stopWorker(conn.receiverAddress).catch(() => false);
    await this.node.stopWorker(conn.senderAddress).catch(() => false);
  }

  get #label(): string {
    return `${this.kind === 'kafka' ? 'Kafka' : 'AMQP'} transport`;
  }

  #validName(name: string): boolean {
    return isBrokerName(this.kind, name);
  }

  #checkName(name: string): void {
    if (!this.#validName(name))
      throw new BrokerTransportError(
        'invalid',
        `'${name}' is not a valid ${this.kind === 'kafka' ? 'Kafka topic' : 'AMQP queue'} name`,
      );
  }

  #checkRunning(): void {
    if (this.#stopping !== undefined) throw new BrokerTransportError('shutdown', `${this.#label} is stopped`);
  }
}

function positive(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}

function message(e: unknown): string {
  return OckamError.is(e) || e instanceof Error ? e.message : String(e);
}
