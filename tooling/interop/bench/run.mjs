// Side by side with Ockam Rust 0.139 (issue 15, "Performance"), in one run on 127.0.0.1:
//
// 1. Portal throughput with iperf3 through each path, best of BENCH_REPS runs of BENCH_SECONDS,
//    runs interleaved across paths so that load on the machine hits every path alike:
//      ssh -L                the outside reference (OpenSSH's default cipher)
//      rust → rust           Rust inlet node ⇄ secure channel ⇄ Rust outlet node
//      ours → ours           our inlet node  ⇄ secure channel ⇄ our outlet node
//      ours → rust           our inlet node  ⇄ secure channel ⇄ Rust outlet node
//      rust → ours           Rust inlet node ⇄ secure channel ⇄ our outlet node
//      rust relay            Rust inlet → Rust relay node → Rust outlet (channel end to end)
//      ours relay            our inlet  → our relay node  → our outlet  (channel end to end)
//    Each inlet's route is `…/secure/api/service/bench` (through a relay:
//    `<relay>/service/forward_to_bench/secure/api/service/bench`), each node its own process.
//    CPU: utime+stime from /proc/<pid>/stat of each node process (the daemon, found by the port it
//    listens on) over the best run; the relay node's CPU seconds per Gbit carried is the relay
//    figure the issue compares (ours must be ≤ Rust's).
// 2. Secure-channel handshakes per second with full identity verification, against a node of each
//    implementation: an initiator in this process (our library, one TCP connection to the node)
//    opens a channel to the node's `api` listener, trusting only the node's identifier, and closes
//    it; both sides verify the other's identity (change history and purpose-key attestation). The
//    same initiator runs against both nodes, so the difference between the two rows is the
//    responder: its handshake work and latency (sequential: one handshake at a time) and its
//    capacity (BENCH_HANDSHAKE_CONCURRENCY in flight). Also the responder node's CPU ms per
//    handshake. Each node is measured fresh (its first seconds: our node's JIT is still compiling
//    the handshake code then, a fifth to a third of its CPU) and then warm, as a node that has run
//    a while. It does not measure Rust as an initiator (Rust's initiator is reachable only through
//    its CLI, where process start-up dominates: that is part 3).
// 3. `ockam secure-channel create` from a client node to a server node, each command of each
//    implementation against each node, timed as a user sees it (process start included), beside the
//    same command's `secure-channel list` to show how much of it is the handshake.
//
// Run with `pnpm bench` from tooling/interop (after `pnpm build` and scripts/ockam-rust.sh); without
// the Rust binary only our rows are measured. Environment: BENCH_SECONDS (5), BENCH_REPS (3),
// BENCH_HANDSHAKE_MS (3000), BENCH_HANDSHAKE_WARMUP_MS (3000: the fresh node's row, which also warms
// it), BENCH_HANDSHAKE_CONCURRENCY (8), BENCH_CLI_RUNS (10), OCKAM_RUST (the Rust binary),
// BENCH_PARTS (`1,2,3`: which parts to run; `2` alone starts only the server nodes, no iperf3 or ssh).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Node } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, trustIdentifier } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
// The portal benchmark helpers of apps/cli (processes, /proc, tables, iperf3, ssh -L), shared.
import { iperfClient, startIperfServer } from '../../../apps/cli/bench/iperf.mjs';
import {
  CLK_TCK,
  cpuSampler,
  cpuTicks,
  fmt,
  freePort,
  processTree,
  run,
  sleep,
  table,
} from '../../../apps/cli/bench/lib.mjs';
import { startSshTunnel } from '../../../apps/cli/bench/ssh.mjs';
import { RUST_BIN, side } from './sides.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
const HANDSHAKE_MS = Number(process.env.BENCH_HANDSHAKE_MS ?? 3000);
const CONCURRENCY = Math.max(1, Number(process.env.BENCH_HANDSHAKE_CONCURRENCY ?? 8));
const HANDSHAKE_WARMUP_MS = Number(process.env.BENCH_HANDSHAKE_WARMUP_MS ?? 3000);
const CLI_RUNS = Math.max(1, Number(process.env.BENCH_CLI_RUNS ?? 10));
const PARTS = new Set((process.env.BENCH_PARTS ?? '1,2,3').split(',').map((p) => p.trim()));

/**
 * Channels opened and closed against `route` for `ms` with `parallel` in flight: per second, and
 * the CPU ticks process `pid` (the responder) used meanwhile.
 */
async function handshakeRate(node, route, options, ms, parallel, pid) {
  const one = async () => {
    const channel = await createSecureChannel(node, route, options);
    await channel.close();
  };
  // The TCP connection and the first allocations (not counted).
  for (let i = 0; i < 20; i++) await one();
  let done = 0;
  const before = cpuTicks(pid);
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        await one();
        done++;
      }
    }),
  );
  return { rate: (done * 1000) / (performance.now() - start), done, ticks: cpuTicks(pid) - before };
}

async function main() {
  const started = performance.now();
  const cleanups = [];
  const cleanup = async () => {
    for (const f of cleanups.reverse()) {
      try {
        await f();
      } catch (e) {
        console.error(`cleanup: ${e.message}`);
      }
    }
  };
  for (const s of ['SIGINT', 'SIGTERM'])
    process.on(s, () => {
      console.error(`\n${s}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  let failed = false;
  try {
    const tmp = mkdtempSync(join(tmpdir(), 'ockib-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    const haveRust = existsSync(RUST_BIN);
    const [l1, l5, l15] = loadavg();
    console.log('Interop benchmarks: our ockam beside Ockam Rust 0.139, loopback 127.0.0.1');
    console.log(
      `load average at start: ${l1.toFixed(2)} ${l5.toFixed(2)} ${l15.toFixed(2)} on ${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'CPU'}; node ${process.version}`,
    );
    console.log(
      haveRust
        ? `Ockam Rust: ${(await run(RUST_BIN, ['--version'], { env: RUST_ENV })).stdout.split('\n')[0].trim()} (${RUST_BIN})`
        : `Ockam Rust: not installed at ${RUST_BIN} (scripts/ockam-rust.sh); measuring ours only`,
    );
    console.log(`parts: ${[...PARTS].join(', ')} (BENCH_PARTS)`);
    const bulkPart = PARTS.has('1');
    let iperf = null;
    let sshPort = 0;
    let tunnel = null;
    if (bulkPart) {
      const iperfVersion = (await run('iperf3', ['--version'])).stdout.split('\n')[0].trim();
      console.log(`bulk sender: ${iperfVersion} (iperf3 -c … -t ${SECONDS} -J), best of ${REPS}\n`);

      // -- the target and the ssh -L reference --
      iperf = await startIperfServer(await freePort());
      cleanups.push(() => iperf.stop());
      sshPort = await freePort();
      mkdirSync(join(tmp, 'ssh'), { mode: 0o700 });
      try {
        tunnel = await startSshTunnel(join(tmp, 'ssh'), [{ local: sshPort, remote: iperf.port }]);
        cleanups.push(() => tunnel.stop());
      } catch (e) {
        failed = true;
        console.log(`ssh -L: not measured (${e.message.split('\n')[0]})`);
      }
    }

    // -- nodes: a relay, a server (the outlet `bench`, and a relay `bench` at its relay node) and a
    // client (the inlets) per implementation --
    const sides = { ours: side('ours', tmp), ...(haveRust ? { rust: side('rust', tmp) } : {}) };
    for (const s of Object.values(sides)) {
      cleanups.push(() => s.dispose());
      await s.node('server');
      if (PARTS.has('3')) await s.node('client');
      if (!bulkPart) continue;
      const relay = await s.node('relay');
      if (!PARTS.has('3')) await s.node('client');
      await s.ockam([
        'tcp-outlet',
        'create',
        '--at',
        'server',
        '--from',
        'bench',
        '--to',
        `127.0.0.1:${iperf.port}`,
      ]);
      await s.ockam(['relay', 'create', 'bench', '--at', relay.route, '--to', 'server']);
    }
    const direct = (client, server) => ({
      key: `${client} → ${server}`,
      client,
      port: () =>
        sides[client].inlet(
          'client',
          `${client}-${server}`,
          `${sides[server].nodes.server.route}/secure/api/service/bench`,
        ),
      nodes: [sides[client].nodes.client, sides[server].nodes.server],
    });
    const relayed = (impl) => ({
      key: `${impl} relay`,
      client: impl,
      relay: sides[impl].nodes.relay,
      port: () =>
        sides[impl].inlet(
          'client',
          `${impl}-relay`,
          `${sides[impl].nodes.relay.route}/service/forward_to_bench/secure/api/service/bench`,
        ),
      nodes: [sides[impl].nodes.client, sides[impl].nodes.relay, sides[impl].nodes.server],
    });
    const planned = !bulkPart
      ? []
      : [
          ...(haveRust ? [direct('rust', 'rust')] : []),
          direct('ours', 'ours'),
          ...(haveRust ? [direct('ours', 'rust'), direct('rust', 'ours'), relayed('rust')] : []),
          relayed('ours'),
        ];
    const paths = [];
    if (tunnel)
      paths.push({
        key: 'ssh -L',
        name: `ssh -L (${tunnel.cipher})`,
        bulk: sshPort,
        procs: () => [
          { label: 'ssh', pids: [tunnel.ssh.pid] },
          { label: 'sshd', pids: processTree(tunnel.sshd.pid) },
        ],
      });
    for (const p of planned) {
      try {
        const bulk = await p.port();
        paths.push({
          ...p,
          name: p.relay ? `${p.key} node (${p.client} inlet and outlet)` : p.key,
          bulk,
          procs: () => p.nodes.map((n) => ({ label: n === p.relay ? 'relay' : n.name, pids: [n.pid] })),
        });
      } catch (e) {
        failed = true;
        console.log(`${p.key}: not measured (${e.message.split('\n')[0]})`);
      }
    }
    console.log(`setup took ${fmt((performance.now() - started) / 1000, 1)} s\n`);

    // ---- 1. throughput ----
    if (bulkPart) {
      console.log(
        `1. Portal throughput, iperf3 ${SECONDS} s per run, best of ${REPS} (runs interleaved across paths)`,
      );
      const best = new Map();
      for (let rep = 0; rep < REPS; rep++) {
        for (const p of paths) {
          const sampler = cpuSampler(p.procs);
          let bps;
          try {
            bps = await iperfClient(p.bulk, SECONDS);
          } catch (e) {
            sampler.stop();
            failed = true;
            console.log(`   ${p.key} run ${rep + 1}: ${e.message}`);
            await iperf.restart();
            continue;
          }
          const cpu = sampler.stop();
          const prev = best.get(p.key);
          best.set(p.key, {
            runs: [...(prev?.runs ?? []), bps],
            bps: Math.max(bps, prev?.bps ?? 0),
            cpu: !prev || bps > prev.bps ? cpu : prev.cpu,
          });
          await sleep(300);
        }
      }
      const mbit = (k) => (best.get(k)?.bps ?? Number.NaN) / 1e6;
      // CPU seconds per Gbit carried = (cores busy) ÷ (Gbit/s).
      const cpuPerGbit = (k, label) => {
        const b = best.get(k);
        if (!b) return Number.NaN;
        const pct = b.cpu
          .filter((c) => label === undefined || c.label === label)
          .reduce((a, c) => a + c.percent, 0);
        return pct / 100 / (b.bps / 1e9);
      };
      const ref = mbit('ssh -L');
      table(
        [
          'path',
          '>Mbit/s',
          '>runs (Mbit/s)',
          '>× ssh -L',
          '>path CPU s/Gbit',
          '>relay node CPU s/Gbit',
          'CPU during best run',
        ],
        paths.map((p) => [
          p.name,
          fmt(mbit(p.key)),
          (best.get(p.key)?.runs ?? []).map((b) => fmt(b / 1e6)).join(' / '),
          p.key === 'ssh -L' ? '1.00' : fmt(mbit(p.key) / ref, 2),
          fmt(cpuPerGbit(p.key), 2),
          p.relay ? fmt(cpuPerGbit(p.key, 'relay'), 2) : '',
          (best.get(p.key)?.cpu ?? []).map((c) => `${c.label} ${fmt(c.percent)} %`).join(', '),
        ]),
      );
      console.log(
        'path CPU: every process of the path (the nodes, or ssh + sshd; not iperf3), CPU seconds per Gbit carried',
      );
      if (best.has('ours relay') && best.has('rust relay')) {
        const [o, r] = [cpuPerGbit('ours relay', 'relay'), cpuPerGbit('rust relay', 'relay')];
        console.log(
          `relay node: ours ${fmt(o, 2)} vs Rust ${fmt(r, 2)} CPU s per Gbit → ${o <= r ? 'ours ≤ Rust' : 'ours MORE than Rust'} (${fmt((100 * o) / r)} % of Rust's)`,
        );
      }
      for (const [o, r] of [
        ['ours → ours', 'rust → rust'],
        ['ours relay', 'rust relay'],
      ]) {
        if (best.has(o) && best.has(r))
          console.log(`${o} carries ${fmt((100 * mbit(o)) / mbit(r))} % of ${r}'s throughput`);
      }
      console.log('');
    }

    // ---- 2. handshakes ----
    if (PARTS.has('2')) {
      console.log(
        `2. Secure-channel handshakes per second against a node of each, full identity verification (our initiator in this process; a fresh node's first ${fmt(HANDSHAKE_WARMUP_MS)} ms, then ${fmt(HANDSHAKE_MS)} ms each warm)`,
      );
      const initiatorNode = new Node({ name: 'bench-initiator' });
      initiatorNode.registerTransport(new TcpTransport(initiatorNode));
      cleanups.push(() => initiatorNode.stop());
      const vault = createVault('node');
      const identity = await createIdentity(vault);
      const rows = [];
      for (const s of Object.values(sides)) {
        const target = s.nodes.server;
        const options = { identity, vault, trustPolicy: trustIdentifier(await s.identifier()) };
        const route = [`1#127.0.0.1:${target.port}`, 'api'];
        // First the fresh node (the JIT compiling our responder's code is part of its first
        // seconds), then the same node warm, as a node that has run a while is.
        const runs = [
          { label: 'fresh', parallel: 1, ms: HANDSHAKE_WARMUP_MS },
          { label: 'warm', parallel: 1, ms: HANDSHAKE_MS },
          { label: 'warm', parallel: CONCURRENCY, ms: HANDSHAKE_MS },
        ];
        for (const { label, parallel, ms } of runs) {
          try {
            const { rate, done, ticks } = await handshakeRate(
              initiatorNode,
              route,
              options,
              ms,
              parallel,
              target.pid,
            );
            rows.push([
              `${s.impl === 'ours' ? 'our' : 'Rust'} node (responder), ${label}`,
              String(parallel),
              fmt(rate, 1),
              fmt((1000 * ticks) / CLK_TCK / done, 2),
            ]);
          } catch (e) {
            failed = true;
            rows.push([`${s.impl} node`, String(parallel), 'failed:', e.message.split('\n')[0]]);
          }
        }
      }
      table(['responder', '>in flight', '>handshakes/s', '>responder CPU ms/handshake'], rows);
      console.log(
        "each handshake: Noise XX with both identities verified (change history, purpose-key attestation), the initiator trusting only the node's identifier; then Close",
      );
    }

    // ---- 3. the commands ----
    if (PARTS.has('3')) {
      console.log(
        `\n3. \`ockam secure-channel create --from client --to <server>/service/api\`, ${CLI_RUNS} runs per pair: wall time per command (process start included), median`,
      );
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const timed = async (f) => {
        const t = performance.now();
        await f();
        return performance.now() - t;
      };
      const cli = [];
      for (const from of Object.values(sides)) {
        // The same command's start-up and one request to its node, without a handshake.
        const base = [];
        for (let i = 0; i < CLI_RUNS; i++)
          base.push(await timed(() => from.ockam(['secure-channel', 'list', '--at', 'client'])));
        for (const to of Object.values(sides)) {
          try {
            const times = [];
            const route = `${to.nodes.server.route}/service/api`;
            for (let i = 0; i < CLI_RUNS; i++)
              times.push(
                await timed(() =>
                  from.ockam(['secure-channel', 'create', '--from', 'client', '--to', route]),
                ),
              );
            cli.push([
              `${from.impl} command and node → ${to.impl} node`,
              fmt(median(times)),
              fmt(median(base)),
              fmt(median(times) - median(base)),
            ]);
          } catch (e) {
            failed = true;
            cli.push([`${from.impl} → ${to.impl}`, 'failed:', e.message.split('\n')[0], '']);
          }
        }
      }
      table(['initiator → responder', '>create (ms)', '>secure-channel list (ms)', '>difference (ms)'], cli);
      console.log(
        'difference: create minus the same command listing channels, i.e. roughly the handshake and its request',
      );
    }
  } catch (e) {
    failed = true;
    console.error(`bench failed: ${e.stack ?? e.message}`);
  } finally {
    await cleanup();
  }
  console.log(
    `\ndone in ${fmt((performance.now() - started) / 1000, 1)} s; load average now ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  return failed ? 1 : 0;
}

process.exitCode = await main();
