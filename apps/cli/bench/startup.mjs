// Startup benchmark (issue 17, "Fast enough for scripts"): the wall time of one `ockam` invocation
// beside `node -e 0`, measured in the same run. Scripts (and Ockam's own test suite) run the
// command hundreds of times, so what matters is what each invocation costs before and after its
// work, not the work itself.
//
// Cases, each run BENCH_STARTUP_RUNS times (default 25), interleaved so that a busy machine slows
// every case alike:
//   node -e 0                                   the floor: starting Node.js itself
//   ockam --help                                the command framework alone
//   ockam node list                             reads the state (SQLite) and checks each node's process
//   ockam message send hi --to /node/n1/…/echo  a round trip through a running node's control API
// Prints median and p90 wall time and the median's ratio to `node -e 0` (target: every ratio ≤ 1.5),
// then, from a second pass, the median CPU time (user + system) of each case, which a machine busy
// with other work disturbs less than wall time (each process reports its own at exit).
//
// Run with `pnpm --filter @ockam/command bench` (with the portal benchmarks) or
// `node bench/startup.mjs` after `pnpm build`. OCKAM_BENCH_BIN=path/to/ockam.js measures another
// build; OCKAM_BENCH_BASELINE_BIN=path/to/ockam.js adds that build's cases to the same interleaved
// run (marked "baseline"), for a before/after figure on equal terms. BENCH_STRICT=1 exits 2 when a
// target is missed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OCKAM_BIN, percentile } from './lib.mjs';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 25);
const BIN = process.env.OCKAM_BENCH_BIN ?? OCKAM_BIN;
const home = mkdtempSync(join(tmpdir(), 'ock-start-'));
const env = { ...process.env, OCKAM_HOME: home };

/** Runs one invocation and returns its wall time in ms; throws when it fails. */
function timed(args, nodeOptions = []) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [...nodeOptions, ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

/** A preload that prints the process's own CPU time (ms) on stderr as it exits. */
const cpuReporter = join(home, 'cpu-at-exit.mjs');
writeFileSync(
  cpuReporter,
  "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write('\\nCPU_MS ' + (u.user + u.system) / 1000 + '\\n'); });\n",
);
function cpu(args) {
  const { stderr } = timed(args, ['--import', cpuReporter]);
  const m = /CPU_MS ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`node ${args.join(' ')} reported no CPU time`);
  return Number(m[1]);
}

const BASELINE = process.env.OCKAM_BENCH_BASELINE_BIN;

/** The cases of one build of the command. */
function ockamCases(bin, label) {
  return [
    { name: `${label}--help`, args: [bin, '--help'] },
    { name: `${label}node list`, args: [bin, 'node', 'list'] },
    {
      name: `${label}message send (running node)`,
      args: [bin, 'message', 'send', 'hi', '--from', 'n1', '--to', '/node/n1/service/echo'],
      expect: 'hi\n',
    },
  ];
}

const cases = [
  { name: 'node -e 0', args: ['-e', '0'] },
  ...ockamCases(BIN, 'ockam '),
  ...(BASELINE ? ockamCases(BASELINE, 'baseline ockam ') : []),
];

try {
  timed([BIN, 'node', 'create', 'n1']);
  for (const c of cases) {
    // One warm-up run each: the first run pays for cold file caches, not for the command.
    const { stdout } = timed(c.args);
    if (c.expect !== undefined && stdout !== c.expect)
      throw new Error(`${c.name} printed ${JSON.stringify(stdout)}, expected ${JSON.stringify(c.expect)}`);
    c.samples = [];
  }
  for (let i = 0; i < RUNS; i++) for (const c of cases) c.samples.push(timed(c.args).ms);
  for (const c of cases) c.cpu = [];
  for (let i = 0; i < RUNS; i++) for (const c of cases) c.cpu.push(cpu(c.args));

  for (const c of cases) {
    c.samples.sort((a, b) => a - b);
    c.cpu.sort((a, b) => a - b);
  }
  const baseCpu = percentile(cases[0].cpu, 50);
  const base = percentile(cases[0].samples, 50);
  console.log(`Startup of ${BIN}, ${RUNS} runs each, Node.js ${process.version}`);
  console.log(
    `${'case'.padEnd(45)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(8)} ${'× node -e 0'.padStart(12)} ${'CPU ms'.padStart(8)} ${'× CPU'.padStart(6)}`,
  );
  let missed = false;
  for (const c of cases) {
    const median = percentile(c.samples, 50);
    const ratio = median / base;
    if (c !== cases[0] && !c.name.startsWith('baseline') && ratio > 1.5) missed = true;
    console.log(
      `${c.name.padEnd(45)} ${median.toFixed(1).padStart(10)} ${percentile(c.samples, 90).toFixed(1).padStart(8)} ${ratio.toFixed(2).padStart(12)} ${percentile(c.cpu, 50).toFixed(0).padStart(8)} ${(percentile(c.cpu, 50) / baseCpu).toFixed(2).padStart(6)}`,
    );
  }
  console.log(
    missed
      ? 'Target (every case within 1.5× of node -e 0): missed'
      : 'Target (within 1.5× of node -e 0): met',
  );
  if (missed && process.env.BENCH_STRICT === '1') process.exitCode = 2;
} finally {
  spawnSync(process.execPath, [BIN, 'node', 'delete', '--all', '--yes'], { env, stdio: 'ignore' });
  rmSync(home, { recursive: true, force: true });
}
