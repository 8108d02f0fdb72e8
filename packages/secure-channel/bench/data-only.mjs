// Data phase only (48 KiB by default), for profiling: `node [--cpu-prof] bench/data-only.mjs [secure|plain|both] [size]`.
// Set PEER_PROF=1 to run the peer with --cpu-prof (profiles land in the working directory).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Node } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { createSecureChannel, trustIdentifier } from '../dist/index.js';

const mode = process.argv[2] ?? 'both';
const size = Number(process.argv[3] ?? 48 * 1024);
const TOTAL = Number(process.env.BENCH_THROUGHPUT_BYTES ?? 200 * 1024 * 1024);
const script = fileURLToPath(new URL('./peer.mjs', import.meta.url));
const args = [...process.execArgv, ...(process.env.PEER_PROF ? ['--cpu-prof'] : []), script];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
const peer = await new Promise((resolve) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const nl = out.indexOf('\n');
    if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
  });
});
const node = new Node({ name: 'bench', mailboxCapacity: 256 });
node.registerTransport(new TcpTransport(node));
const vault = createVault('node');
const alice = await createIdentity(vault);
const hop = `1#127.0.0.1:${peer.port}`;
const channel = await createSecureChannel(node, [hop, 'api'], {
  identity: alice,
  vault,
  trustPolicy: trustIdentifier(peer.identifier),
});
const client = node.client({ capacity: 256 });
node.flowControls.addConsumer(client.address, channel.flowControlId);
const tcpHop = (await node.resolveRoute([hop, 'echo'])).addresses[0];
async function throughput(route, count) {
  const payload = new Uint8Array(size);
  const last = new Uint8Array(size);
  last[0] = 1;
  const cpu0 = process.cpuUsage();
  const peer0 = peerCpuMicros();
  const start = performance.now();
  for (let i = 1; i < count; i++) await client.send(route, payload);
  await client.send(route, last);
  const ack = await client.receive({ timeoutMs: 60_000 });
  const elapsed = performance.now() - start;
  const received = new DataView(ack.payload.buffer, ack.payload.byteOffset).getUint32(0);
  if (received !== count) throw new Error(`sink counted ${received} of ${count}`);
  const cpu = process.cpuUsage(cpu0);
  const perMsg = ((cpu.user + cpu.system) / count).toFixed(1);
  const [u0, s0] = peerSplit;
  const peerPerMsg = ((peerCpuMicros() - peer0) / count).toFixed(1);
  const peerSys = ((peerSplit[1] - s0) / count).toFixed(1);
  const peerUser = ((peerSplit[0] - u0) / count).toFixed(1);
  const senderSys = (cpu.system / count).toFixed(1);
  return `${((count * size) / 1e6 / (elapsed / 1000)).toFixed(0)} MB/s, sender ${perMsg} (sys ${senderSys}) µs CPU/msg, receiver ${peerPerMsg} (user ${peerUser} sys ${peerSys}) µs CPU/msg`;
}
let peerSplit = [0, 0];
/** The peer process's CPU time in µs (Linux /proc; clock ticks are 10 ms). */
function peerCpuMicros() {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    peerSplit = [Number(fields[11]) * 10_000, Number(fields[12]) * 10_000];
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}
const count = Math.ceil(TOTAL / size);
for (let i = 0; i < 2; i++) {
  if (mode !== 'secure') console.log('plain ', await throughput([tcpHop, 'sink'], count));
  if (mode !== 'plain') console.log('secure', await throughput([channel.encryptorAddress, 'sink'], count));
}
await channel.close();
await node.stop();
const exited = new Promise((r) => child.once('exit', r));
child.kill('SIGTERM');
await exited;
