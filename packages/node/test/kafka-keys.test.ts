import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteKafkaDecryptors } from '@ockam/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKafkaKeyExchange,
  createNode,
  decodeKafkaEncryptedContent,
  encodeKafkaEncryptedContent,
  KafkaKeyError,
  type KafkaKeyErrorReason,
  type KafkaKeyExchangeOptions,
  type NodeOptions,
  type OckamNode,
} from '../src/index.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The reason of the KafkaKeyError `p` rejects with. */
async function reason(p: Promise<unknown>): Promise<KafkaKeyErrorReason | string> {
  try {
    await p;
  } catch (e) {
    return e instanceof KafkaKeyError ? e.reason : `not a KafkaKeyError: ${(e as Error).message}`;
  }
  return 'fulfilled';
}

/**
 * Three or four of our nodes in one process, joined by real TCP: an authority (issues
 * credentials, listens nowhere), a consumer, a producer, a relay node; all trust the authority,
 * so every policy is deny by default (`(= subject.has_credential true)`).
 */
describe('Kafka key exchange between nodes (real TCP)', () => {
  let authority: OckamNode;
  let consumer: OckamNode;
  let producer: OckamNode;
  let relayNode: OckamNode;
  const nodes: OckamNode[] = [];
  const homes: string[] = [];
  const member = async (attributes: Record<string, string>, home?: string, options: NodeOptions = {}) => {
    const n = await createNode({
      trust: { authority: authority.exportIdentity() },
      ...(home ? { home } : {}),
      ...options,
    });
    nodes.push(n);
    n.presentCredential(await authority.issueCredential(n.identifier, attributes));
    return n;
  };

  /** A consumer inlet's key exchange: no resolution, no publishing. */
  const consumerKeys = (node: OckamNode, addr: string, extra: Partial<KafkaKeyExchangeOptions> = {}) =>
    createKafkaKeyExchange(node, {
      addr,
      consumerResolution: { kind: 'none' },
      consumerPublishing: { kind: 'none' },
      ...extra,
    });
  /** A producer inlet's key exchange with one consumer node (`--consumer <node>/secure/api`). */
  const producerKeys = (addr: string, to: OckamNode, extra: Partial<KafkaKeyExchangeOptions> = {}) =>
    createKafkaKeyExchange(producer, {
      addr,
      consumerResolution: { kind: 'single-node', route: `${to.multiaddr}/secure/api` },
      consumerPublishing: { kind: 'none' },
      ...extra,
    });

  beforeAll(async () => {
    authority = await createNode({ tcp: { listen: false } });
    nodes.push(authority);
    consumer = await member({ role: 'consumer', 'ockam-relay': '*' });
    producer = await member({ role: 'producer' });
    relayNode = await member({ role: 'relay' });
  });
  afterAll(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('single node: the producer exchanges one key with the consumer’s key_exchanger; the consumer decrypts', async () => {
    const c = await consumerKeys(consumer, 'kafka_inlet');
    const p = await producerKeys('kafka_inlet', consumer);
    try {
      const a = await p.encryptValue('orders', 0, utf8('first'));
      const b = await p.encryptValue('payments', 7, utf8('second'));
      const first = decodeKafkaEncryptedContent(a);
      const second = decodeKafkaEncryptedContent(b);
      // One key for every topic and partition with a single consumer: the same decryptor, nonces 0 and 1.
      expect(first.address).toMatch(/^[0-9a-f]{32}$/);
      expect(second.address).toBe(first.address);
      expect([...first.content.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect([...second.content.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
      expect(text(await c.decryptValue('payments', 7, b))).toBe('second');
      expect(text(await c.decryptValue('orders', 0, a))).toBe('first');
      // The key_exchanger listener exists once, and the producer's normal channel reached api.
      expect(consumer.secureChannelListeners().map((l) => l.address)).toContain('key_exchanger');
      expect(producer.secureChannels().some((ch) => ch.peerIdentifier === consumer.identifier)).toBe(true);

      // A tampered record fails authentication; garbage is malformed; nothing else decrypts it.
      const tampered = encodeKafkaEncryptedContent(
        first.address,
        first.content.map((v, i) => (i === 10 ? v ^ 1 : v)),
      );
      expect(await reason(c.decryptValue('orders', 0, tampered))).toBe('authentication-failed');
      expect(await reason(c.decryptValue('orders', 0, utf8('plain text')))).toBe('malformed');
      expect(
        await reason(c.decryptValue('orders', 0, encodeKafkaEncryptedContent('f'.repeat(32), first.content))),
      ).toBe('unknown-decryptor');
      // A third identity, with its own key_exchanger, holds no key for that record.
      const other = await member({ role: 'consumer' });
      const o = await consumerKeys(other, 'kafka_inlet');
      expect(await reason(o.decryptValue('orders', 0, a))).toBe('unknown-decryptor');
      await o.close();
    } finally {
      await p.close();
      await c.close();
    }
  });

  it('via relay: the consumer publishes consumer_<topic>_<partition> on a third node; the producer finds it there, one key per partition', async () => {
    const relayRoute = `${relayNode.multiaddr}/secure/api`;
    const c = await createKafkaKeyExchange(consumer, {
      addr: 'relayed',
      consumerResolution: { kind: 'none' },
      consumerPublishing: { kind: 'relay', route: relayRoute },
    });
    const p = await createKafkaKeyExchange(producer, {
      addr: 'relayed',
      consumerResolution: { kind: 'via-relay', route: relayRoute },
      consumerPublishing: { kind: 'none' },
      // The first attempt goes to a relay not published yet: it waits this long for an answer.
      keyExchangeTimeoutMs: 2_000,
    });
    try {
      // Not published yet: the relay is not there, the exchange fails and is tried again later.
      expect(await reason(p.encryptValue('events', 0, utf8('too early')))).toBe('key-exchange-failed');
      await c.publishConsumer('events', [0, 1]);
      await c.publishConsumer('events', [0, 1]); // cached: no second registration
      expect(relayNode.servedRelays().sort()).toEqual([
        'forward_to_consumer_events_0',
        'forward_to_consumer_events_1',
      ]);
      const r0 = await p.encryptValue('events', 0, utf8('p0'));
      const r1 = await p.encryptValue('events', 1, utf8('p1'));
      expect(decodeKafkaEncryptedContent(r0).address).not.toBe(decodeKafkaEncryptedContent(r1).address);
      expect(text(await c.decryptValue('events', 0, r0))).toBe('p0');
      expect(text(await c.decryptValue('events', 1, r1))).toBe('p1');
      // The relay node saw ciphertext only: nothing it holds is a key, and records never pass it.
    } finally {
      await p.close();
      await c.close();
    }
  });

  it('a consumer without relay rights (no ockam-relay attribute) cannot publish: the relay node refuses and the error says so', async () => {
    const plain = await member({ role: 'consumer' });
    const c = await createKafkaKeyExchange(plain, {
      addr: 'kafka_inlet',
      consumerResolution: { kind: 'none' },
      consumerPublishing: { kind: 'relay', route: `${relayNode.multiaddr}/secure/api` },
    });
    try {
      const error = await c.publishConsumer('events', [5]).catch((e: unknown) => e);
      expect((error as KafkaKeyError).reason).toBe('key-exchange-failed');
      expect((error as Error).message).toMatch(/consumer_events_5.*refused by the relay node/);
      expect(relayNode.servedRelays()).not.toContain('forward_to_consumer_events_5');
    } finally {
      await c.close();
    }
  });

  it('a consumer refused by the producer’s kafka-consumer policy gets no key: encryption fails and says so', async () => {
    await consumerKeys(consumer, 'kafka_inlet');
    const p = await producerKeys('strict_producer', consumer, {
      allowConsumer: '(= subject.role "auditor")',
    });
    try {
      const error = await p.encryptValue('orders', 0, utf8('secret')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KafkaKeyError);
      expect((error as KafkaKeyError).reason).toBe('consumer-refused');
      expect((error as KafkaKeyError).kind).toBe('permission');
      expect((error as Error).message).toContain(consumer.identifier);
      expect((error as Error).message).toContain('kafka-consumer-strict_producer');
    } finally {
      await p.close();
    }
  });

  it('a producer refused by the consumer’s kafka-producer policy is not decrypted', async () => {
    const strict = await consumerKeys(consumer, 'strict_consumer', {
      allowProducer: '(= subject.role "auditor")',
    });
    const lenient = await consumerKeys(consumer, 'lenient_consumer', {
      allowProducer: '(= subject.role "producer")',
    });
    const p = await producerKeys('kafka_inlet', consumer);
    try {
      const record = await p.encryptValue('orders', 0, utf8('for lenient only'));
      const error = await strict.decryptValue('orders', 0, record).catch((e: unknown) => e);
      expect((error as KafkaKeyError).reason).toBe('producer-refused');
      expect((error as Error).message).toContain(producer.identifier);
      expect(text(await lenient.decryptValue('orders', 0, record))).toBe('for lenient only');
    } finally {
      await p.close();
      await strict.close();
      await lenient.close();
    }
  });

  it('a consumer restarted on the same SQLite state still decrypts records written before', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ockam-kafka-keys-'));
    homes.push(home);
    let restartable = await member({ role: 'consumer' }, home);
    const c = await consumerKeys(restartable, 'kafka_inlet');
    const p = await producerKeys('to_restartable', restartable);
    const old = await p.encryptValue('orders', 0, utf8('written before the restart'));
    await c.persisted;
    await p.close();
    await restartable.stop();

    restartable = await member({ role: 'consumer' }, home);
    const again = await consumerKeys(restartable, 'kafka_inlet');
    expect(text(await again.decryptValue('orders', 0, old))).toBe('written before the restart');
    const tampered = decodeKafkaEncryptedContent(old);
    tampered.content[tampered.content.length - 1]! ^= 0x80;
    expect(
      await reason(
        again.decryptValue('orders', 0, encodeKafkaEncryptedContent(tampered.address, tampered.content)),
      ),
    ).toBe('authentication-failed');
    await again.close();
  });

  it('a consumer keeps at most its limits of keys: the oldest persisted key goes, the others reload from the state', async () => {
    const home = mkdtempSync(join(tmpdir(), 'ockam-kafka-keys-'));
    homes.push(home);
    const small = await member({ role: 'consumer' }, home, {
      kafkaKeyLimits: { maxDecryptorsInMemory: 1, maxPersistedDecryptors: 2 },
    });
    const c = await consumerKeys(small, 'kafka_inlet');
    const records: Uint8Array[] = [];
    for (const addr of ['k1', 'k2', 'k3']) {
      // Each producer inlet exchanges its own key.
      const p = await createKafkaKeyExchange(producer, {
        addr,
        consumerResolution: { kind: 'single-node', route: `${small.multiaddr}/secure/api` },
        consumerPublishing: { kind: 'none' },
      });
      records.push(await p.encryptValue('orders', 0, utf8(addr)));
      await c.persisted;
      await p.close();
    }
    expect(new SqliteKafkaDecryptors(small.state!, small.name).count()).toBe(2);
    expect(text(await c.decryptValue('orders', 0, records[2]!))).toBe('k3');
    expect(text(await c.decryptValue('orders', 0, records[1]!))).toBe('k2'); // reloaded: one fits in memory
    expect(await reason(c.decryptValue('orders', 0, records[0]!))).toBe('unknown-decryptor');
    await c.close();
  });

  it('garbage sent to key_exchanger over TCP is dropped, and the listener still exchanges keys', async () => {
    const outsider = await createNode();
    nodes.push(outsider);
    const c = await consumerKeys(consumer, 'kafka_inlet');
    const before = consumer
      .secureChannelListeners()
      .find((l) => l.address === 'key_exchanger')!.droppedHandshakes;
    // Too short or too long to be a msg1: dropped before anything is allocated.
    for (const size of [0, 1, 31, 65_536, 200_000])
      await outsider.send(`${consumer.multiaddr}/service/key_exchanger`, new Uint8Array(size).fill(7));
    await expect
      .poll(
        () => consumer.secureChannelListeners().find((l) => l.address === 'key_exchanger')!.droppedHandshakes,
        {
          timeout: 20_000,
        },
      )
      .toBe(before + 5);
    const p = await producerKeys('after_garbage', consumer);
    expect(text(await c.decryptValue('t', 0, await p.encryptValue('t', 0, utf8('still fine'))))).toBe(
      'still fine',
    );
    await p.close();
  });

  it('one gateway: a node with --consumer self exchanges the key with its own key_exchanger and reads its own records', async () => {
    const gateway = await member({ role: 'gateway' });
    const keys = await createKafkaKeyExchange(gateway, {
      addr: 'kafka_inlet',
      consumerResolution: { kind: 'single-node', route: 'self' },
      consumerPublishing: { kind: 'none' },
    });
    try {
      const stored = await keys.encryptValue('orders', 2, utf8('to myself'));
      expect(text(await keys.decryptValue('orders', 2, stored))).toBe('to myself');
    } finally {
      await keys.close();
    }
  });
});
