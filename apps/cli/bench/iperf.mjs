// iperf3 for the portal benchmarks (this package's portals.mjs and tooling/interop's bench): a
// server on one loopback port, and a client run that resolves with the bits per second received.
import { spawn } from 'node:child_process';
import { spawnUntil, stopChild } from './lib.mjs';

/**
 * `iperf3 -s` on 127.0.0.1:port. `restart()` starts it again on the same port (a failed test can
 * leave iperf3 -s busy); `pid()` is the current server's pid.
 */
export async function startIperfServer(port) {
  let child = null;
  const start = async () => {
    child = (
      await spawnUntil('iperf3', ['-s', '--forceflush', '-B', '127.0.0.1', '-p', String(port)], {
        ready: (t) => /Server listening/.test(t),
      })
    ).child;
    child.stdout.removeAllListeners('data');
    child.stdout.resume();
  };
  await start();
  return {
    port,
    pid: () => child?.pid,
    async restart() {
      await stopChild(child);
      await start();
    },
    stop: () => stopChild(child),
  };
}

/** `iperf3 -c 127.0.0.1 -p port -t seconds -J`; resolves with the received bits per second. */
export function iperfClient(port, seconds, onPid = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onPid(child.pid);
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      let j = null;
      try {
        j = JSON.parse(out);
      } catch {}
      const bps = j?.end?.sum_received?.bits_per_second;
      if (code === 0 && bps) resolve(bps);
      else reject(new Error(`iperf3 -c failed (${code}): ${j?.error ?? err.trim() ?? out.slice(0, 200)}`));
    });
  });
}
