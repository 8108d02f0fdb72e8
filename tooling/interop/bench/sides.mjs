// The two `ockam` commands for the benchmarks, each bound to its own OCKAM_HOME: ours (this
// checkout's apps/cli) and Ockam Rust 0.139's, with node creation, inlets and clean-up.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort, OCKAM_BIN, pidListeningOn, run, sleep } from '../../../apps/cli/bench/lib.mjs';

// Where scripts/ockam-rust.sh installs Ockam Rust (as src/ockam.ts's rustBinaryPath, which this
// plain-JavaScript script cannot import).
export const RUST_BIN =
  process.env.OCKAM_RUST ??
  join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'ockam-ts',
    'rust',
    'ockam-0.139.0',
    'bin',
    'ockam',
  );
// What the Rust command is told in every call (as src/ockam.ts): no telemetry, upgrade check or prompts.
export const RUST_ENV = {
  OCKAM_OPENTELEMETRY_EXPORT: 'false',
  OCKAM_DISABLE_UPGRADE_CHECK: 'true',
  NO_INPUT: 'true',
  NO_COLOR: 'true',
};

/** One `ockam` command of either implementation bound to its own OCKAM_HOME. */
export function side(impl, root) {
  const home = join(root, impl);
  mkdirSync(home, { mode: 0o700 });
  const [file, pre, env] = impl === 'ours' ? [process.execPath, [OCKAM_BIN], {}] : [RUST_BIN, [], RUST_ENV];
  const ockam = async (args, { json = false } = {}) => {
    const { stdout } = await run(file, [...pre, ...args, ...(json ? ['--output', 'json'] : [])], {
      env: { ...env, OCKAM_HOME: home },
      timeoutMs: 180_000,
    });
    return json ? JSON.parse(stdout) : stdout;
  };
  // `node create` leaves a daemon; Rust's keeps the command's stdout and stderr, so pipes (which
  // `run` waits to close) would stay open as long as the node runs: no output is kept for it.
  const createNode = (args) =>
    new Promise((resolve, reject) => {
      const child = spawn(file, [...pre, 'node', 'create', ...args], {
        env: { ...process.env, ...env, OCKAM_HOME: home },
        stdio: 'ignore',
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`${impl} ockam node create ${args.join(' ')} exited ${code}`));
      });
    });
  const nodes = {};
  return {
    impl,
    ockam,
    nodes,
    /** `node create NAME` on a port chosen here; records its route and the daemon's pid. */
    async node(name) {
      const port = await freePort();
      await createNode([name, '--tcp-listener-address', `127.0.0.1:${port}`]);
      let pid;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        pid = pidListeningOn(port);
        if (pid === undefined) await sleep(50);
      }
      if (pid === undefined) throw new Error(`${impl} node ${name}: nothing listens on ${port}`);
      nodes[name] = { name, port, pid, route: `/ip4/127.0.0.1/tcp/${port}` };
      return nodes[name];
    },
    /** `tcp-inlet create`; resolves with the port it listens on. */
    async inlet(at, alias, to) {
      const args = ['tcp-inlet', 'create', '--at', at, '--alias', alias, '--to', to];
      if (impl === 'ours') {
        const r = await ockam([...args, '--from', '127.0.0.1:0'], { json: true });
        if (r.status !== 'up') throw new Error(`our inlet ${alias} is ${r.status}`);
        return Number(r.bound.split(':').pop());
      }
      const r = await ockam(args, { json: true });
      if (String(r.status).toLowerCase() !== 'up') throw new Error(`Rust inlet ${alias} is ${r.status}`);
      return Number(String(r.bind_addr).split(':').pop());
    },
    async identifier() {
      const id = /I[0-9a-f]{64}/.exec(await ockam(['identity', 'show']))?.[0];
      if (!id) throw new Error(`${impl}: no identifier in identity show`);
      return id;
    },
    async dispose() {
      const all =
        impl === 'rust'
          ? ['node', 'delete', '--all', '--yes', '--force']
          : ['node', 'delete', '--all', '--yes'];
      try {
        await ockam(all);
      } catch (e) {
        console.error(`${impl} node delete --all failed (${e.message.split('\n')[0]}); killing its nodes`);
        for (const n of Object.values(nodes)) {
          try {
            process.kill(n.pid, 'SIGKILL');
          } catch {}
        }
      }
    },
  };
}
