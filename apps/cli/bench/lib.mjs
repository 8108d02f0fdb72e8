// Small helpers for the portal benchmarks: child processes, the `ockam` command, /proc readings,
// percentiles and tables. Nothing here depends on the workspace's packages.
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const OCKAM_BIN = fileURLToPath(new URL('../bin/ockam.js', import.meta.url));

/** Runs a program to completion; rejects with its stderr on a non-zero exit or a timeout. */
export function run(file, args, { env, timeoutMs = 60_000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const e = new Error(`${file} ${args.join(' ')} failed: ${stderr.trim() || error.message}`);
          e.stdout = stdout;
          e.stderr = stderr;
          reject(e);
        } else resolve({ stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** `ockam ARGS` with OCKAM_HOME=home; with json, adds `--output json` and parses stdout. */
export async function ockam(home, args, { json = false } = {}) {
  const full = json ? ['--output', 'json', ...args] : args;
  const { stdout } = await run(process.execPath, [OCKAM_BIN, ...full], { env: { OCKAM_HOME: home } });
  return json ? JSON.parse(stdout) : stdout;
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once 127.0.0.1:port accepts a connection (retrying every 50 ms), or rejects after timeoutMs. */
export async function waitForPort(port, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline)
      throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Spawns a long-running child; resolves once `ready(text)` holds for what it printed so far. */
export function spawnUntil(file, args, { ready, stream = 'stdout', timeoutMs = 15_000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const out = { stdout: '', stderr: '' };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} not ready after ${timeoutMs} ms: ${out.stderr.trim() || out.stdout.trim()}`));
    }, timeoutMs);
    const check = () => {
      const r = ready(out[stream]);
      if (r) {
        clearTimeout(timer);
        resolve({ child, output: out, match: r });
      }
    };
    child.stdout.on('data', (d) => {
      out.stdout += d;
      if (out.stdout.length > 1 << 20) out.stdout = out.stdout.slice(-65536);
      check();
    });
    child.stderr.on('data', (d) => {
      out.stderr += d;
      if (out.stderr.length > 1 << 20) out.stderr = out.stderr.slice(-65536);
      check();
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code ?? signal}) before it was ready: ${out.stderr.trim()}`));
    });
  });
}

/** Sends SIGTERM, then SIGKILL after graceMs, to one child we started; resolves when it is gone. */
export function stopChild(child, graceMs = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {}
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      child.kill('SIGTERM');
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

// ---- /proc ----

export const CLK_TCK = 100; // USER_HZ on Linux

/** utime+stime in clock ticks, or undefined when the process is gone. */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** VmRSS in KiB, or undefined. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** pid and its descendants (e.g. sshd and the per-connection processes it forks). */
export function processTree(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(name));
    } catch {}
  }
  const out = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/**
 * The pid of the process listening on TCP `port` (any local address), from /proc/net/tcp{,6} and
 * the processes' open sockets; undefined when none is found. For processes started by a command
 * that exits (`ockam node create`), where the daemon's pid is not the child's.
 */
export function pidListeningOn(port) {
  const inodes = new Set();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is HEXADDR:HEXPORT; st 0A is LISTEN; the inode is the tenth field.
      if (f.length < 10 || f[3] !== '0A') continue;
      if (Number.parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds = [];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${name}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(name);
      } catch {}
    }
  }
  return undefined;
}

/**
 * Samples the CPU of labelled processes every intervalMs while a measurement runs. `groups()`
 * returns [{label, pids}] and is called at every tick, so processes that appear later (an iperf3
 * client, sshd's per-connection children) are counted from the first tick that sees them.
 * stop() returns [{label, percent, cpuSeconds}] where 100 % is one core.
 */
export function cpuSampler(groups, intervalMs = 200) {
  const seen = new Map(); // label -> Map(pid -> {first, last})
  const t0 = performance.now();
  const tick = () => {
    for (const { label, pids } of groups()) {
      if (!seen.has(label)) seen.set(label, new Map());
      const m = seen.get(label);
      for (const pid of pids) {
        const t = cpuTicks(pid);
        if (t === undefined) continue;
        const e = m.get(pid);
        if (e) e.last = t;
        else m.set(pid, { first: t, last: t });
      }
    }
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      tick();
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      return [...seen].map(([label, m]) => {
        let ticks = 0;
        for (const { first, last } of m.values()) ticks += last - first;
        return { label, percent: (100 * ticks) / CLK_TCK / seconds, cpuSeconds: ticks / CLK_TCK };
      });
    },
  };
}

// ---- numbers and tables ----

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function fmt(n, digits = 0) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints a table; columns whose header starts with '>' are right-aligned. */
export function table(headers, rows) {
  const right = headers.map((h) => h.startsWith('>'));
  const names = headers.map((h) => h.replace(/^>/, ''));
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = names.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(names));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
