/**
 * Kafka end-to-end encryption keys between our node and Ockam Rust 0.139 (KAFKA.md §2), through a
 * real Kafka 3.7 broker, no Kafka inlet of ours involved (the kafka-inlet itself is tested with
 * the portals): only the key exchange and the stored record format.
 *
 * - Ours produces for a Rust consumer: our node exchanges a key with the Rust node's
 *   `key_exchanger` (started by its `kafka-inlet create`, no project), writes
 *   `KafkaEncryptedContent` bytes straight to the broker with kcat, and kcat reading through the
 *   Rust kafka-inlet gets the plaintext: Rust found the key by the address in our record.
 * - Rust produces for our consumer: a Rust kafka-inlet with `--consumer` our node exchanges a key
 *   with our `key_exchanger`; kcat writes through it; we read the raw record from the broker
 *   and our key exchange decrypts it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKafkaKeyExchange,
  createNode,
  decodeKafkaEncryptedContent,
  type KafkaKeyExchange,
  type OckamNode,
} from '@ockam/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// A relative import: @ockam/brokers depends on this package (its free ports and waits).
import { brokerSkipReason, type KafkaBroker, startKafka } from '../../brokers/src/index.js';
import { Ockam, rustMissing, type StartedNode } from '../src/ockam.js';
import { freePort } from '../src/ports.js';
import { until } from '../src/wait.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

/** kcat with binary output: the values of the records, as raw bytes. */
function kcatBytes(args: string[], timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'kcat',
      args,
      { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (e, stdout, stderr) =>
        e ? reject(new Error(`kcat ${args.join(' ')}: ${e.message} ${stderr.toString()}`)) : resolve(stdout),
    );
  });
}

/** kcat -P with one file: the file's bytes are one record value. */
function kcatProduceFile(bootstrap: string, topic: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', '0', file], { stdio: 'ignore' });
    p.once('error', reject);
    p.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`kcat -P exited with ${code}`))));
  });
}

/** Reads partition 0 of `topic` from the start; `count` records, or fails after the timeout. */
async function consume(bootstrap: string, topic: string, count: number): Promise<Buffer> {
  return kcatBytes([
    '-b',
    bootstrap,
    '-C',
    '-t',
    topic,
    '-p',
    '0',
    '-o',
    'beginning',
    '-c',
    String(count),
    '-e',
    '-q',
    '-f',
    '%s',
  ]);
}

const skip = rustMissing() ?? brokerSkipReason('kafka') ?? brokerSkipReason('kcat');

describe.skipIf(skip)('Kafka key exchange with Ockam Rust 0.139 through a real broker', () => {
  let kafka: KafkaBroker;
  let rust: Ockam;
  let rustNode: StartedNode;
  let ours: OckamNode;
  let keys: KafkaKeyExchange;
  let rustSelf: string;
  const tmp = mkdtempSync(join(tmpdir(), 'ockam-kafka-keys-interop-'));

  beforeAll(async () => {
    kafka = await startKafka({ partitions: 1 });
    rust = Ockam.rust();
    // Our own listener address: Rust's `node show` right after `node create` may not list its
    // transports yet, which is all the harness's createNode reads the port from.
    const rustPort = await freePort('tcp');
    await rust.ok(['node', 'create', 'rk', '--tcp-listener-address', `127.0.0.1:${rustPort}`], {
      timeoutMs: 180_000,
    });
    rustNode = { name: 'rk', tcp: `127.0.0.1:${rustPort}`, route: `/ip4/127.0.0.1/tcp/${rustPort}` };
    ours = await createNode();
    // Our key exchange: producer for the Rust consumer (single node), and a consumer itself.
    keys = await createKafkaKeyExchange(ours, {
      addr: 'kafka_inlet',
      consumerResolution: { kind: 'single-node', route: `${rustNode.route}/secure/api` },
      consumerPublishing: { kind: 'none' },
    });
    // No project: every Rust policy defaults to `(= subject.has_credential true)`, which nothing
    // satisfies without an authority; its own portals go from the node to itself, so allow itself.
    rustSelf = `(= subject.identifier "${await rust.identifier()}")`;
    await rust.ok([
      'kafka-outlet',
      'create',
      '--at',
      'rk',
      '--bootstrap-server',
      kafka.bootstrap,
      '--allow',
      rustSelf,
    ]);
  });

  afterAll(async () => {
    await keys?.close();
    await ours?.stop();
    await rust?.dispose();
    await kafka?.stop({ remove: true });
    rmSync(tmp, { recursive: true, force: true });
  });

  /** `kafka-inlet create` on the Rust node at a free port, `--to` itself; resolves with the port. */
  async function rustKafkaInlet(addr: string, options: readonly string[]): Promise<number> {
    const port = await freePort('tcp');
    await rust.ok([
      'kafka-inlet',
      'create',
      '--at',
      'rk',
      '--addr',
      addr,
      '--from',
      `127.0.0.1:${port}`,
      '--brokers-port-range',
      `${port + 1}-${port + 20}`,
      '--to',
      '/secure/api',
      '--avoid-publishing',
      '--allow',
      rustSelf,
      ...options,
    ]);
    return port;
  }

  /** kcat writes one line to partition 0 of `topic` through the Rust inlet at `port`. */
  async function produceThrough(port: number, topic: string, line: string): Promise<void> {
    const code = await new Promise<number | null>((resolve, reject) => {
      const p = spawn('kcat', ['-b', `127.0.0.1:${port}`, '-P', '-t', topic, '-p', '0'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      p.once('error', reject);
      p.once('close', resolve);
      p.stdin.end(`${line}\n`);
    });
    expect(code).toBe(0);
  }

  it('ours → Rust: our record, keyed by the Rust key_exchanger, is decrypted by the Rust kafka-inlet', async () => {
    // No project: the Rust node has no authority, so its kafka-producer policy must name us.
    const port = await rustKafkaInlet('consumer_inlet', [
      '--allow-producer',
      `(= subject.identifier "${ours.identifier}")`,
    ]);
    const stored = await keys.encryptValue('ours-to-rust', 0, utf8('hello from our producer'));
    // The record names the Rust consumer's decryptor: 32 hex characters, tt 0.
    expect(decodeKafkaEncryptedContent(stored).address).toMatch(/^[0-9a-f]{32}$/);
    const file = join(tmp, 'record.bin');
    writeFileSync(file, stored);
    await kcatProduceFile(kafka.bootstrap, 'ours-to-rust', file);
    // On the broker: our bytes, exactly; no plaintext.
    const raw = await consume(kafka.bootstrap, 'ours-to-rust', 1);
    expect(Buffer.compare(raw, Buffer.from(stored))).toBe(0);
    expect(raw.includes('hello from our producer')).toBe(false);
    // Through the Rust inlet: decrypted.
    const through = await consume(`127.0.0.1:${port}`, 'ours-to-rust', 1);
    expect(through.toString()).toBe('hello from our producer');
  });

  it('Rust → ours: a Rust kafka-inlet exchanges a key with our key_exchanger; we decrypt what it wrote', async () => {
    const port = await rustKafkaInlet('producer_inlet', [
      '--consumer',
      `${ours.multiaddr}/secure/api`,
      '--allow-consumer',
      `(= subject.identifier "${ours.identifier}")`,
    ]);
    await produceThrough(port, 'rust-to-ours', 'hello from the rust producer');
    const raw = await consume(kafka.bootstrap, 'rust-to-ours', 1);
    expect(raw.includes('hello from the rust producer')).toBe(false);
    // The stored value is Rust's KafkaEncryptedContent, naming our decryptor.
    const record = decodeKafkaEncryptedContent(raw);
    expect(record.transportType).toBe(0);
    expect(record.address).toMatch(/^[0-9a-f]{32}$/);
    const plain = await keys.decryptValue('rust-to-ours', 0, raw);
    expect(new TextDecoder().decode(plain)).toBe('hello from the rust producer');
    // The Rust producer also opened a normal channel to our api (KAFKA.md §2.3 step 5).
    await until(
      () => ours.status().secureChannels.accepted >= 1,
      30_000,
      'the Rust producer’s channel to our api',
    );
  });

  it('Rust → ours via relay: our consumer publishes consumer_<topic>_<partition> on the Rust node; a Rust kafka-inlet with --consumer-relay finds our key_exchanger through it', async () => {
    // A Rust node without a project serves relays to its TCP listener's peers (as in Ockam's
    // README quick start), not through its api channels: both sides reach it by TCP.
    const relayRoute = rustNode.route;
    const consumer = await createKafkaKeyExchange(ours, {
      addr: 'relayed_consumer',
      consumerResolution: { kind: 'none' },
      consumerPublishing: { kind: 'relay', route: relayRoute },
    });
    try {
      // Ockam's relay registration, to Ockam's static_forwarding_service, answered forward_to_<alias>.
      await consumer.publishConsumer('relayed', [0]);
      const port = await rustKafkaInlet('relay_producer_inlet', [
        '--consumer-relay',
        relayRoute,
        '--allow-consumer',
        `(= subject.identifier "${ours.identifier}")`,
      ]);
      await produceThrough(port, 'relayed', 'hello through the relay');
      const raw = await consume(kafka.bootstrap, 'relayed', 1);
      expect(raw.includes('hello through the relay')).toBe(false);
      expect(new TextDecoder().decode(await consumer.decryptValue('relayed', 0, raw))).toBe(
        'hello through the relay',
      );
    } finally {
      await consumer.close();
    }
  });
});
