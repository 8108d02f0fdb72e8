// Routed messages over the Ockam WebSocket transport beside the Ockam TCP transport, both to the
// same child-process node on 127.0.0.1, measured in the same run. `pnpm bench` (after `pnpm build`).
//
// For each payload size and each transport:
// - one way: messages/s (and MB/s) to a sink, pipelined with back-pressure, until the sink
//   acknowledges the last;
// - round trip: messages/s to echo with WINDOW messages in flight;
// - latency: p50/p99 of one request at a time.
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Node } from '@ockam/core';
import { TcpTransport } from '@ockam/transport-tcp';
import { WebSocketTransport } from '../dist/index.js';

const WINDOW = 64;
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 800);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SIZES = [64, 16 * 1024, 256 * 1024];
const LOAD_AT_START = loadavg()[0];

function spawnPeer() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./peer.mjs', import.meta.url))], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, ports: JSON.parse(out.slice(0, nl)) });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

function payloadOf(size, marker) {
  const p = new Uint8Array(size);
  p[0] = marker;
  return p;
}

async function routedClient(hop, makeTransport) {
  const node = new Node({ name: 'bench-client', mailboxCapacity: 256 });
  node.registerTransport(makeTransport(node));
  const client = node.client({ capacity: 4 * WINDOW });
  const echo = await node.resolveRoute([hop, 'echo']);
  const sink = await node.resolveRoute([hop, 'sink']);
  return {
    async oneWay(size) {
      const body = payloadOf(size, 0);
      const start = performance.now();
      let n = 0;
      const batch = size > 64 * 1024 ? 16 : 1000;
      while (performance.now() - start < PHASE_MS) {
        for (let i = 0; i < batch; i++, n++) await client.send(sink, body);
      }
      await client.send(sink, payloadOf(size, 1));
      n++;
      const ack = await client.receive();
      const seconds = (performance.now() - start) / 1000;
      const counted = new DataView(ack.payload.buffer, ack.payload.byteOffset).getUint32(0);
      if (counted !== n) throw new Error(`sink counted ${counted} of ${n}`);
      return n / seconds;
    },
    async roundTrip(size) {
      const body = payloadOf(size, 0);
      const window = size > 64 * 1024 ? 8 : WINDOW;
      for (let i = 0; i < window; i++) await client.send(echo, body);
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS) {
        await client.receive();
        n++;
        await client.send(echo, body);
      }
      const seconds = (performance.now() - start) / 1000;
      for (let i = 0; i < window; i++) await client.receive();
      return n / seconds;
    },
    async latency(size, count) {
      const body = payloadOf(size, 0);
      const times = [];
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        await client.send(echo, body);
        await client.receive();
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b);
    },
    stop: () => node.stop(),
  };
}

async function measureAll() {
  const { child, ports } = await spawnPeer();
  const clients = [
    {
      name: 'ockam websocket',
      client: await routedClient(`3#127.0.0.1:${ports.ws}`, (n) => new WebSocketTransport(n)),
    },
    { name: 'ockam tcp', client: await routedClient(`1#127.0.0.1:${ports.tcp}`, (n) => new TcpTransport(n)) },
  ];
  const rows = [];
  try {
    for (const { client } of clients) await client.latency(64, 3000); // JIT warm-up, both sides
    for (const size of SIZES) {
      const best = clients.map(({ name }) => ({
        name,
        size,
        oneWay: 0,
        roundTrip: 0,
        p50: Infinity,
        p99: Infinity,
      }));
      for (let rep = 0; rep < REPS; rep++) {
        // Alternate the transports so that a busy moment on a shared machine hits both alike.
        for (const [i, { client }] of clients.entries())
          best[i].oneWay = Math.max(best[i].oneWay, await client.oneWay(size));
        for (const [i, { client }] of clients.entries())
          best[i].roundTrip = Math.max(best[i].roundTrip, await client.roundTrip(size));
        for (const [i, { client }] of clients.entries()) {
          const lat = await client.latency(size, size > 64 * 1024 ? 200 : size > 1024 ? 1000 : 2000);
          best[i].p50 = Math.min(best[i].p50, percentile(lat, 50));
          best[i].p99 = Math.min(best[i].p99, percentile(lat, 99));
        }
      }
      rows.push(...best);
    }
  } finally {
    for (const { client } of clients) await client.stop();
    child.kill('SIGTERM');
  }
  return rows;
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const started = performance.now();
const rows = await measureAll();

console.log(
  '\nRouted messages over Ockam WebSocket vs Ockam TCP, both to one child-process node on 127.0.0.1',
);
console.log(
  `(one way: pipelined to a sink; round trip: ${WINDOW} in flight (8 for 256 KiB); latency: one at a time;\n best of ${REPS} alternating runs of ${PHASE_MS} ms; ${cpus().length} CPUs, load average ${LOAD_AT_START.toFixed(1)} at start)\n`,
);
const header = [
  'transport',
  'payload',
  'one way msg/s',
  'one way MB/s',
  'round trip msg/s',
  'p50 µs',
  'p99 µs',
];
const table = rows.map((r) => [
  r.name,
  r.size >= 1024 ? `${r.size / 1024} KiB` : `${r.size} B`,
  fmt(r.oneWay),
  fmt((r.oneWay * r.size) / 1e6, 1),
  fmt(r.roundTrip),
  fmt(r.p50 * 1000),
  fmt(r.p99 * 1000),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table) console.log(line(row));
console.log(`\n(${fmt((performance.now() - started) / 1000, 1)} s)`);
