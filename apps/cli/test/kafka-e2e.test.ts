/**
 * Ockam's Kafka portals end to end: a real Kafka broker (`@ockam/brokers`), our `ockam` nodes as
 * the command starts them, kcat and Kafka's own console tools as clients. One project (the local
 * `ockam enroll`), and four identities with credentials: the outlet node beside the broker, a
 * producer, a consumer and a rogue consumer, each on its own node. Producer and consumer each go
 * through their own kafka-inlet to the kafka-outlet, reached through the project's relay
 * `kafka_outlet`; the producer finds the consumer's `key_exchanger` through the consumer's relay
 * `kafka_consumer` (Ockam's "explicit consumer" scenario, KAFKA.md §4.2).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brokerSkipReason, type KafkaBroker, kafkaTool, kcat, startKafka } from '@ockam/brokers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ockam, tempHome } from './helpers.js';

const skip = brokerSkipReason('kafka') ?? brokerSkipReason('kcat');

const TO = '/project/default/service/forward_to_kafka_outlet/secure/api';
const CONSUMER = '/project/default/service/forward_to_kafka_consumer/secure/api';
const ROGUE = '/project/default/service/forward_to_rogue_consumer/secure/api';
const ONLY_CONSUMERS = '(= subject.role "consumer")';
/** librdkafka gives up on a record after this (its default is 5 minutes). */
const KCAT_LIMITS = ['-X', 'message.timeout.ms=15000', '-X', 'socket.timeout.ms=10000'];

/** kcat with its output as bytes (record values are binary). */
function kcatBytes(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    execFile('kcat', args, { encoding: 'buffer', timeout: 30_000, maxBuffer: 64 << 20 }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    ),
  );
}

/** Every file under `dir`, as bytes. */
function filesUnder(dir: string): Buffer[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [readFileSync(p)];
  });
}

const sorted = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .sort();

describe.skipIf(skip !== undefined)('kafka portals end to end, through a real broker', () => {
  let kafka: KafkaBroker;
  const { home, cleanup } = tempHome();
  const run = (args: string[]) => ockam(home, args, { timeoutMs: 120_000 });
  const ok = async (args: string[]): Promise<string> => {
    const r = await run(args);
    expect(r.code, `ockam ${args.join(' ')}\n${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  /** The bootstrap port of each kafka-inlet, by `node/addr`. */
  const inlets = new Map<string, number>();
  const inlet = async (node: string, addr: string, flags: string[]): Promise<number> => {
    const from = await freePort();
    const broker = await freePort();
    await ok([
      'kafka-inlet',
      'create',
      '--at',
      node,
      '--addr',
      addr,
      '--from',
      String(from),
      '--brokers-port-range',
      `${broker}-${broker}`,
      '--to',
      TO,
      ...flags,
    ]);
    inlets.set(`${node}/${addr}`, from);
    return from;
  };
  const bootstrap = (key: string) => `127.0.0.1:${inlets.get(key)}`;
  const produce = (server: string, topic: string, records: string[], extra: string[] = []) =>
    kcat(['-b', server, '-P', '-t', topic, ...KCAT_LIMITS, ...extra], {
      input: `${records.join('\n')}\n`,
      timeoutMs: 60_000,
    });
  const consume = (server: string, topic: string, extra: string[] = [], timeoutMs = 60_000) =>
    kcat(['-b', server, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\\n', ...extra], {
      timeoutMs,
    });
  const logsOf = async (node: string) => (await run(['node', 'logs', node])).stdout;

  beforeAll(async () => {
    kafka = await startKafka({ partitions: 2 });
    await ok(['enroll']);
    const members: Array<[string, string[]]> = [
      ['outlet', ['--relay', 'kafka_outlet']],
      ['producer', ['--attribute', 'role=producer']],
      // '*': it also publishes consumer_<topic>_<partition> relays on the project.
      ['consumer', ['--attribute', 'role=consumer', '--relay', '*']],
      ['rogue', ['--attribute', 'role=rogue', '--relay', 'rogue_consumer']],
    ];
    for (const [id, attributes] of members) {
      await ok(['identity', 'create', id]);
      await ok(['project', 'enroll', await ok(['project', 'ticket', ...attributes]), '--identity', id]);
      await ok(['node', 'create', `k${id}`, '--identity', id]);
    }
    await ok(['kafka-outlet', 'create', '--at', 'koutlet', '--bootstrap-server', kafka.bootstrap]);
    await ok(['relay', 'create', 'kafka_outlet', '--to', 'koutlet']);
    await ok(['relay', 'create', 'kafka_consumer', '--to', 'kconsumer']);
    await ok(['relay', 'create', 'rogue_consumer', '--to', 'krogue']);
    await inlet('kconsumer', 'main', ['--avoid-publishing']);
    await inlet('kproducer', 'main', ['--consumer', CONSUMER, '--allow-consumer', ONLY_CONSUMERS]);
  }, 300_000);

  afterAll(async () => {
    await cleanup();
    await kafka?.stop({ remove: true });
  }, 120_000);

  const messages = Array.from({ length: 20 }, (_, i) => `k${i}\tsecret-message-${i}`);
  const values = messages.map((m) => m.split('\t')[1]!).sort();

  it('carries records from a producer to a consumer, each through its own inlet and node, over two partitions', async () => {
    const sent = await produce(bootstrap('kproducer/main'), 'orders', messages, ['-K', '\t']);
    expect(sent.code, sent.stderr).toBe(0);
    const got = await consume(bootstrap('kconsumer/main'), 'orders');
    expect(got.code, got.stderr).toBe(0);
    expect(sorted(got.stdout)).toEqual(values);
    // Both partitions hold some (keys spread them), and each is read through the broker's inlet.
    const perPartition = await consume(kafka.bootstrap, 'orders', ['-f', '%p\\n']);
    expect(new Set(sorted(perPartition.stdout))).toEqual(new Set(['0', '1']));
  });

  it('leaves only ciphertext on the broker: a plain client and a grep of the log segments find no plaintext', async () => {
    const raw = await kcatBytes([
      '-b',
      kafka.bootstrap,
      '-C',
      '-t',
      'orders',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%s\n',
    ]);
    expect(raw.length).toBeGreaterThan(20 * 40);
    expect(raw.includes('secret-message')).toBe(false);
    const segments = filesUnder(kafka.logDir).filter((b) => b.length > 0);
    expect(segments.length).toBeGreaterThan(0);
    expect(segments.some((b) => b.includes('secret-message'))).toBe(false);
    // Keys are not encrypted (as Ockam): they are what proves we looked at the right segments.
    expect(segments.some((b) => b.includes('k19'))).toBe(true);
  });

  it('reads through two consumer groups, each getting every record', async () => {
    for (const group of ['group-a', 'group-b']) {
      const got = await kcat(
        [
          '-b',
          bootstrap('kconsumer/main'),
          '-G',
          group,
          '-o',
          'beginning',
          '-e',
          '-q',
          '-f',
          '%s\\n',
          'orders',
        ],
        { timeoutMs: 60_000 },
      );
      expect(got.code, got.stderr).toBe(0);
      expect(sorted(got.stdout)).toEqual(values);
    }
    // Kafka's own console consumer, in a group of its own, reads them too.
    const java = await kafkaTool(
      'kafka.tools.ConsoleConsumer',
      [
        '--bootstrap-server',
        bootstrap('kconsumer/main'),
        '--topic',
        'orders',
        '--group',
        'group-java',
        '--from-beginning',
        '--max-messages',
        '20',
        '--timeout-ms',
        '30000',
      ],
      { timeoutMs: 60_000 },
    );
    expect(sorted(java.stdout)).toEqual(values);
  });

  it('refuses a record altered on the broker with a clear error, and delivers nothing of it', async () => {
    const sent = await produce(bootstrap('kproducer/main'), 'alter-source', ['altered-secret'], ['-p', '0']);
    expect(sent.code, sent.stderr).toBe(0);
    const stored = await kcatBytes([
      '-b',
      kafka.bootstrap,
      '-C',
      '-t',
      'alter-source',
      '-p',
      '0',
      '-o',
      '0',
      '-c',
      '1',
      '-e',
      '-q',
      '-f',
      '%s',
    ]);
    expect(stored.length).toBeGreaterThan(40);
    // The last byte is one byte of the tag (an array of uints: `xx` below 24, else `18 xx`); its
    // lowest bit flipped keeps the CBOR valid and breaks authentication.
    const altered = Buffer.from(stored);
    altered[altered.length - 1]! ^= 1;
    const file = join(home, 'altered.bin');
    writeFileSync(file, altered);
    const written = await kcat([
      '-b',
      kafka.bootstrap,
      '-P',
      '-t',
      'altered',
      '-p',
      '0',
      ...KCAT_LIMITS,
      file,
    ]);
    expect(written.code, written.stderr).toBe(0);
    const got = await consume(bootstrap('kconsumer/main'), 'altered', [], 15_000);
    expect(got.stdout).not.toContain('altered-secret');
    await expect.poll(() => logsOf('kconsumer'), { timeout: 20_000 }).toMatch(/authenticat/i);
  });

  it("lets a consumer that the producer's policy refuses decrypt nothing, and get no record encrypted for it", async () => {
    await inlet('krogue', 'main', ['--avoid-publishing']);
    // The consumer's records: the rogue node has no key for them.
    const stolen = await consume(bootstrap('krogue/main'), 'orders', [], 15_000);
    expect(stolen.stdout).not.toContain('secret-message');
    // A producer pointed at the rogue refuses its identity (role=rogue, not consumer): nothing is written.
    await inlet('kproducer', 'to_rogue', ['--consumer', ROGUE, '--allow-consumer', ONLY_CONSUMERS]);
    const sent = await produce(bootstrap('kproducer/to_rogue'), 'for-rogue', ['for-the-rogue']);
    expect(sent.code).not.toBe(0);
    const raw = await consume(kafka.bootstrap, 'for-rogue', [], 10_000);
    expect(raw.stdout).not.toContain('for-the-rogue');
  });

  it('encrypts only the --encrypted-field fields, and leaves everything in plaintext with --disable-content-encryption, as Ockam', async () => {
    await inlet('kproducer', 'fields', ['--consumer', CONSUMER, '--encrypted-field', 'secret']);
    await inlet('kconsumer', 'fields', ['--avoid-publishing', '--encrypted-field', 'secret']);
    const record = JSON.stringify({
      secret: 'field-secret',
      visible: 'field-visible',
      nested: { b: 1, a: [2] },
    });
    expect((await produce(bootstrap('kproducer/fields'), 'fields', [record])).code).toBe(0);
    const raw = JSON.parse((await consume(kafka.bootstrap, 'fields')).stdout.trim());
    expect(raw.visible).toBe('field-visible');
    expect(raw.secret).toMatch(/^[0-9a-f]+$/);
    expect(JSON.parse((await consume(bootstrap('kconsumer/fields'), 'fields')).stdout.trim())).toEqual({
      nested: { a: [2], b: 1 },
      secret: 'field-secret',
      visible: 'field-visible',
    });

    await inlet('kproducer', 'clear', ['--disable-content-encryption', '--avoid-publishing']);
    await inlet('kconsumer', 'clear', ['--disable-content-encryption', '--avoid-publishing']);
    expect((await produce(bootstrap('kproducer/clear'), 'clear', ['Hello from producer'])).code).toBe(0);
    expect((await consume(bootstrap('kconsumer/clear'), 'clear')).stdout.trim()).toBe('Hello from producer');
    expect((await consume(kafka.bootstrap, 'clear')).stdout.trim()).toBe('Hello from producer');
  });

  it("finds the consumer through its consumer_<topic>_<partition> relays on the project (--consumer-relay, Ockam's default way)", async () => {
    await inlet('kconsumer', 'relayed', ['--consumer-relay', '/project/default']);
    await inlet('kproducer', 'relayed', [
      '--consumer-relay',
      '/project/default',
      '--avoid-publishing',
      '--allow-consumer',
      ONLY_CONSUMERS,
    ]);
    // The consumer's Fetch publishes its relays once the topic exists (a client's Metadata made
    // it); until then the producer's key exchange finds no consumer and its Produce fails.
    await expect
      .poll(
        async () => {
          await consume(
            bootstrap('kconsumer/relayed'),
            'relayed',
            ['-X', 'allow.auto.create.topics=true'],
            10_000,
          );
          return (await produce(bootstrap('kproducer/relayed'), 'relayed', ['through-relays'])).code;
        },
        { timeout: 100_000, interval: 500 },
      )
      .toBe(0);
    expect(sorted((await consume(bootstrap('kconsumer/relayed'), 'relayed')).stdout)).toContain(
      'through-relays',
    );
    expect((await consume(kafka.bootstrap, 'relayed')).stdout).not.toContain('through-relays');
  }, 150_000);

  it('keeps reading older records after the consumer node restarts with the same identity', async () => {
    await ok(['node', 'stop', 'kconsumer']);
    await ok(['node', 'start', 'kconsumer']);
    await expect
      .poll(
        async () => (await run(['kafka-inlet', 'list', '--at', 'kconsumer', '--output', 'json'])).stdout,
        {
          timeout: 30_000,
        },
      )
      .toContain('"main"');
    const got = await consume(bootstrap('kconsumer/main'), 'orders');
    expect(got.code, got.stderr).toBe(0);
    expect(sorted(got.stdout)).toEqual(values);
  });

  it('carries on across a broker restart in the middle of a stream', async () => {
    const before = Array.from({ length: 5 }, (_, i) => `before-restart-${i}`);
    const after = Array.from({ length: 5 }, (_, i) => `after-restart-${i}`);
    expect((await produce(bootstrap('kproducer/main'), 'restart', before)).code).toBe(0);
    await kafka.restart();
    const sent = await produce(bootstrap('kproducer/main'), 'restart', after);
    expect(sent.code, sent.stderr).toBe(0);
    const got = await consume(bootstrap('kconsumer/main'), 'restart');
    expect(sorted(got.stdout)).toEqual([...before, ...after].sort());
  });
});
