/**
 * Secure-channel round trips through a RabbitMQ hop and a Kafka hop, beside a plain TCP route, in
 * one run on 127.0.0.1 (issue 18, "Performance"). For each route: a channel from node A to node B
 * (B's listener `api`, echo behind it), then
 *   - sequential round trips for BENCH_SECONDS (one request in flight): round trips/s, p50, p99;
 *   - one-way throughput: BENCH_MESSAGES messages of BENCH_SIZE bytes through the channel to a
 *     sink on B, as fast as the route takes them: messages/s.
 * Brokers: Kafka 3.7.2 (KRaft, one broker) and RabbitMQ 3.10 from `@ockam/brokers`.
 * Environment: BENCH_SECONDS (5), BENCH_MESSAGES (2000), BENCH_SIZE (256).
 */

// @ockam/brokers by path: see test/amqp.test.ts.
import { startKafka, startRabbitMQ } from '@ockam/brokers';
import { encodeBareString, Node } from '@ockam/core';
import type { SecureChannel } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { afterAll, it } from 'vitest';
import { AmqpBroker } from '../src/amqp.js';
import type { BrokerClient } from '../src/broker-client.js';
import { KafkaBroker } from '../src/kafka.js';
import { type BrokerNode, brokerNode, openChannel, serveChannels, waitFor } from '../test/helpers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SIZE = Number(process.env.BENCH_SIZE ?? 256);
const rows: string[][] = [];

interface Pair {
  a: { node: Node };
  b: { node: Node };
  channel: SecureChannel;
  sinkCount: () => number;
  stop(): Promise<void>;
}

async function measure(label: string, pair: Pair): Promise<void> {
  const { a, channel } = pair;
  const client = a.node.client();
  a.node.flowControls.addConsumer(client.address, channel.flowControlId);
  const payload = encodeBareString('x'.repeat(SIZE));
  for (let i = 0; i < 50; i++)
    await client.request([channel.encryptorAddress, 'echo'], payload, { timeoutMs: 30_000 });
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    await client.request([channel.encryptorAddress, 'echo'], payload, { timeoutMs: 30_000 });
    lat.push(performance.now() - t0);
  }
  lat.sort((x, y) => x - y);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]!;
  const rtps = lat.length / (lat.reduce((s, x) => s + x, 0) / 1000);
  const before = pair.sinkCount();
  const t1 = performance.now();
  const bytes = new Uint8Array(SIZE).fill(0x61);
  for (let i = 0; i < MESSAGES; i++) await client.send([channel.encryptorAddress, 'sink'], bytes);
  await waitFor(() => pair.sinkCount() - before >= MESSAGES, 'the sink', 120_000);
  const mps = MESSAGES / ((performance.now() - t1) / 1000);
  await client.stop();
  // Closed while its route is still there, so that its Close frame leaves before the nodes stop.
  await channel.close();
  rows.push([label, rtps.toFixed(0), pct(50).toFixed(2), pct(99).toFixed(2), mps.toFixed(0)]);
}

/** A sink on B, exposed to B's channels. */
function sink(node: Node, channelsFlow: string): () => number {
  let n = 0;
  node.startWorker('sink', { handleMessage: () => void n++ });
  node.flowControls.addConsumer('sink', channelsFlow);
  return () => n;
}

async function brokerPair(kind: 'kafka' | 'amqp', client: () => BrokerClient): Promise<Pair> {
  const a: BrokerNode = await brokerNode('bench-a', client(), `ockam.bench-${kind}-a`);
  const b: BrokerNode = await brokerNode('bench-b', client(), `ockam.bench-${kind}-b`);
  const listener = await serveChannels(b, [b.inbox.flowControlId]);
  const channel = await openChannel(a, [`${kind === 'kafka' ? 16 : 17}#ockam.bench-${kind}-b`, 'api']);
  const sinkCount = sink(b.node, listener.flowControlId);
  const stop = async () => {
    await a.stop();
    await b.stop();
  };
  return { a, b, channel, sinkCount, stop };
}

async function tcpPair(): Promise<Pair> {
  // The same helpers, with a TCP listener on B and a route over it.
  const aNode = new Node({ name: 'tcp-a' });
  const bNode = new Node({ name: 'tcp-b' });
  const aTcp = new TcpTransport(aNode);
  aNode.registerTransport(aTcp);
  const bTcp = new TcpTransport(bNode);
  bNode.registerTransport(bTcp);
  const l = await bTcp.listen('127.0.0.1:0');
  const { createVault } = await import('@ockam/vault');
  const { createIdentity } = await import('@ockam/identity');
  const va = createVault('node');
  const vb = createVault('node');
  const a = { node: aNode, vault: va, identity: await createIdentity(va) };
  const b = { node: bNode, vault: vb, identity: await createIdentity(vb) };
  const listener = await serveChannels(b, [l.flowControlId]);
  const channel = await openChannel(a, [`1#127.0.0.1:${l.address.port}`, 'api']);
  const sinkCount = sink(bNode, listener.flowControlId);
  return {
    a,
    b,
    channel,
    sinkCount,
    stop: async () => {
      await aTcp.stop();
      await bTcp.stop();
      await aNode.stop();
      await bNode.stop();
    },
  };
}

afterAll(() => {
  const head = [
    'route (secure channel A -> B)',
    'round trips/s',
    'p50 ms',
    'p99 ms',
    `one-way msgs/s (${SIZE} B)`,
  ];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  process.stdout.write(`\n${all.map(line).join('\n')}\n\n`);
});

it('measures a plain TCP route, a RabbitMQ hop and a Kafka hop in one run', async () => {
  const tcp = await tcpPair();
  await measure('tcp (reference)', tcp);
  await tcp.stop();

  const rabbit = await startRabbitMQ();
  try {
    const p = await brokerPair('amqp', () => new AmqpBroker({ url: rabbit.url }));
    await measure('rabbitmq queue hop', p);
    await p.stop();
  } finally {
    await rabbit.stop({ remove: true });
  }

  const kafka = await startKafka();
  try {
    const p = await brokerPair('kafka', () => new KafkaBroker({ bootstrapServers: [kafka.bootstrap] }));
    await measure('kafka topic hop', p);
    await p.stop();
  } finally {
    await kafka.stop({ remove: true });
  }
});
