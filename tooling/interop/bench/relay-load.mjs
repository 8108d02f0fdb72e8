// A relay node alone under a synthetic load, ours beside Ockam Rust 0.139 (issue 15, "Performance":
// our relay node's CPU per Gbit/s no more than Rust's). Part 1 of run.mjs measures the relay inside
// a whole portal (iperf3, inlet, secure channel, outlet), where the other nodes and iperf3 share the
// machine's cores with it; here nothing else runs but this process, which plays both ends:
//
//   registrant socket B ── TCP ──▶ relay node: `forwarding_service` registers `forward_to_bench`
//   sender socket A ── frames [forward_to_bench, sink] ──▶ relay worker ──▶ B (read and dropped)
//
// Each frame carries PAYLOAD bytes (default 48 KiB + 40, the size of a full portal payload in a
// secure channel's ciphertext), all of them already encoded once, so that this process costs little
// per frame. Per implementation and run: Gbit/s arriving at B, and the relay node's CPU seconds
// (utime + stime from /proc) per Gbit carried. Runs alternate between the implementations so that
// load on the machine hits both alike; the summary adds up all runs.
//
// Run from tooling/interop: `node bench/relay-load.mjs` (after `pnpm build`; without the Rust
// binary only ours). Environment: BENCH_SECONDS (5), BENCH_REPS (3), BENCH_PAYLOAD (49192 bytes),
// BENCH_IMPLS (`ours,rust`), BENCH_GBPS (the rate to send at in Gbit/s; default 0, a flood), BENCH_SINK_GBPS (the rate the
// registrant reads at; default 0, at once), OCKAM_RUST.
// To profile our relay node: OCKAM_NODE_V8_FLAGS='--single-threaded-gc --cpu-prof' writes a
// CPU profile into the current directory when the node is deleted at the end.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeTransportMessage, encodeBareString, LocalMessage } from '@ockam/core';
import { encodeFrame, FrameDecoder } from '@ockam/transport-tcp';
import {
  CLK_TCK,
  cpuTicks,
  fmt,
  freePort,
  OCKAM_BIN,
  pidListeningOn,
  run,
  sleep,
  table,
} from '../../../apps/cli/bench/lib.mjs';
import { RUST_BIN, RUST_ENV } from './sides.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 48 * 1024 + 40);
/** Gbit/s the sender aims at (0: as fast as the relay takes them). */
const RATE = Number(process.env.BENCH_GBPS ?? 0);
/** Gbit/s the registrant reads at (0: as fast as it comes). */
const SINK_RATE = Number(process.env.BENCH_SINK_GBPS ?? 0);
const IMPLS = (process.env.BENCH_IMPLS ?? 'ours,rust').split(',').map((s) => s.trim());
/** A relay node of `impl` in its own OCKAM_HOME; resolves with its port, pid and a delete(). */
async function relayNode(impl, root) {
  const home = join(root, impl);
  mkdirSync(home, { mode: 0o700 });
  const [file, pre, env] = impl === 'ours' ? [process.execPath, [OCKAM_BIN], {}] : [RUST_BIN, [], RUST_ENV];
  const port = await freePort();
  await new Promise((resolve, reject) => {
    // No pipes: a daemon that keeps them would keep this waiting (see run.mjs).
    const child = spawn(
      file,
      [...pre, 'node', 'create', 'relay', '--tcp-listener-address', `127.0.0.1:${port}`],
      {
        env: { ...process.env, ...env, OCKAM_HOME: home },
        stdio: 'ignore',
      },
    );
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${impl} node create exited ${code}`)),
    );
  });
  let pid;
  for (let i = 0; i < 200 && pid === undefined; i++) {
    pid = pidListeningOn(port);
    if (pid === undefined) await sleep(50);
  }
  if (pid === undefined) throw new Error(`${impl} relay node: nothing listens on ${port}`);
  const del = async () => {
    const args =
      impl === 'rust'
        ? ['node', 'delete', '--all', '--yes', '--force']
        : ['node', 'delete', '--all', '--yes'];
    try {
      await run(file, [...pre, ...args], { env: { ...env, OCKAM_HOME: home }, timeoutMs: 60_000 });
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  };
  return { impl, port, pid, delete: del };
}

/** A TCP connection speaking Ockam's framing (§2.1): version byte first, then u32-length frames. */
function ockamSocket(port) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.setNoDelay(true);
      socket.write(Uint8Array.of(1));
      resolve(socket);
    });
  });
}

/** Registers `forward_to_<name>` at the relay through `socket`; resolves once the relay answered. */
function register(socket, name) {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder();
    const timer = setTimeout(() => reject(new Error('no answer to the relay registration in 20 s')), 20_000);
    const onData = (chunk) => {
      decoder.push(chunk);
      const frame = decoder.next();
      if (frame === undefined) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const m = decodeTransportMessage(frame);
      resolve(m.returnRoute.toString());
    };
    socket.on('data', onData);
    socket.write(
      encodeFrame(new LocalMessage(['forwarding_service'], ['registrant'], encodeBareString(name))),
    );
  });
}

/** Sends frames through the relay for `seconds`; resolves with the bits that arrived and the relay's CPU ticks. */
async function load(node, seconds, name) {
  const b = await ockamSocket(node.port);
  await register(b, name);
  let received = 0;
  b.on('data', (chunk) => {
    received += chunk.length;
  });
  let sink;
  if (SINK_RATE > 0) {
    // A reader slower than the relay (as an outlet node busy decrypting): the relay's buffers fill
    // and it works under back-pressure, holding what it forwards for longer.
    const t0 = performance.now();
    const start = received;
    sink = setInterval(() => {
      const due = (((performance.now() - t0) / 1000) * SINK_RATE * 1e9) / 8;
      if (received - start < due) b.resume();
      else b.pause();
    }, 1);
  }
  const a = await ockamSocket(node.port);
  const frame = encodeFrame(
    new LocalMessage([`forward_to_${name}`, 'sink'], ['source'], new Uint8Array(PAYLOAD).fill(0x5a)),
  );
  let sending = true;
  let pacer;
  if (RATE > 0) {
    // Paced: every millisecond, the frames due at RATE so far (a flood finds other regimes, where
    // CPU per Gbit says more about mailboxes and buffers than about the work per frame).
    const t0 = performance.now();
    let sent = 0;
    pacer = setInterval(() => {
      const due = (((performance.now() - t0) / 1000) * RATE * 1e9) / 8;
      while (sent < due && a.writableLength < 4 * frame.length) {
        a.write(frame);
        sent += frame.length;
      }
    }, 1);
  } else {
    const pump = () => {
      while (sending && a.write(frame));
    };
    a.on('drain', pump);
    pump();
  }
  // A second of warm-up (JIT, socket buffers), then the measured run.
  await sleep(1000);
  const bytes0 = received;
  const ticks0 = cpuTicks(node.pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const bits = (received - bytes0) * 8;
  const ticks = cpuTicks(node.pid) - ticks0;
  const elapsed = (performance.now() - t0) / 1000;
  sending = false;
  clearInterval(pacer);
  clearInterval(sink);
  a.destroy();
  b.destroy();
  return { bits, cpu: ticks / CLK_TCK, elapsed };
}

/** The process's peak resident memory (VmHWM) in MiB, or NaN. */
function peakRssMiB(pid) {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'ockrl-'));
  const nodes = [];
  try {
    const impls = IMPLS.filter((i) => i === 'ours' || existsSync(RUST_BIN));
    console.log(
      `relay node alone: ${impls.join(', ')}; ${PAYLOAD}-byte payloads${RATE > 0 ? ` at ${RATE} Gbit/s` : ', flood'}${SINK_RATE > 0 ? `, read at ${SINK_RATE} Gbit/s` : ''}, ${SECONDS} s per run, ${REPS} runs each; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    for (const impl of impls) nodes.push(await relayNode(impl, root));
    const rows = [];
    const total = new Map();
    for (let rep = 0; rep < REPS; rep++) {
      for (const node of nodes) {
        // A fresh name per run: the previous run's relay dies with its connection.
        const r = await load(node, SECONDS, `bench${rep}`);
        const t = total.get(node.impl) ?? { bits: 0, cpu: 0, elapsed: 0 };
        total.set(node.impl, { bits: t.bits + r.bits, cpu: t.cpu + r.cpu, elapsed: t.elapsed + r.elapsed });
        rows.push([
          `${node.impl} run ${rep + 1}`,
          fmt(r.bits / r.elapsed / 1e9, 2),
          fmt((100 * r.cpu) / r.elapsed),
          fmt(r.cpu / (r.bits / 1e9), 3),
          fmt(peakRssMiB(node.pid)),
        ]);
        await sleep(300);
      }
    }
    for (const [impl, t] of total)
      rows.push([
        `${impl}, all runs`,
        fmt(t.bits / t.elapsed / 1e9, 2),
        fmt((100 * t.cpu) / t.elapsed),
        fmt(t.cpu / (t.bits / 1e9), 3),
        '',
      ]);
    table(['relay node', '>Gbit/s', '>CPU %', '>CPU s/Gbit', '>peak RSS MiB'], rows);
    const [o, r] = [total.get('ours'), total.get('rust')];
    if (o && r) {
      const [x, y] = [o.cpu / (o.bits / 1e9), r.cpu / (r.bits / 1e9)];
      console.log(
        `relay node: ours ${fmt(x, 3)} vs Rust ${fmt(y, 3)} CPU s per Gbit (${fmt((100 * x) / y)} % of Rust's)`,
      );
    }
  } finally {
    for (const n of nodes) await n.delete();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
