// pnpm bench (after pnpm build): UDP beside TCP on loopback, measured in the same run, and the
// time from puncture negotiation to the first message through two NATs (network namespaces).
import { fileURLToPath } from 'node:url';
import { Node } from '@ockam/core';
import { TcpTransport } from '@ockam/transport-tcp';
import { UdpTransport } from '@ockam/transport-udp';
import { createTopology, netnsUnavailable } from '../test/fixtures/netns-topology.mjs';

const DURATION_MS = Number(process.env.BENCH_MS ?? 1500);

/** One-way messages from a client on one node to a sink on another, both in this process. */
async function oneWay(kind, size) {
  const server = new Node({ name: 'server' });
  const client = new Node({ name: 'client' });
  let hop;
  let received = 0;
  server.startWorker('sink', {
    handleMessage() {
      received++;
    },
  });
  if (kind === 'udp') {
    const s = new UdpTransport(server);
    server.registerTransport(s);
    const bind = await s.bind('127.0.0.1:0');
    server.flowControls.addConsumer('sink', bind.flowControlId);
    client.registerTransport(new UdpTransport(client));
    hop = `2#127.0.0.1:${bind.localAddress.port}`;
  } else {
    const s = new TcpTransport(server);
    server.registerTransport(s);
    const l = await s.listen('127.0.0.1:0');
    server.flowControls.addConsumer('sink', l.flowControlId);
    client.registerTransport(new TcpTransport(client));
    hop = `1#127.0.0.1:${l.address.port}`;
  }
  const c = client.client();
  const route = await client.resolveRoute([hop, 'sink']);
  const payload = new Uint8Array(size).fill(7);
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    for (let i = 0; i < 64; i++, sent++) await c.send(route, payload);
  }
  // Let what is in flight arrive (UDP may lose some: counted as loss).
  const settle = performance.now();
  while (received < sent && performance.now() - settle < 500) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - start) / 1000;
  await client.stop();
  await server.stop();
  return { sent, received, rate: received / seconds, mbps: (received * size) / seconds / 1e6 };
}

/** Round trips, one at a time, through an echo. */
async function latency(kind) {
  const server = new Node();
  const client = new Node();
  server.startWorker('echo', {
    async handleMessage(ctx, { message }) {
      await ctx.send(message.returnRoute, message.payload);
    },
  });
  let hop;
  if (kind === 'udp') {
    const s = new UdpTransport(server);
    server.registerTransport(s);
    const b = await s.bind('127.0.0.1:0');
    server.flowControls.addConsumer('echo', b.flowControlId);
    client.registerTransport(new UdpTransport(client));
    hop = `2#127.0.0.1:${b.localAddress.port}`;
  } else {
    const s = new TcpTransport(server);
    server.registerTransport(s);
    const l = await s.listen('127.0.0.1:0');
    server.flowControls.addConsumer('echo', l.flowControlId);
    client.registerTransport(new TcpTransport(client));
    hop = `1#127.0.0.1:${l.address.port}`;
  }
  const c = client.client();
  const route = await client.resolveRoute([hop, 'echo']);
  const payload = new Uint8Array(64);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS / 2) {
    await c.send(route, payload);
    await c.receive({ timeoutMs: 2000 });
    n++;
  }
  const us = ((performance.now() - start) * 1000) / n;
  await client.stop();
  await server.stop();
  return us;
}

async function puncture() {
  const why = netnsUnavailable();
  if (why !== undefined) {
    console.log(`puncture time: skipped (${why})`);
    return;
  }
  const script = fileURLToPath(new URL('../test/fixtures/nat-node.mjs', import.meta.url));
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const topo = createTopology();
    const procs = [];
    try {
      const pub = topo.spawnNode(topo.ns.pub, script, ['public', topo.publicIp]);
      procs.push(pub);
      await pub.next('ready');
      const b = topo.spawnNode(topo.ns.b, script, ['responder', topo.publicIp]);
      procs.push(b);
      const { identifier } = await b.next('ready');
      const a = topo.spawnNode(topo.ns.a, script, ['initiator', topo.publicIp, identifier]);
      procs.push(a);
      await a.next('relayed');
      const p = await a.next('punctured');
      a.send({ command: 'go' });
      const s = await a.next('secure-over-udp');
      runs.push({ openMs: p.openMs, channelAndFirstEchoMs: s.firstMessageMs });
    } finally {
      await Promise.all(procs.map((p) => p.kill()));
      topo.destroy();
    }
  }
  for (const r of runs)
    console.log(
      `puncture through two NATs: negotiation start → open ${r.openMs.toFixed(1)} ms; first echo through a secure channel over it ${r.channelAndFirstEchoMs.toFixed(1)} ms`,
    );
}

console.log(
  `node ${process.version}, ${DURATION_MS} ms per measurement, client and server nodes in one process`,
);
for (const size of [64, 16 * 1024]) {
  for (const kind of ['udp', 'tcp']) {
    const r = await oneWay(kind, size);
    const loss = r.sent === 0 ? 0 : (100 * (r.sent - r.received)) / r.sent;
    console.log(
      `${kind} one-way ${String(size).padStart(5)} B: ${Math.round(r.rate).toString().padStart(7)} msg/s ${r.mbps.toFixed(1).padStart(7)} MB/s  (lost ${loss.toFixed(2)}%)`,
    );
  }
}
for (const kind of ['udp', 'tcp'])
  console.log(`${kind} round trip 64 B, one at a time: ${(await latency(kind)).toFixed(0)} µs`);
await puncture();
