/**
 * Ockam's Kafka end-to-end encryption keys (KAFKA.md §2), for a kafka-inlet: the producer side
 * gets a key from the consumer's `key_exchanger` over a key-exchange-only secure channel and
 * encrypts record values into `KafkaEncryptedContent`; the consumer side accepts those channels,
 * keeps the keys (persisted with the node's state) and decrypts records by the decryptor address
 * they carry; consumers publish `consumer_<topic>_<partition>` relays so producers can find them.
 *
 * Created through the node: `createKafkaKeyExchange(node, options)`.
 *
 * @example
 * ```ts
 * import { createKafkaKeyExchange, createNode } from '@ockam/node';
 * const consumer = await createNode();
 * const producer = await createNode();
 * const c = await createKafkaKeyExchange(consumer, {
 *   addr: 'kafka_inlet', consumerResolution: { kind: 'none' }, consumerPublishing: { kind: 'none' },
 * });
 * const p = await createKafkaKeyExchange(producer, {
 *   addr: 'kafka_inlet',
 *   consumerResolution: { kind: 'single-node', route: `${consumer.multiaddr}/secure/api` },
 *   consumerPublishing: { kind: 'none' },
 * });
 * const stored = await p.encryptValue('t', 0, new TextEncoder().encode('hello'));
 * const plain = await c.decryptValue('t', 0, stored);
 * ```
 */
import { authorizeIdentity, type ResourceType } from '@ockam/abac';
import { type Logger, type Node, OckamError } from '@ockam/core';
import { createRelay, type Relay, type SessionOptions } from '@ockam/portals';
import {
  createKeyExchangeChannel,
  KeyExchangeDecryptor,
  type KeyExchangeEncryptor,
} from '@ockam/secure-channel';
import { SqliteKafkaDecryptors, type State } from '@ockam/state';
import type { CleanupStack } from './cleanup.js';
import {
  encodeKafkaEncryptedContent,
  type KafkaEncryptedHeader,
  LOCAL_TRANSPORT_TYPE,
  readKafkaEncryptedHeader,
  readKafkaEncryptedItems,
} from './kafka-encrypted-content.js';
import type { OckamNode } from './node.js';
import { type RouteContext, resolveMultiaddr } from './route-resolver.js';
import type { SecureChannels } from './secure-channels.js';
import type { NodeTrust } from './trust.js';

/** Where a producer finds its consumers' `key_exchanger` (Ockam's `ConsumerResolution`). */
export type ConsumerResolution =
  | { kind: 'none' }
  | { kind: 'single-node'; route: string }
  | { kind: 'via-relay'; route: string };

/** Where a consumer publishes its `consumer_<topic>_<partition>` relays (Ockam's `ConsumerPublishing`). */
export type ConsumerPublishing = { kind: 'none' } | { kind: 'relay'; route: string };

export interface KafkaKeyExchangeOptions {
  /** The kafka-inlet's `--addr`; policies are the resources `kafka-consumer-<addr>` / `kafka-producer-<addr>`. */
  addr: string;
  consumerResolution: ConsumerResolution;
  consumerPublishing: ConsumerPublishing;
  /** Policy for consumers (`--allow-consumer`); default: the `kafka-consumer` resource-type policy. */
  allowConsumer?: string;
  /** Policy for producers (`--allow-producer`); default: the `kafka-producer` resource-type policy. */
  allowProducer?: string;
  /** The identity to use (default: the node's). */
  identity?: string;
  /** Keys this inlet keeps as a producer (default `DEFAULT_MAX_PRODUCER_KEYS`); the least recently used goes first. */
  maxProducerKeys?: number;
  /** Relays this inlet publishes as a consumer (default `DEFAULT_MAX_PUBLISHED_RELAYS`). */
  maxPublishedRelays?: number;
  /** Timeout of each key exchange (route, handshake; default `DEFAULT_KEY_EXCHANGE_TIMEOUT_MS`). */
  keyExchangeTimeoutMs?: number;
}

/** Why a Kafka key operation failed. */
export type KafkaKeyErrorReason =
  /** The record names a decryptor this node does not know (never exchanged, or evicted). */
  | 'unknown-decryptor'
  /** The producer that made the key is refused by the `kafka-producer` policy. */
  | 'producer-refused'
  /** The consumer at the end of the key exchange is refused by the `kafka-consumer` policy. */
  | 'consumer-refused'
  /** The record does not authenticate under its key (altered, or a wrong key). */
  | 'authentication-failed'
  /** The stored value is not a `KafkaEncryptedContent`. */
  | 'malformed'
  /** No consumer resolution: this inlet cannot encrypt. */
  | 'no-consumer-resolution'
  /** The key exchange (route, handshake, relay) failed. */
  | 'key-exchange-failed'
  /** A bound of this inlet was reached (relays published). */
  | 'limit'
  /** Bad arguments (topic, partition). */
  | 'invalid'
  /** The key exchange was closed. */
  | 'closed';

const KIND_OF_REASON = {
  'unknown-decryptor': 'not-found',
  'producer-refused': 'permission',
  'consumer-refused': 'permission',
  'authentication-failed': 'protocol',
  malformed: 'serialization',
  'no-consumer-resolution': 'invalid',
  'key-exchange-failed': 'io',
  limit: 'resource',
  invalid: 'invalid',
  closed: 'shutdown',
} as const satisfies Record<KafkaKeyErrorReason, OckamError['kind']>;

/** An error of the Kafka key exchange: `kind` as every OckamError, `reason` says which case. */
export class KafkaKeyError extends OckamError {
  readonly reason: KafkaKeyErrorReason;
  constructor(reason: KafkaKeyErrorReason, message: string, options?: { cause?: unknown }) {
    super('application', KIND_OF_REASON[reason], message, options);
    this.name = 'KafkaKeyError';
    this.reason = reason;
  }
}

/** Ockam's key-exchange-only listener address (`DefaultAddress::KEY_EXCHANGER_LISTENER`). */
export const KEY_EXCHANGER_ADDRESS = 'key_exchanger';
/** What consumers name their relays: `consumer_<topic>_<partition>`, reached as `forward_to_…`. */
export const CONSUMER_RELAY_PREFIX = 'consumer_';
/**
 * Keys a producer inlet keeps (1,024): one per (topic, partition) with a relay resolution, one in
 * all with a single consumer. Beyond it the least recently used is dropped; using it again makes a
 * new key exchange (the consumer keeps the old key, so nothing written is lost).
 */
export const DEFAULT_MAX_PRODUCER_KEYS = 1024;
/**
 * Relays a consumer inlet publishes (256): one per (topic, partition) it reads. The relay node
 * has its own cap per registrant identity (ours: 64 by default, `OCKAM_MAX_RELAYS_PER_REGISTRANT`).
 */
export const DEFAULT_MAX_PUBLISHED_RELAYS = 256;
/**
 * How long one key exchange may take, route and handshake (30 s): Ockam waits 120 s, but a
 * Produce request waits behind it, and clients give up sooner than that.
 */
export const DEFAULT_KEY_EXCHANGE_TIMEOUT_MS = 30_000;
/** Decryption keys a node holds in memory (4,096), the least recently used dropped first (reloaded from the state). */
export const DEFAULT_MAX_DECRYPTORS_IN_MEMORY = 4096;
/**
 * Decryption keys a node keeps in its state (65,536): every producer start and every (topic,
 * partition) it writes makes one, and an allowed producer could make them without end. Beyond it
 * the oldest are deleted, key and row: records written under them no longer decrypt.
 */
export const DEFAULT_MAX_PERSISTED_DECRYPTORS = 65_536;
/** The largest record ciphertext the decrypting inlet decodes into its reused buffer (1 MiB). */
const MAX_SCRATCH_BYTES = 1 << 20;

/** How long a policy decision on a producer is reused for its records (1 s). */
const PRODUCER_DECISION_TTL_MS = 1_000;
/** Producers whose decisions are cached at once. */
const MAX_CACHED_DECISIONS = 1024;
/** The longest topic name Kafka accepts. */
const MAX_TOPIC_LENGTH = 249;

/** How many decryption keys a consumer node keeps (`NodeOptions.kafkaKeyLimits`). */
export interface KafkaKeyLimits {
  /** In memory (default `DEFAULT_MAX_DECRYPTORS_IN_MEMORY`); the least recently used is dropped (and reloaded from the state). */
  maxDecryptorsInMemory?: number;
  /** In the state (default `DEFAULT_MAX_PERSISTED_DECRYPTORS`); the oldest are deleted. */
  maxPersistedDecryptors?: number;
}

/** What the key exchange needs of a node (registered by `createNode`). */
export interface KafkaNodeInternals {
  readonly limits?: KafkaKeyLimits;
  readonly router: Node;
  readonly nodeName: string;
  readonly state: State | undefined;
  readonly secureChannels: SecureChannels;
  readonly trust: NodeTrust;
  readonly routeContext: RouteContext;
  readonly session?: SessionOptions;
  readonly cleanup: CleanupStack;
  readonly logger?: Logger;
}

const internalsOf = new WeakMap<OckamNode, KafkaNodeInternals>();
const exchangers = new WeakMap<OckamNode, Promise<KeyExchanger>>();

/** Called by `createNode`: what `createKafkaKeyExchange` reaches through the node object. */
export function registerKafkaNode(node: OckamNode, internals: KafkaNodeInternals): void {
  internalsOf.set(node, internals);
}

function positive(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`A Kafka key limit must be a whole number ≥ 1, not ${value}`);
  return value;
}

/** A Map used as an LRU: `get` refreshes, `set` evicts the oldest beyond `max`. */
class Lru<K, V> {
  readonly #map = new Map<K, V>();
  /** The entry touched last, already the most recent: a record after record lookup skips the move. */
  #last: { key: K; value: V } | undefined;
  constructor(
    readonly max: number,
    readonly onEvict: (key: K, value: V) => void,
  ) {}
  get(key: K): V | undefined {
    if (this.#last !== undefined && this.#last.key === key) return this.#last.value;
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
      this.#last = { key, value: v };
    }
    return v;
  }
  set(key: K, value: V): void {
    const old = this.#map.get(key);
    this.#map.delete(key);
    this.#map.set(key, value);
    this.#last = { key, value };
    if (old !== undefined && old !== value) this.onEvict(key, old);
    while (this.#map.size > this.max) {
      const [k, v] = this.#map.entries().next().value as [K, V];
      this.#map.delete(k);
      if (this.#last?.key === k) this.#last = undefined;
      this.onEvict(k, v);
    }
  }
  delete(key: K): boolean {
    if (this.#last?.key === key) this.#last = undefined;
    return this.#map.delete(key);
  }
  values(): V[] {
    return [...this.#map.values()];
  }
  clear(): void {
    this.#last = undefined;
    this.#map.clear();
  }
}

/** A key held by the consumer node, and who made it. */
interface ConsumerKey {
  readonly decryptor: KeyExchangeDecryptor;
  readonly producerIdentifier: string;
}

/**
 * The node's `key_exchanger` (once per node, KAFKA.md §1.1 step 3): accepts key-exchange-only
 * channels, keeps their keys in memory and, with a state, persisted (the key in the identity's
 * vault, a row in `kafka_decryptor`), and finds them again by the address records carry.
 */
class KeyExchanger {
  readonly #i: KafkaNodeInternals;
  readonly #records: SqliteKafkaDecryptors | undefined;
  readonly #memory: Lru<string, ConsumerKey>;
  readonly #maxPersisted: number;
  readonly #loading = new Map<string, Promise<ConsumerKey | undefined>>();
  /**
   * Key exchanges under way, by the decryptor address they will have: a record may arrive before
   * msg3 (the producer encrypts as soon as it sent msg3). Bounded by the listener's pending
   * handshakes (256); each entry goes when its handshake settles (10 s at most).
   */
  readonly #underway = new Map<string, Promise<unknown>>();
  /** Persistence in order, so that eviction sees every row written before it. */
  #persisting: Promise<void> = Promise.resolve();
  #identityName = '';
  #stopped = false;

  private constructor(internals: KafkaNodeInternals) {
    this.#i = internals;
    this.#records = internals.state
      ? new SqliteKafkaDecryptors(internals.state, internals.nodeName)
      : undefined;
    const limits = internals.limits ?? {};
    this.#memory = new Lru(positive(limits.maxDecryptorsInMemory, DEFAULT_MAX_DECRYPTORS_IN_MEMORY), (_, k) =>
      k.decryptor.destroy(),
    );
    this.#maxPersisted = positive(limits.maxPersistedDecryptors, DEFAULT_MAX_PERSISTED_DECRYPTORS);
  }

  static async start(internals: KafkaNodeInternals): Promise<KeyExchanger> {
    const k = new KeyExchanger(internals);
    k.#identityName = (await internals.secureChannels.identity()).name;
    await internals.secureChannels.createListener({
      address: KEY_EXCHANGER_ADDRESS,
      onKeyExchange: (exchange) =>
        k.#accepted(exchange.decryptorAddress.value, exchange.peerIdentifier, exchange.decryptor),
      onKeyExchangeStarted: (address, settled) => {
        const done = settled.then(
          () => {},
          () => {},
        );
        k.#underway.set(address.value, done);
        void done.then(() => k.#underway.delete(address.value));
      },
    });
    internals.cleanup.push('kafka key_exchanger', () => k.stop());
    return k;
  }

  /** Settles once every key accepted so far is persisted (tests, and `stop`). */
  get persisted(): Promise<void> {
    return this.#persisting;
  }

  #accepted(address: string, producerIdentifier: string, decryptor: KeyExchangeDecryptor): void {
    if (this.#stopped) {
      decryptor.destroy();
      return;
    }
    this.#memory.set(address, { decryptor, producerIdentifier });
    if (this.#records === undefined) return;
    // Exported now, while the decryptor is surely in memory; stored in the vault, never logged.
    const key = decryptor.exportKey();
    this.#persisting = this.#persisting
      .then(() => this.#persist(address, producerIdentifier, key))
      .catch((e) =>
        this.#i.logger?.warn(
          'could not persist a Kafka decryption key; records under it will not decrypt after a restart',
          { address, error: (e as Error).message },
        ),
      )
      .finally(() => key.fill(0));
  }

  async #persist(address: string, producerIdentifier: string, key: Uint8Array): Promise<void> {
    const records = this.#records!;
    const { vault } = (await this.#i.secureChannels.identity(this.#identityName)).vault;
    // The vault's key store keeps 32-byte secrets encrypted at rest under its master key (bound to
    // their id), typed by the three kinds it knows; this AES key is kept as such a secret and is
    // only ever exported again to make an AEAD key (never used for DH).
    const handle = await vault.importX25519(key);
    records.put({
      address,
      producerIdentifier,
      identityName: this.#identityName,
      keyId: handle.id,
      createdAt: Date.now(),
    });
    const excess = records.count() - this.#maxPersisted;
    if (excess <= 0) return;
    for (const old of records.oldest(excess)) {
      records.delete(old.address);
      this.#memory.get(old.address)?.decryptor.destroy();
      this.#memory.delete(old.address);
      const v = (await this.#i.secureChannels.identity(old.identityName)).vault.vault;
      await v.deleteKey({ id: old.keyId, type: 'x25519' });
      this.#i.logger?.info('oldest Kafka decryption key deleted: the node keeps at most this many', {
        address: old.address,
        max: this.#maxPersisted,
      });
    }
  }

  /** The key for a decryptor address if it is in memory and no exchange for it is under way. */
  inMemory(address: string): ConsumerKey | undefined {
    return this.#underway.has(address) ? undefined : this.#memory.get(address);
  }

  /** The key for a decryptor address: in memory, else from the state; undefined if unknown. */
  async find(address: string): Promise<ConsumerKey | undefined> {
    const underway = this.#underway.get(address);
    if (underway !== undefined) await underway;
    const inMemory = this.#memory.get(address);
    if (inMemory !== undefined || this.#records === undefined) return inMemory;
    let p = this.#loading.get(address);
    if (p === undefined) {
      p = this.#load(address).finally(() => this.#loading.delete(address));
      this.#loading.set(address, p);
    }
    return p;
  }

  async #load(address: string): Promise<ConsumerKey | undefined> {
    const r = this.#records!.get(address);
    if (r === undefined) return undefined;
    const { vault } = (await this.#i.secureChannels.identity(r.identityName)).vault;
    const handle = await vault.getKey(r.keyId);
    if (handle === undefined) return undefined;
    const key = await vault.exportSecretKey(handle);
    let decryptor: KeyExchangeDecryptor;
    try {
      decryptor = KeyExchangeDecryptor.fromKey(vault, key);
    } finally {
      key.fill(0);
    }
    // An exchange or another load may have put it there meanwhile.
    const now = this.#memory.get(address);
    if (now !== undefined) {
      decryptor.destroy();
      return now;
    }
    const loaded = { decryptor, producerIdentifier: r.producerIdentifier };
    this.#memory.set(address, loaded);
    return loaded;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#persisting;
    for (const k of this.#memory.values()) k.decryptor.destroy();
    this.#memory.clear();
  }
}

/** The key a producer inlet uses for one (topic, partition), or for all with a single consumer. */
interface ProducerKey {
  readonly encryptor: KeyExchangeEncryptor;
  readonly consumerDecryptorAddress: string;
  readonly consumerIdentifier: string;
  readonly close: () => Promise<void>;
}

function invalid(message: string): KafkaKeyError {
  return new KafkaKeyError('invalid', message);
}

function checkTopic(topic: string, partition: number): void {
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH)
    throw invalid(`A Kafka topic name has 1 to ${MAX_TOPIC_LENGTH} characters`);
  if (!/^[A-Za-z0-9._-]+$/.test(topic))
    throw invalid(
      `Kafka topic name '${topic}' has characters Kafka does not allow (letters, digits, '.', '_', '-')`,
    );
  if (!Number.isInteger(partition) || partition < 0 || partition > 0x7fffffff)
    throw invalid(`Kafka partition ${partition} is not a non-negative int32`);
}

/** `self` is `/secure/api`: this node (Ockam's multiaddr shorthand). */
function expandSelf(route: string): string {
  const r = route.trim();
  return r === 'self' ? '/secure/api' : r.replace(/\/+$/, '');
}

/**
 * A single consumer's route without its last `/secure/api` (KAFKA.md §2.3 step 2): the key
 * exchange goes to `key_exchanger` on that node, not through a channel to it; empty for this node.
 */
export function singleNodeDestination(route: string): string {
  const r = expandSelf(route);
  return r.endsWith('/secure/api') ? r.slice(0, -'/secure/api'.length) : r;
}

/** Where a relayed consumer of (topic, partition) is reached (KAFKA.md §2.3 step 2). */
export function viaRelayDestination(route: string, topic: string, partition: number): string {
  return `${expandSelf(route)}/service/forward_to_${CONSUMER_RELAY_PREFIX}${topic}_${partition}`;
}

/** The key exchange of one kafka-inlet; see the module comment. Made by `createKafkaKeyExchange`. */
export class KafkaKeyExchange {
  readonly #i: KafkaNodeInternals;
  readonly #o: KafkaKeyExchangeOptions;
  readonly #exchanger: KeyExchanger;
  readonly #keys: Lru<string, Promise<ProducerKey>>;
  /** Consumers we hold a normal channel to (KAFKA.md §2.3 step 5), by identifier. */
  readonly #normalChannels = new Map<string, () => Promise<void>>();
  readonly #relays = new Map<string, Promise<Relay>>();
  /** kafka-producer decisions by producer identifier (consumer decisions are not cached). */
  readonly #decisions = new Map<string, { allowed: boolean; until: number }>();
  #scratchBuffer = new Uint8Array(2048);
  readonly #timeoutMs: number;
  readonly #maxRelays: number;
  #closed = false;

  /** @internal Made by `createKafkaKeyExchange`. */
  constructor(internals: KafkaNodeInternals, options: KafkaKeyExchangeOptions, exchanger: KeyExchanger) {
    this.#i = internals;
    this.#o = options;
    this.#exchanger = exchanger;
    this.#timeoutMs = positive(options.keyExchangeTimeoutMs, DEFAULT_KEY_EXCHANGE_TIMEOUT_MS);
    this.#maxRelays = positive(options.maxPublishedRelays, DEFAULT_MAX_PUBLISHED_RELAYS);
    this.#keys = new Lru(positive(options.maxProducerKeys, DEFAULT_MAX_PRODUCER_KEYS), (_, p) => {
      p.then((k) => k.close()).catch(() => {});
    });
  }

  /** Settles once every key this node accepted so far is persisted (for tests that restart a node). */
  get persisted(): Promise<void> {
    return this.#exchanger.persisted;
  }

  /** Encrypts one record value for the consumer of (topic, partition): CBOR `KafkaEncryptedContent` (KAFKA.md §2.4). */
  async encryptValue(topic: string, partition: number, plaintext: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    checkTopic(topic, partition);
    const resolution = this.#o.consumerResolution;
    if (resolution.kind === 'none')
      throw new KafkaKeyError(
        'no-consumer-resolution',
        `Kafka inlet ${this.#o.addr} cannot encrypt: it has no consumer resolution (give --consumer or --consumer-relay)`,
      );
    // KAFKA.md §2.3 step 1: one key for a single consumer, one per (topic, partition) through relays.
    const cacheKey = resolution.kind === 'single-node' ? '' : `${topic}\u0000${partition}`;
    let p = this.#keys.get(cacheKey);
    if (p === undefined) {
      const exchange = this.#exchange(topic, partition);
      p = exchange;
      this.#keys.set(cacheKey, exchange);
      // A failed exchange is not kept: the next record tries again.
      exchange.catch(() => {
        if (this.#keys.get(cacheKey) === exchange) this.#keys.delete(cacheKey);
      });
    }
    const key = await p;
    let sealed: Uint8Array;
    try {
      sealed = key.encryptor.encrypt(plaintext);
    } catch (cause) {
      // Nonces used up (2^64 − 1 values) or the key dropped meanwhile: the next call exchanges again.
      if (this.#keys.get(cacheKey) === p) this.#keys.delete(cacheKey);
      throw new KafkaKeyError(
        'key-exchange-failed',
        `Kafka inlet ${this.#o.addr}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    return encodeKafkaEncryptedContent(key.consumerDecryptorAddress, sealed, LOCAL_TRANSPORT_TYPE);
  }

  async #exchange(topic: string, partition: number): Promise<ProducerKey> {
    const resolution = this.#o.consumerResolution as Exclude<ConsumerResolution, { kind: 'none' }>;
    const destination =
      resolution.kind === 'single-node'
        ? singleNodeDestination(resolution.route)
        : viaRelayDestination(resolution.route, topic, partition);
    const target = `${destination}/service/${KEY_EXCHANGER_ADDRESS}`;
    const { secureChannels, trust, router } = this.#i;
    const resolveOptions = {
      timeoutMs: this.#timeoutMs,
      ...(this.#o.identity ? { identity: this.#o.identity } : {}),
    };
    const failed = (what: string, cause: unknown) =>
      new KafkaKeyError(
        'key-exchange-failed',
        `Kafka key exchange with the consumer at ${target} failed: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    let connection: Awaited<ReturnType<typeof resolveMultiaddr>>;
    try {
      connection = await resolveMultiaddr(this.#i.routeContext, target, resolveOptions);
    } catch (e) {
      throw failed('no route', e);
    }
    const closeRoute = async () => {
      await Promise.resolve(connection.close?.('stopped')).catch(() => {});
    };
    let exchanged: Awaited<ReturnType<typeof createKeyExchangeChannel>>;
    try {
      const id = await secureChannels.identity(this.#o.identity);
      const verify = trust.verifyCredentials;
      exchanged = await createKeyExchangeChannel(router, connection.route, {
        identity: id.channelIdentity,
        vault: id.vault.vault,
        timeoutMs: this.#timeoutMs,
        ...(verify ? { verifyCredentials: verify } : {}),
        ...(connection.flowControlId ? { consumerOf: [connection.flowControlId] } : {}),
      });
    } catch (e) {
      await closeRoute();
      throw failed('handshake', e);
    }
    const consumer = exchanged.peerIdentifier;
    const drop = async () => {
      exchanged.encryptor.destroy();
      await closeRoute();
    };
    // KAFKA.md §2.3 step 4: the consumer must pass the kafka-consumer policy before any encryption.
    if (!(await this.#allowed('kafka-consumer', consumer))) {
      await drop();
      throw new KafkaKeyError(
        'consumer-refused',
        `Kafka inlet ${this.#o.addr}: the consumer ${consumer} is refused by the policy of kafka-consumer-${this.#o.addr}; no record is encrypted for it`,
      );
    }
    // Step 5: a normal channel to the consumer's api, which keeps credentials fresh both ways
    // (Ockam opens one per key and never records it; one per consumer identity is enough).
    if (!this.#normalChannels.has(consumer)) {
      try {
        const normal = await resolveMultiaddr(this.#i.routeContext, `${destination}/secure/api`, {
          ...resolveOptions,
          authorized: [consumer],
        });
        // Bounded as the keys are: the oldest channel goes first (a new key reopens it).
        if (this.#normalChannels.size >= this.#keys.max) {
          const [oldest, close] = this.#normalChannels.entries().next().value as [
            string,
            () => Promise<void>,
          ];
          this.#normalChannels.delete(oldest);
          await close();
        }
        this.#normalChannels.set(consumer, async () => {
          await Promise.resolve(normal.close?.('stopped')).catch(() => {});
        });
      } catch (e) {
        await drop();
        throw failed('the secure channel to its api', e);
      }
    }
    if (this.#closed) {
      // Closed while the exchange ran: nothing will use this key.
      await drop();
      throw new KafkaKeyError('closed', `Kafka inlet ${this.#o.addr}'s key exchange is closed`);
    }
    this.#i.logger?.info('Kafka key exchanged', {
      inlet: this.#o.addr,
      consumer,
      decryptor: exchanged.consumerDecryptorAddress.value,
      ...(resolution.kind === 'via-relay' ? { topic, partition } : {}),
    });
    return {
      encryptor: exchanged.encryptor,
      consumerDecryptorAddress: exchanged.consumerDecryptorAddress.value,
      consumerIdentifier: consumer,
      close: drop,
    };
  }

  /** Decrypts one stored record value; throws a `KafkaKeyError` (see its `reason`). */
  async decryptValue(topic: string, partition: number, stored: Uint8Array): Promise<Uint8Array> {
    this.#checkOpen();
    const malformed = (cause: unknown) =>
      new KafkaKeyError(
        'malformed',
        `Kafka record in ${topic}/${partition} is not an encrypted Ockam record: ${(cause as Error).message}`,
        { cause },
      );
    let header: KafkaEncryptedHeader;
    try {
      header = readKafkaEncryptedHeader(stored);
    } catch (cause) {
      throw malformed(cause);
    }
    const local = header.transportType === LOCAL_TRANSPORT_TYPE;
    // The common case, every record of a fetch after the first: the key is in memory and the
    // producer's decision is cached. Then the content is decoded into a reused buffer and
    // decrypted with no await in between, so nothing else can write that buffer meanwhile.
    const known = local ? this.#exchanger.inMemory(header.address) : undefined;
    if (known !== undefined && this.#cachedDecision('kafka-producer', known.producerIdentifier) === true) {
      let content: Uint8Array;
      try {
        content = readKafkaEncryptedItems(stored, header, this.#scratch(header.count));
      } catch (cause) {
        throw malformed(cause);
      }
      const plaintext = this.#decryptWith(known, content, topic, partition, header.address);
      // A vault may decrypt in place: the plaintext must not stay in the buffer the next record reuses.
      return plaintext.buffer === content.buffer ? plaintext.slice() : plaintext;
    }
    let content: Uint8Array;
    try {
      content = readKafkaEncryptedItems(stored, header, new Uint8Array(header.count));
    } catch (cause) {
      throw malformed(cause);
    }
    const key = local ? await this.#exchanger.find(header.address) : undefined;
    if (key === undefined)
      throw new KafkaKeyError(
        'unknown-decryptor',
        `Kafka record in ${topic}/${partition} names decryptor ${header.address}, for which this node holds no key`,
      );
    if (!(await this.#allowed('kafka-producer', key.producerIdentifier)))
      throw new KafkaKeyError(
        'producer-refused',
        `Kafka record in ${topic}/${partition} comes from producer ${key.producerIdentifier}, refused by the policy of kafka-producer-${this.#o.addr}`,
      );
    try {
      return key.decryptor.decrypt(content);
    } catch (cause) {
      // Dropped from memory (the cap) while the policy was evaluated: find it again, once.
      if (OckamError.isKind(cause, 'shutdown')) {
        const again = await this.#exchanger.find(header.address);
        if (again !== undefined && again !== key)
          return this.#decryptWith(again, content, topic, partition, header.address);
      }
      throw this.#notAuthentic(topic, partition, header.address, cause);
    }
  }

  #decryptWith(
    key: ConsumerKey,
    content: Uint8Array,
    topic: string,
    partition: number,
    address: string,
  ): Uint8Array {
    try {
      return key.decryptor.decrypt(content);
    } catch (cause) {
      throw this.#notAuthentic(topic, partition, address, cause);
    }
  }

  #notAuthentic(topic: string, partition: number, address: string, cause: unknown): KafkaKeyError {
    return new KafkaKeyError(
      'authentication-failed',
      `Kafka record in ${topic}/${partition} does not authenticate under the key of decryptor ${address}: it was altered, or not written for this key`,
      { cause },
    );
  }

  /**
   * A buffer of at least `size` bytes for a record's ciphertext, reused from record to record
   * (ciphertext is no secret). It grows to the largest record seen up to 1 MiB; a larger record
   * gets a buffer of its own, so one big record does not pin its size for the inlet's lifetime.
   */
  #scratch(size: number): Uint8Array {
    if (size > MAX_SCRATCH_BYTES) return new Uint8Array(size);
    if (this.#scratchBuffer.length < size)
      this.#scratchBuffer = new Uint8Array(
        Math.min(MAX_SCRATCH_BYTES, Math.max(size, 2 * this.#scratchBuffer.length)),
      );
    return this.#scratchBuffer;
  }

  /** Publishes relays `consumer_<topic>_<partition>` at the publishing route (cached; no-op for kind 'none'). */
  async publishConsumer(topic: string, partitions: readonly number[]): Promise<void> {
    this.#checkOpen();
    const publishing = this.#o.consumerPublishing;
    if (publishing.kind === 'none') return;
    for (const partition of partitions) checkTopic(topic, partition);
    const pending: Promise<Relay>[] = [];
    for (const partition of partitions) {
      const alias = `${CONSUMER_RELAY_PREFIX}${topic}_${partition}`;
      let p = this.#relays.get(alias);
      if (p === undefined) {
        if (this.#relays.size >= this.#maxRelays)
          throw new KafkaKeyError(
            'limit',
            `Kafka inlet ${this.#o.addr} already publishes ${this.#maxRelays} consumer relays; ${alias} is not published`,
          );
        const publish = this.#publish(publishing.route, alias);
        p = publish;
        this.#relays.set(alias, publish);
        publish.catch(() => {
          if (this.#relays.get(alias) === publish) this.#relays.delete(alias);
        });
      }
      pending.push(p);
    }
    await Promise.all(pending);
  }

  async #publish(route: string, alias: string): Promise<Relay> {
    const resolveOptions = {
      timeoutMs: this.#timeoutMs,
      ...(this.#o.identity ? { identity: this.#o.identity } : {}),
    };
    try {
      // KAFKA.md §2.2: a static relay named by the alias; what comes through it may reach the key
      // exchanger and the api listener (the producer's normal channel), nothing else.
      return await createRelay(
        this.#i.router,
        async () => {
          const c = await resolveMultiaddr(this.#i.routeContext, expandSelf(route), resolveOptions);
          return { ...c, ...(c.close ? { close: c.close } : {}) };
        },
        alias,
        {
          static: true,
          exposeTo: [KEY_EXCHANGER_ADDRESS, 'api'],
          ...(this.#i.session ? { session: this.#i.session } : {}),
          ...(this.#i.logger ? { logger: this.#i.logger } : {}),
        },
      );
    } catch (cause) {
      throw new KafkaKeyError(
        'key-exchange-failed',
        `Kafka inlet ${this.#o.addr} could not publish relay ${alias} at ${route}: ${(cause as Error).message}`,
        { cause },
      );
    }
  }

  /**
   * Whether `identifier` passes the policy of `<type>-<addr>` (its own, else its type's). A node
   * without an authority and without such a policy allows, as its inlets and outlets do; with an
   * authority the type's default is `(= subject.has_credential true)`. Producer decisions are
   * reused for a second: they are asked for at every record.
   */
  async #allowed(
    type: Extract<ResourceType, 'kafka-consumer' | 'kafka-producer'>,
    identifier: string,
  ): Promise<boolean> {
    const now = Date.now();
    const cached = this.#cachedDecision(type, identifier, now);
    if (cached !== undefined) return cached;
    const { trust } = this.#i;
    const resolved = await trust.policies.expressionFor({ name: `${type}-${this.#o.addr}`, type });
    let allowed: boolean;
    if (resolved === undefined) allowed = !trust.hasAuthority;
    else {
      const decision = await authorizeIdentity(identifier, resolved.expr, {
        attributes: trust.attributes,
        ...(trust.authorityIdentifier ? { authority: trust.authorityIdentifier } : {}),
        ...(this.#i.logger ? { logger: this.#i.logger } : {}),
      });
      allowed = decision.allowed;
    }
    if (type === 'kafka-producer') {
      if (this.#decisions.size >= MAX_CACHED_DECISIONS) this.#decisions.clear();
      this.#decisions.set(identifier, { allowed, until: now + PRODUCER_DECISION_TTL_MS });
    }
    return allowed;
  }

  /** A producer decision still fresh in the cache, else undefined (consumer decisions are never cached). */
  #cachedDecision(type: ResourceType, identifier: string, now = Date.now()): boolean | undefined {
    if (type !== 'kafka-producer') return undefined;
    const cached = this.#decisions.get(identifier);
    return cached !== undefined && cached.until > now ? cached.allowed : undefined;
  }

  #checkOpen(): void {
    if (this.#closed)
      throw new KafkaKeyError('closed', `Kafka inlet ${this.#o.addr}'s key exchange is closed`);
  }

  /** Stops this inlet's relays and forgets its keys (the node's key_exchanger stays, as in Ockam). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const keys = this.#keys.values();
    this.#keys.clear();
    for (const p of keys) await p.then((k) => k.close()).catch(() => {});
    const relays = [...this.#relays.values()];
    this.#relays.clear();
    for (const p of relays) await p.then((r) => r.stop()).catch(() => {});
    for (const close of this.#normalChannels.values()) await close();
    this.#normalChannels.clear();
  }
}

/**
 * Starts the key exchange of one kafka-inlet on `node` (KAFKA.md §1.1 steps 1-3): stores
 * `allowConsumer`/`allowProducer` as the policies of `kafka-consumer-<addr>`/`kafka-producer-<addr>`
 * and starts the node's `key_exchanger` listener if this is its first inlet.
 */
export async function createKafkaKeyExchange(
  node: OckamNode,
  options: KafkaKeyExchangeOptions,
): Promise<KafkaKeyExchange> {
  const internals = internalsOf.get(node);
  if (internals === undefined) throw invalid('createKafkaKeyExchange needs a node made by createNode');
  if (typeof options.addr !== 'string' || options.addr.length === 0)
    throw invalid('A Kafka inlet needs an address (--addr)');
  for (const [type, expression] of [
    ['kafka-consumer', options.allowConsumer],
    ['kafka-producer', options.allowProducer],
  ] as const) {
    if (expression !== undefined)
      await internals.trust.policies.setPolicy({ resourceName: `${type}-${options.addr}` }, expression);
  }
  let exchanger = exchangers.get(node);
  if (exchanger === undefined) {
    const started = KeyExchanger.start(internals);
    exchanger = started;
    exchangers.set(node, started);
    started.catch(() => {
      if (exchangers.get(node) === started) exchangers.delete(node);
    });
  }
  return new KafkaKeyExchange(internals, options, await exchanger);
}
