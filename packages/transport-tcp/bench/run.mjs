// Routed echo over Ockam TCP between two node processes, beside a plain node:net length-prefixed
// echo in a child process, measured in the same run. Run with `pnpm bench` (after `pnpm build`).
//
// For each payload size (64 B, 16 KiB) and each implementation:
// - one way: messages/s to a sink, pipelined with back-pressure, until the sink acknowledges the last;
// - round trip: messages/s to echo with WINDOW messages in flight;
// - latency: p50/p99 of one request at a time.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Node } from '@ockam/core';
import { TcpTransport } from '../dist/index.js';

const WINDOW = 64;
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 800);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const SIZES = [64, 16 * 1024];
const TARGET_ONE_WAY_64 = 50_000;
const LOAD_AT_START = loadavg()[0];

function spawnPeer(script) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, port: JSON.parse(out.slice(0, nl)).port });
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function payloadOf(size, marker) {
  const p = new Uint8Array(size);
  p[0] = marker;
  return p;
}

// ---- routed: a Node with a TcpTransport ----

async function routedClient(port) {
  const node = new Node({ name: 'bench-client', mailboxCapacity: 256 });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  const client = node.client({ capacity: 4 * WINDOW });
  const echo = await node.resolveRoute([`1#127.0.0.1:${port}`, 'echo']);
  const sink = await node.resolveRoute([`1#127.0.0.1:${port}`, 'sink']);
  return {
    async oneWay(size) {
      const body = payloadOf(size, 0);
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS) {
        for (let i = 0; i < 1000; i++, n++) await client.send(sink, body);
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
      for (let i = 0; i < WINDOW; i++) await client.send(echo, body);
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS) {
        await client.receive();
        n++;
        await client.send(echo, body);
      }
      const seconds = (performance.now() - start) / 1000;
      for (let i = 0; i < WINDOW; i++) await client.receive();
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

// ---- plain: node:net with a 4-byte length prefix ----

async function plainClient(port) {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const frames = [];
  let waiter;
  let chunks = [];
  let buffered = 0;
  let need = -1;
  const take = (n) => {
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    chunks = all.length > n ? [all.subarray(n)] : [];
    buffered -= n;
    return all.subarray(0, n);
  };
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (need < 0) {
        if (buffered < 4) break;
        need = take(4).readUInt32BE(0);
      }
      if (buffered < need) break;
      const frame = take(need);
      need = -1;
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(frame);
      } else frames.push(frame);
    }
  });
  const receive = () =>
    frames.length > 0 ? Promise.resolve(frames.shift()) : new Promise((r) => (waiter = r));
  const drained = () => new Promise((r) => socket.once('drain', r));
  const frameOf = (size, marker) => {
    const f = Buffer.alloc(4 + size);
    f.writeUInt32BE(size);
    f[4] = marker;
    return f;
  };
  // Same write batching as the transport: frames of one tick leave in one writev.
  let corked = false;
  const send = (frame) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => {
        corked = false;
        socket.uncork();
      });
    }
    return socket.write(frame);
  };
  return {
    async oneWay(size) {
      const body = frameOf(size, 2);
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS) {
        for (let i = 0; i < 1000; i++, n++) {
          // A fresh buffer per message, as a routed send encodes a fresh frame.
          if (!send(Buffer.from(body))) await drained();
        }
      }
      send(frameOf(size, 1));
      n++;
      const ack = await receive();
      const seconds = (performance.now() - start) / 1000;
      if (ack.readUInt32BE(0) !== n) throw new Error(`plain sink counted ${ack.readUInt32BE(0)} of ${n}`);
      return n / seconds;
    },
    async roundTrip(size) {
      const body = frameOf(size, 0);
      for (let i = 0; i < WINDOW; i++) send(Buffer.from(body));
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < PHASE_MS) {
        await receive();
        n++;
        if (!send(Buffer.from(body))) await drained();
      }
      const seconds = (performance.now() - start) / 1000;
      for (let i = 0; i < WINDOW; i++) await receive();
      return n / seconds;
    },
    async latency(size, count) {
      const body = frameOf(size, 0);
      const times = [];
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        send(Buffer.from(body));
        await receive();
        times.push(performance.now() - t);
      }
      return times.sort((a, b) => a - b);
    },
    stop: async () => socket.destroy(),
  };
}

// Both peers run for the whole bench and the measurements alternate between them, repeated
// REPS times (best kept), so that a busy moment on a shared machine hits both alike.
async function measureAll() {
  const peers = [await spawnPeer('./routed-peer.mjs'), await spawnPeer('./plain-peer.mjs')];
  const clients = [
    { name: 'ockam tcp (routed)', client: await routedClient(peers[0].port) },
    { name: 'plain node:net', client: await plainClient(peers[1].port) },
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
        for (const [i, { client }] of clients.entries())
          best[i].oneWay = Math.max(best[i].oneWay, await client.oneWay(size));
        for (const [i, { client }] of clients.entries())
          best[i].roundTrip = Math.max(best[i].roundTrip, await client.roundTrip(size));
        for (const [i, { client }] of clients.entries()) {
          const lat = await client.latency(size, size > 1024 ? 1000 : 2000);
          best[i].p50 = Math.min(best[i].p50, percentile(lat, 50));
          best[i].p99 = Math.min(best[i].p99, percentile(lat, 99));
        }
      }
      rows.push(...best);
    }
  } finally {
    for (const { client } of clients) await client.stop();
    for (const { child } of peers) child.kill('SIGTERM');
  }
  return rows;
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const started = performance.now();
const rows = await measureAll();
const routed = rows.filter((r) => r.name.startsWith('ockam'));
const plain = rows.filter((r) => r.name.startsWith('plain'));

console.log(`\nRouted echo over Ockam TCP vs plain node:net, both against a child process on 127.0.0.1`);
console.log(
  `(one way: pipelined to a sink; round trip: ${WINDOW} in flight; latency: one at a time;\n best of ${REPS} alternating runs of ${PHASE_MS} ms; ${cpus().length} CPUs, load average ${LOAD_AT_START.toFixed(1)} at start)\n`,
);
const header = [
  'implementation',
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

const r64 = routed.find((r) => r.size === 64);
const r16 = routed.find((r) => r.size === 16 * 1024);
const p16 = plain.find((r) => r.size === 16 * 1024);
const oneWayRatio = p16.oneWay / r16.oneWay;
const roundTripRatio = p16.roundTrip / r16.roundTrip;
console.log('\nTargets:');
console.log(
  `  routed 64 B one way ≥ ${fmt(TARGET_ONE_WAY_64)} msg/s: ${fmt(r64.oneWay)} msg/s — ${r64.oneWay >= TARGET_ONE_WAY_64 ? 'met' : 'NOT met'}`,
);
console.log(
  `  routed 16 KiB within 2× of plain (plain ÷ routed ≤ 2): one way ${fmt(oneWayRatio, 2)}, round trip ${fmt(roundTripRatio, 2)} — ${
    oneWayRatio <= 2 && roundTripRatio <= 2 ? 'met' : 'NOT met'
  }`,
);
console.log(`\n(${fmt((performance.now() - started) / 1000, 1)} s)`);
