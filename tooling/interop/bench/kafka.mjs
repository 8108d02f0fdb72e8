// Kafka portals (issue 18, "Performance"): Kafka's own perf tools through each path, one broker,
// one run, runs interleaved across paths so that load on the machine hits every path alike:
//
//   direct                 kafka-producer-perf-test → broker (the reference)
//   <impl> portal          → kafka-inlet (producer node) ⇄ secure channel ⇄ kafka-outlet node → broker,
//                            with --disable-content-encryption
//   <impl> encrypted       the same with each record value encrypted for a consumer node's key
//                            (--consumer <consumer node>/secure/api): Ockam's end-to-end encryption
//
// and the consumer side: kafka-consumer-perf-test straight from the broker (the plain topic), and
// through the consumer node's kafka-inlet, which decrypts the encrypted topic. <impl> is ours and,
// when scripts/ockam-rust.sh has built it, Ockam Rust 0.139's, measured the same way. Every node is
// its own process; records are 1 KiB, acks=1. The best of BENCH_KAFKA_REPS runs of each path.
//
// Run with `pnpm bench` from tooling/interop (after `pnpm build`; scripts/kafka-dist.sh fetches
// Kafka). Environment: BENCH_KAFKA_RECORDS (50000), BENCH_KAFKA_REPS (2), OCKAM_RUST.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerSkipReason, kafkaTool, startKafka } from '@ockam/brokers';
import { fmt, freePort, table } from '../../../apps/cli/bench/lib.mjs';
import { RUST_BIN, side } from './sides.mjs';

const RECORDS = Math.max(1000, Number(process.env.BENCH_KAFKA_RECORDS ?? 50_000));
const REPS = Math.max(1, Number(process.env.BENCH_KAFKA_REPS ?? 2));
const RECORD_SIZE = 1024;

/** `kafka-producer-perf-test` against `bootstrap`: records/s and MB/s from its summary line. */
async function produce(bootstrap, topic) {
  const r = await kafkaTool(
    'org.apache.kafka.tools.ProducerPerformance',
    [
      '--topic',
      topic,
      '--num-records',
      String(RECORDS),
      '--record-size',
      String(RECORD_SIZE),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=1',
    ],
    { timeoutMs: 600_000 },
  );
  // Progress lines come first; the summary is the last line of this form.
  const m = [...r.stdout.matchAll(/(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/g)].pop();
  if (r.code !== 0 || !m || Number(m[1]) !== RECORDS)
    throw new Error(`producer perf test via ${bootstrap} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return { rate: Number(m[2]), mb: Number(m[3]) };
}

/** `kafka-consumer-perf-test` reading RECORDS from `topic`: fetch records/s and MB/s (rebalance excluded). */
async function consume(bootstrap, topic) {
  const r = await kafkaTool(
    'org.apache.kafka.tools.ConsumerPerformance',
    ['--bootstrap-server', bootstrap, '--topic', topic, '--messages', String(RECORDS), '--timeout', '120000'],
    { timeoutMs: 600_000 },
  );
  // A header line, then: start, end, MB, MB/s, records, records/s, rebalance ms, fetch ms, fetch MB/s, fetch records/s
  const values =
    r.stdout
      .trim()
      .split('\n')
      .pop()
      ?.split(',')
      .map((v) => v.trim()) ?? [];
  if (r.code !== 0 || values.length < 10 || !(Number(values[4]) >= RECORDS))
    throw new Error(
      `consumer perf test via ${bootstrap} failed (${r.code}): ${r.stdout.slice(-500)} ${r.stderr.slice(-2000)}`,
    );
  return { rate: Number(values[9]), mb: Number(values[8]) };
}

/**
 * Runs every path REPS times, interleaved; keeps each path's best run. A path that fails keeps its
 * error (printed in the table) and is not run again.
 */
async function bestOf(paths) {
  const best = new Map();
  for (let n = 0; n < REPS; n++)
    for (const [name, f] of paths) {
      if (best.get(name)?.error) continue;
      try {
        const r = await f(n);
        if (!best.has(name) || best.get(name).rate < r.rate) best.set(name, r);
      } catch (e) {
        const why =
          String(e.message)
            .split('\n')
            .find((l) => /Exception|WARNING|ERROR/.test(l)) ?? e.message;
        console.error(`${name}: ${e.message}`);
        best.set(name, { error: why.slice(0, 160) });
      }
    }
  return best;
}

const policy = (id) => `(= subject.identifier "${id}")`;

/**
 * An outlet node beside the broker, a producer node with two kafka-inlets (plain and encrypted),
 * and a consumer node whose kafka-inlet holds the key: the bootstrap addresses of the three inlets.
 */
async function portals(s, bootstrap) {
  await s.node('outlet');
  await s.node('producer');
  const consumer = await s.node('consumer');
  const id = await s.identifier();
  const to = `${s.nodes.outlet.route}/secure/api`;
  await s.ockam([
    'kafka-outlet',
    'create',
    '--at',
    'outlet',
    '--bootstrap-server',
    bootstrap,
    '--allow',
    policy(id),
  ]);
  const inlet = async (at, addr, extra) => {
    const from = await freePort();
    const first = await freePort();
    await s.ockam([
      'kafka-inlet',
      'create',
      '--at',
      at,
      '--addr',
      addr,
      '--from',
      `127.0.0.1:${from}`,
      '--brokers-port-range',
      `${first}-${first + 1}`,
      '--to',
      to,
      '--allow',
      policy(id),
      '--allow-consumer',
      policy(id),
      '--allow-producer',
      policy(id),
      ...extra,
    ]);
    return `127.0.0.1:${from}`;
  };
  return {
    consumer: await inlet('consumer', 'kafka_inlet', ['--avoid-publishing']),
    plain: await inlet('producer', 'plain', ['--disable-content-encryption', '--avoid-publishing']),
    encrypted: await inlet('producer', 'encrypted', [
      '--consumer',
      `${consumer.route}/secure/api`,
      '--avoid-publishing',
    ]),
  };
}

async function supportsKafka(s) {
  try {
    return (await s.ockam(['kafka-inlet', 'create', '--help'])).includes('--brokers-port-range');
  } catch {
    return false;
  }
}

async function main() {
  const skip = brokerSkipReason('kafka');
  if (skip) {
    console.log(`Kafka portal benchmark skipped: ${skip}`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'ockam-bench-kafka-'));
  const kafka = await startKafka();
  const sides = [];
  try {
    for (const impl of ['ours', 'rust']) {
      if (impl === 'rust' && !existsSync(RUST_BIN)) {
        console.log(`Ockam Rust is not installed at ${RUST_BIN}: its rows are left out`);
        continue;
      }
      const s = side(impl, tmp);
      if (!(await supportsKafka(s))) {
        console.log(`${impl}: no kafka-inlet command: its rows are left out`);
        continue;
      }
      // Pushed before its nodes start, so that `finally` deletes them even if a step fails.
      const entry = { impl, s, inlets: undefined };
      sides.push(entry);
      entry.inlets = await portals(s, kafka.bootstrap);
    }

    // Producer rows: path name → function of the run number (each run writes a topic of its own).
    const paths = [['direct', (n) => produce(kafka.bootstrap, `direct-${n}`)]];
    for (const { impl, inlets } of sides) {
      paths.push([`${impl} portal`, (n) => produce(inlets.plain, `${impl}-plain-${n}`)]);
      paths.push([`${impl} encrypted`, (n) => produce(inlets.encrypted, `${impl}-encrypted-${n}`)]);
    }
    const best = await bestOf(paths);
    // Consumer rows: the first run's topics, read straight (plain) or through the consumer's inlet.
    const consumers = [['direct', () => consume(kafka.bootstrap, 'direct-0')]];
    for (const { impl, inlets } of sides)
      consumers.push([`${impl} encrypted`, () => consume(inlets.consumer, `${impl}-encrypted-0`)]);
    const bestConsumer = await bestOf(consumers);

    const [c] = cpus();
    console.log(
      `\nKafka portals: ${RECORDS} records of ${RECORD_SIZE} B, acks=1, best of ${REPS}; ` +
        `Kafka 3.7.2 (KRaft) on 127.0.0.1; ${cpus().length} × ${c?.model ?? 'cpu'}, load ${loadavg()[0].toFixed(1)}`,
    );
    const rows = (m) => {
      const direct = m.get('direct');
      return [...m].map(([name, r]) =>
        r.error
          ? [name, 'failed', '', r.error]
          : [name, fmt(r.rate), fmt(r.mb, 2), direct?.rate ? `${fmt((100 * r.rate) / direct.rate)}%` : ''],
      );
    };
    console.log('\nproducer (kafka-producer-perf-test)');
    table(['path', '>records/s', '>MB/s', '>of direct'], rows(best));
    console.log('\nconsumer (kafka-consumer-perf-test; through the consumer inlet = decrypting)');
    table(['path', '>records/s', '>MB/s', '>of direct'], rows(bestConsumer));
  } finally {
    for (const { s } of sides) await s.dispose();
    await kafka.stop({ remove: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
