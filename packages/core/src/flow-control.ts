/**
 * Flow control (PROTOCOL.md §1.5): a fence that keeps messages coming from the network — out of a
 * TCP connection, a secure channel, a relay — away from local workers that were not explicitly
 * exposed to that source.
 *
 * - A *producer* is an address that emits untrusted messages (a connection's receiver, a channel's
 *   decryptor). It has a flow-control id and, if a listener spawned it, the spawner's id.
 * - A *consumer* of an id may receive messages from producers with that id (or that spawner id).
 * - The router enforces it on every send from a producer: the destination must be a consumer.
 * - The fence follows a message's *origin* through forwarding workers (DESIGN.md decision 10): when
 *   a producer sends, the router stamps the message with the producer's info (`LocalMessage.origin`),
 *   every message derived from it keeps the stamp, and whoever forwards it (`hop`, a relay, a
 *   fallback path) may deliver it only to consumers of that origin, exactly as if the producer had
 *   sent it there itself. A producer sending re-stamps (a channel's decryptor vouches for its
 *   plaintext); a message a worker builds afresh has no origin.
 *
 * @example
 * ```ts
 * const listenerId = node.flowControls.generateId();
 * node.flowControls.addSpawner(listenerAddress, listenerId);
 * node.flowControls.addConsumer('echo', listenerId); // expose echo to everyone the listener accepts
 * ```
 */
import { type Address, type AddressLike, toAddress } from './address.js';
import { randomHex } from './hex.js';

export type FlowControlId = string;

export interface ProducerInfo {
  readonly flowControlId: FlowControlId;
  readonly spawnerId: FlowControlId | undefined;
}

export class FlowControls {
  readonly #producers = new Map<string, ProducerInfo>();
  readonly #spawners = new Map<string, FlowControlId>();
  readonly #consumers = new Map<FlowControlId, Set<string>>();
  readonly #consumerOf = new Map<string, Set<FlowControlId>>();
  readonly #forwarders = new Set<string>();
  /** Addresses that stand for a producer when looking up where replies come from (`producerFor`). */
  readonly #aliases = new Map<string, string>();

  /** A new id: 16 random bytes as hex, as Ockam makes them. */
  generateId(): FlowControlId {
    return randomHex(16);
  }

  addProducer(address: AddressLike, flowControlId: FlowControlId, spawnerId?: FlowControlId): void {
    // Frozen: the router stamps this very object on the messages the producer sends.
    this.#producers.set(toAddress(address).key, Object.freeze({ flowControlId, spawnerId }));
  }

  /**
   * Lets `alias` stand for the producer at `producer` in `producerFor`: a secure channel's
   * encryptor for its decryptor, so that whoever sends through the channel finds the flow its
   * replies come out of (Ockam lists such addresses with the producer). Fencing is unchanged:
   * only what `producer` itself sends is stamped.
   */
  addProducerAlias(alias: AddressLike, producer: AddressLike): void {
    this.#aliases.set(toAddress(alias).key, toAddress(producer).key);
  }

  /** The producer at `address`, or the one `address` stands for (`addProducerAlias`). */
  producerFor(address: Address): ProducerInfo | undefined {
    const p = this.#producers.get(address.key);
    if (p !== undefined) return p;
    const target = this.#aliases.get(address.key);
    return target === undefined ? undefined : this.#producers.get(target);
  }

  addSpawner(address: AddressLike, flowControlId: FlowControlId): void {
    this.#spawners.set(toAddress(address).key, flowControlId);
  }

  /** Allows `address` to receive messages from producers of `flowControlId` (or spawned by it). */
  addConsumer(address: AddressLike, flowControlId: FlowControlId): void {
    const key = toAddress(address).key;
    let set = this.#consumers.get(flowControlId);
    if (!set) this.#consumers.set(flowControlId, (set = new Set()));
    set.add(key);
    let ids = this.#consumerOf.get(key);
    if (!ids) this.#consumerOf.set(key, (ids = new Set()));
    ids.add(flowControlId);
  }

  removeConsumer(address: AddressLike, flowControlId: FlowControlId): void {
    const key = toAddress(address).key;
    this.#consumers.get(flowControlId)?.delete(key);
    this.#consumerOf.get(key)?.delete(flowControlId);
  }

  /** The ids `address` is a consumer of, now. */
  consumerIds(address: AddressLike): FlowControlId[] {
    return [...(this.#consumerOf.get(toAddress(address).key) ?? [])];
  }

  isConsumer(address: Address, flowControlId: FlowControlId): boolean {
    return this.#consumers.get(flowControlId)?.has(address.key) ?? false;
  }

  producer(address: Address): ProducerInfo | undefined {
    return this.#producers.get(address.key);
  }

  spawner(address: AddressLike): FlowControlId | undefined {
    return this.#spawners.get(toAddress(address).key);
  }

  /**
   * Whether a message sent by `source` itself may go to `destination`. Non-producers are not
   * fenced here; what they forward is, by its origin (`accepts`).
   */
  isAllowed(source: Address, destination: Address): boolean {
    const p = this.#producers.get(source.key);
    return p === undefined || this.accepts(destination, p);
  }

  /**
   * Whether `destination` may receive a message that came from the producer `origin` (directly or
   * through forwarding workers): it must be a consumer of the producer's id or of its spawner's id.
   */
  accepts(destination: Address, origin: ProducerInfo): boolean {
    const ids = this.#consumerOf.get(destination.key);
    if (ids === undefined) return false;
    return ids.has(origin.flowControlId) || (origin.spawnerId !== undefined && ids.has(origin.spawnerId));
  }

  /**
   * Marks `address` as a forwarder: a worker that puts itself on the return route of what it
   * forwards and passes replies on to the next return address (`hop`). Replies admitted to a
   * forwarder by `Node.allowReplies` may then go on to that next address.
   */
  addForwarder(address: AddressLike): void {
    this.#forwarders.add(toAddress(address).key);
  }

  isForwarder(address: Address): boolean {
    return this.#forwarders.has(address.key);
  }

  /** Forgets an id: nobody is a consumer of it any more. */
  removeId(flowControlId: FlowControlId): void {
    const consumers = this.#consumers.get(flowControlId);
    if (consumers) for (const c of consumers) this.#consumerOf.get(c)?.delete(flowControlId);
    this.#consumers.delete(flowControlId);
  }

  /** Forgets everything about an address (called when its worker stops). */
  cleanup(address: Address): void {
    const key = address.key;
    const p = this.#producers.get(key);
    const spawnerId = this.#spawners.get(key);
    this.#producers.delete(key);
    this.#spawners.delete(key);
    this.#forwarders.delete(key);
    this.#aliases.delete(key);
    // A stopped spawner's id dies with it, unless producers it spawned are still alive.
    if (spawnerId !== undefined && ![...this.#producers.values()].some((q) => q.spawnerId === spawnerId))
      this.removeId(spawnerId);
    const ids = this.#consumerOf.get(key);
    if (ids) for (const id of ids) this.#consumers.get(id)?.delete(key);
    this.#consumerOf.delete(key);
    // A producer's id dies with it: nobody can send under it again.
    if (p && ![...this.#producers.values()].some((q) => q.flowControlId === p.flowControlId))
      this.removeId(p.flowControlId);
  }

  /** Counts, for diagnostics and leak tests. */
  get size(): { producers: number; spawners: number; consumers: number } {
    let consumers = 0;
    for (const s of this.#consumers.values()) consumers += s.size;
    return { producers: this.#producers.size, spawners: this.#spawners.size, consumers };
  }
}
