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
import { OckamError } from '@ockam/core';
import type { OckamNode } from './node.js';

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
  | 'key-exchange-failed';

const KIND_OF_REASON = {
  'unknown-decryptor': 'not-found',
  'producer-refused': 'permission',
  'consumer-refused': 'permission',
  'authentication-failed': 'protocol',
  malformed: 'serialization',
  'no-consumer-resolution': 'invalid',
  'key-exchange-failed': 'io',
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

/** The key exchange of one kafka-inlet; see the module comment. Made by `createKafkaKeyExchange`. */
export class KafkaKeyExchange {
  /** Encrypts one record value for the consumer of (topic, partition): CBOR `KafkaEncryptedContent` (KAFKA.md §2.4). */
  async encryptValue(_topic: string, _partition: number, _plaintext: Uint8Array): Promise<Uint8Array> {
    throw new KafkaKeyError('key-exchange-failed', 'Kafka key exchange is not implemented yet');
  }

  /** Decrypts one stored record value; throws a `KafkaKeyError` (see its `reason`). */
  async decryptValue(_topic: string, _partition: number, _stored: Uint8Array): Promise<Uint8Array> {
    throw new KafkaKeyError('key-exchange-failed', 'Kafka key exchange is not implemented yet');
  }

  /** Publishes relays `consumer_<topic>_<partition>` at the publishing route (cached; no-op for kind 'none'). */
  async publishConsumer(_topic: string, _partitions: readonly number[]): Promise<void> {}

  async close(): Promise<void> {}
}

/** Starts the key exchange of one kafka-inlet on `node` (and the node's `key_exchanger` listener, once). */
export async function createKafkaKeyExchange(
  _node: OckamNode,
  _options: KafkaKeyExchangeOptions,
): Promise<KafkaKeyExchange> {
  return new KafkaKeyExchange();
}
