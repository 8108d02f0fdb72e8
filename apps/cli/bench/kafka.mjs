// Kafka portals (issue 18, "Performance"), in one run on 127.0.0.1, against one real Kafka 3.7
// broker (@ockam/brokers):
//
//   direct                 Kafka's perf tools straight to the broker (the reference)
//   ours, no encryption    through our kafka-inlet, --disable-content-encryption
//   ours, encrypted        through our kafka-inlet, record values end-to-end encrypted
//   rust, encrypted        through Ockam Rust 0.139's kafka-inlet (when the binary is installed)
//
// Each Ockam path is one node that runs the kafka-outlet and a kafka-inlet to it through a secure
// channel to itself (`--to self --consumer self --avoid-publishing`: the key exchange stays on the
// node), so the rows differ only in what the inlet does. Producer: Kafka's ProducerPerformance
// (kafka-producer-perf-test), BENCH_KAFKA_RECORDS records of 1 KiB, acks=1, as fast as it can;
// consumer: ConsumerPerformance reading them back through the same path (decrypting on the
// encrypted rows). Records/s and MB/s as the tools report them. BENCH_KAFKA_REPS runs, best kept.
//
// Run with `pnpm bench` in apps/cli (after `pnpm build`, with the Kafka jars from
// scripts/kafka-dist.sh); OCKAM_RUST names the Rust binary.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as brokers from '@ockam/brokers';
import { RUST_BIN, side } from '../../../tooling/interop/bench/sides.mjs';
import { fmt, freePort, table } from './lib.mjs';

const RECORDS = Number(process.env.BENCH_KAFKA_RECORDS ?? 20_000);
const REPS = Number(process.env.BENCH_KAFKA_REPS ?? 2);

/** One Ockam gateway node: kafka-outlet to the broker and a kafka-inlet to it, on one node. */
async function gateway(impl, bootstrap, inletFlags) {
  const root = mkdtempSync(join(tmpdir(), `bench-kafka-${impl}-`));
  const s = side(impl, root);
  const from = await freePort();
  const brokerPort = await freePort();
  await s.node('gw');
  // A Rust node without a project allows no one by default (`(= subject.has_credential true)`):
  // its services here talk to the node itself.
  const self = impl === 'rust' ? `(= subject.identifier "${await s.identifier()}")` : undefined;
  const allow = self ? ['--allow', self] : [];
  await s.ockam(['kafka-outlet', 'create', '--at', 'gw', '--bootstrap-server', bootstrap, ...allow]);
  await s.ockam([
    'kafka-inlet',
    'create',
    '--at',
    'gw',
    '--from',
    `127.0.0.1:${from}`,
    '--brokers-port-range',
    `${brokerPort}-${brokerPort}`,
    '--to',
    '/secure/api',
    '--consumer',
    '/secure/api',
    '--avoid-publishing',
    ...inletFlags,
    ...(self ? [...allow, '--allow-consumer', self, '--allow-producer', self] : []),
  ]);
  return {
    server: `127.0.0.1:${from}`,
    stop: async () => {
      await s.dispose();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** "20000 records sent, 10393.0 records/sec (10.15 MB/sec), …" */
function producerFigures(stdout) {
  const m = /records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(stdout);
  if (!m) throw new Error(`ProducerPerformance printed no summary:\n${stdout}`);
  return { recordsPerSecond: Number(m[1]), mbPerSecond: Number(m[2]) };
}

/** ConsumerPerformance's CSV line: start, end, MB, MB.sec, nMsg, nMsg.sec, … */
function consumerFigures(stdout) {
  const line = stdout
    .trim()
    .split('\n')
    .find((l) => /^\d{4}-\d\d-\d\d/.test(l));
  if (!line) throw new Error(`ConsumerPerformance printed no figures:\n${stdout}`);
  const f = line.split(',').map((x) => x.trim());
  return { recordsPerSecond: Number(f[5]), mbPerSecond: Number(f[3]), records: Number(f[4]) };
}

/** Producer figures, then consumer figures; each undefined (with the reason printed) when its tool failed. */
async function measure(server, topic, name) {
  const produced = await brokers.kafkaTool(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--topic',
      topic,
      '--num-records',
      String(RECORDS),
      '--record-size',
      '1024',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${server}`,
      'acks=1',
      // A path that does not work fails within a minute instead of blocking for ever.
      'max.block.ms=20000',
      'delivery.timeout.ms=60000',
    ],
    { timeoutMs: 180_000 },
  );
  const produce = produced.code === 0 ? producerFigures(produced.stdout) : undefined;
  if (!produce) console.error(`${name}: ProducerPerformance failed: ${firstLine(produced.stderr)}`);
  const consumed = await brokers.kafkaTool(
    'org.apache.kafka.tools.ConsumerPerformance',
    ['--bootstrap-server', server, '--topic', topic, '--messages', String(RECORDS), '--timeout', '60000'],
    { timeoutMs: 180_000 },
  );
  const consume = consumed.code === 0 ? consumerFigures(consumed.stdout) : undefined;
  if (!consume) console.error(`${name}: ConsumerPerformance failed: ${firstLine(consumed.stderr)}`);
  return { produce, consume };
}

/** The first line that names an exception, or the first line. */
function firstLine(text) {
  const lines = text.split('\n');
  return (lines.find((l) => /Exception|ERROR/.test(l)) ?? lines[0] ?? '').slice(0, 300);
}

/** The better of two figures (either may be missing). */
const better = (a, b) => (!a ? b : !b ? a : a.recordsPerSecond >= b.recordsPerSecond ? a : b);

const skip = brokers.brokerSkipReason('kafka');
if (skip) {
  console.log(`kafka bench skipped: ${skip}`);
  process.exit(0);
}
const kafka = await brokers.startKafka({ partitions: 1 });
const paths = [
  { name: 'direct', open: async () => ({ server: kafka.bootstrap, stop: async () => {} }) },
  {
    name: 'ours, no encryption',
    open: () => gateway('ours', kafka.bootstrap, ['--disable-content-encryption']),
  },
  { name: 'ours, encrypted', open: () => gateway('ours', kafka.bootstrap, []) },
  ...(existsSync(RUST_BIN)
    ? [{ name: 'rust 0.139, encrypted', open: () => gateway('rust', kafka.bootstrap, []) }]
    : []),
];
const best = new Map();
try {
  // Warm the broker (and the page cache, the JIT of its request path) before the first timed row.
  await brokers.kafkaTool(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--topic',
      'warm-up',
      '--num-records',
      '5000',
      '--record-size',
      '1024',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${kafka.bootstrap}`,
    ],
    { timeoutMs: 120_000 },
  );
  for (let rep = 0; rep < REPS; rep++) {
    for (const [i, path] of paths.entries()) {
      const g = await path.open();
      try {
        const r = await measure(g.server, `bench-${i}-${rep}`, path.name);
        console.error(
          `${path.name}: produce ${r.produce ? fmt(r.produce.recordsPerSecond) : 'failed'} rec/s, consume ${r.consume ? fmt(r.consume.recordsPerSecond) : 'failed'} rec/s`,
        );
        const prev = best.get(path.name);
        best.set(path.name, {
          produce: better(prev?.produce, r.produce),
          consume: better(prev?.consume, r.consume),
        });
      } catch (e) {
        console.error(`${path.name}: ${e.message}`);
      } finally {
        await g.stop();
      }
    }
  }
} finally {
  await kafka.stop({ remove: true });
}
const direct = best.get('direct');
const pct = (v, ref) => (ref ? `${fmt((100 * v) / ref)}%` : '');
console.log(
  `\nKafka through the portal: ${RECORDS} records of 1 KiB, best of ${REPS} (Kafka 3.7 broker on 127.0.0.1)\n`,
);
table(
  ['path', '>produce rec/s', '>produce MB/s', '>of direct', '>consume rec/s', '>consume MB/s', '>of direct'],
  paths
    .filter((p) => best.has(p.name))
    .map((p) => {
      const b = best.get(p.name);
      return [
        p.name,
        fmt(b.produce.recordsPerSecond),
        fmt(b.produce.mbPerSecond, 2),
        pct(b.produce.recordsPerSecond, direct?.produce.recordsPerSecond),
        fmt(b.consume.recordsPerSecond),
        fmt(b.consume.mbPerSecond, 2),
        pct(b.consume.recordsPerSecond, direct?.consume.recordsPerSecond),
      ];
    }),
);
