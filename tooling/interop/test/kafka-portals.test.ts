/**
 * Kafka portals between our `ockam` and Ockam Rust 0.139 (KAFKA.md §1, §2), through a real Kafka
 * 3.7 broker, with kcat as the client. One node of each (their own homes, no project), each with
 * a kafka-outlet to the broker, and kafka-inlets that cross over:
 *
 * - our kafka-inlets reach the Rust kafka-outlet (`kafka_interceptor`, `kafka_bootstrap`,
 *   `kafka_outlet_<id>` on the Rust node: our interceptor hop speaks to Rust's);
 * - Rust's kafka-inlets reach our kafka-outlet (Rust's interceptor hop speaks to ours);
 * - a Rust producer inlet encrypts for our consumer inlet on one topic, and our producer inlet for
 *   a Rust consumer inlet on another: each side decrypts what the other wrote, so the records on
 *   the broker are byte-compatible.
 *
 * No project: the Rust policies default to `(= subject.has_credential true)`, which nothing meets
 * without an authority, so each Rust service is given one naming the peer's identifier; ours
 * allow everyone without an authority.
 */
import { spawn } from 'node:child_process';
// A relative import: @ockam/brokers depends on this package (its free ports and waits).
import { brokerSkipReason, type KafkaBroker, kcat, startKafka } from '@ockam/brokers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing } from '../src/ockam.js';
import { freePort } from '../src/ports.js';

const skip = rustMissing() ?? brokerSkipReason('kafka') ?? brokerSkipReason('kcat');

/** Writes `lines` through a Kafka bootstrap server; resolves kcat's exit code. */
function produce(server: string, topic: string, lines: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn('kcat', ['-b', server, '-P', '-t', topic, '-X', 'message.timeout.ms=20000'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    p.once('error', reject);
    p.once('close', resolve);
    p.stdin.end(`${lines.join('\n')}\n`);
  });
}

async function consume(server: string, topic: string): Promise<string[]> {
  const r = await kcat(['-b', server, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], {
    timeoutMs: 60_000,
  });
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe.skipIf(skip)('Kafka portals between our ockam and Ockam Rust 0.139 through a real broker', () => {
  let kafka: KafkaBroker;
  let ours: Ockam;
  let rust: Ockam;
  let oursRoute: string;
  let rustRoute: string;
  let oursId: string;
  let rustId: string;
  const servers: Record<string, string> = {};

  /** A kafka-inlet on `side`'s node; its bootstrap server. */
  async function inlet(side: Ockam, node: string, addr: string, flags: string[]): Promise<string> {
    const from = await freePort('tcp');
    const brokers = await freePort('tcp');
    await side.ok(
      [
        'kafka-inlet',
        'create',
        '--at',
        node,
        '--addr',
        addr,
        '--from',
        `127.0.0.1:${from}`,
        '--brokers-port-range',
        `${brokers}-${brokers}`,
        ...flags,
      ],
      { timeoutMs: 120_000 },
    );
    return `127.0.0.1:${from}`;
  }

  beforeAll(async () => {
    kafka = await startKafka({ partitions: 1 });
    ours = Ockam.ours();
    rust = Ockam.rust();
    const rustPort = await freePort('tcp');
    await rust.ok(['node', 'create', 'rk', '--tcp-listener-address', `127.0.0.1:${rustPort}`], {
      timeoutMs: 180_000,
    });
    rustRoute = `/ip4/127.0.0.1/tcp/${rustPort}`;
    oursRoute = (await ours.createNode('ok')).route;
    oursId = await ours.identifier();
    rustId = await rust.identifier();
    const rustPeers = `(or (= subject.identifier "${oursId}") (= subject.identifier "${rustId}"))`;
    await rust.ok([
      'kafka-outlet',
      'create',
      '--at',
      'rk',
      '--bootstrap-server',
      kafka.bootstrap,
      '--allow',
      rustPeers,
    ]);
    await ours.ok(['kafka-outlet', 'create', '--at', 'ok', '--bootstrap-server', kafka.bootstrap]);

    // Ours → the Rust outlet: a consumer, and a producer encrypting for the Rust node's consumer.
    servers.oursConsumer = await inlet(ours, 'ok', 'consumer', [
      '--to',
      `${rustRoute}/secure/api`,
      '--avoid-publishing',
    ]);
    servers.oursProducer = await inlet(ours, 'ok', 'producer', [
      '--to',
      `${rustRoute}/secure/api`,
      '--consumer',
      `${rustRoute}/secure/api`,
      '--avoid-publishing',
    ]);
    // Rust → our outlet: a consumer, and a producer encrypting for our node's consumer.
    servers.rustConsumer = await inlet(rust, 'rk', 'consumer', [
      '--to',
      `${oursRoute}/secure/api`,
      '--avoid-publishing',
      '--allow',
      rustPeers,
      '--allow-producer',
      rustPeers,
    ]);
    servers.rustProducer = await inlet(rust, 'rk', 'producer', [
      '--to',
      `${oursRoute}/secure/api`,
      '--consumer',
      `${oursRoute}/secure/api`,
      '--avoid-publishing',
      '--allow',
      rustPeers,
      '--allow-consumer',
      rustPeers,
    ]);
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled([ours?.dispose(), rust?.dispose()]);
    await kafka?.stop({ remove: true });
  }, 120_000);

  it('a Rust producer inlet (through our kafka-outlet) encrypts for our consumer inlet (through the Rust kafka-outlet)', async () => {
    const lines = ['rust-to-ours 1', 'rust-to-ours 2', 'rust-to-ours 3'];
    expect(await produce(servers.rustProducer!, 'rust-to-ours', lines)).toBe(0);
    const raw = await kcat(
      ['-b', kafka.bootstrap, '-C', '-t', 'rust-to-ours', '-o', 'beginning', '-e', '-q'],
      {
        timeoutMs: 60_000,
      },
    );
    expect(raw.stdout).not.toContain('rust-to-ours');
    expect(await consume(servers.oursConsumer!, 'rust-to-ours')).toEqual(lines);
  });

  it('our producer inlet (through the Rust kafka-outlet) encrypts for a Rust consumer inlet (through our kafka-outlet)', async () => {
    const lines = ['ours-to-rust 1', 'ours-to-rust 2', 'ours-to-rust 3'];
    expect(await produce(servers.oursProducer!, 'ours-to-rust', lines)).toBe(0);
    const raw = await kcat(
      ['-b', kafka.bootstrap, '-C', '-t', 'ours-to-rust', '-o', 'beginning', '-e', '-q'],
      {
        timeoutMs: 60_000,
      },
    );
    expect(raw.stdout).not.toContain('ours-to-rust');
    expect(await consume(servers.rustConsumer!, 'ours-to-rust')).toEqual(lines);
    // The Rust kafka-outlet made its broker outlet from the Metadata our inlet carried.
    expect((await rust.ok(['worker', 'list', '--at', 'rk'])).includes('kafka_outlet_1')).toBe(true);
  });
});
