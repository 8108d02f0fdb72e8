/**
 * Starting and stopping background node processes, for the `ockam` command.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type LogLevel, OckamError } from '@ockam/core';
import type { NodeRecord, OckamHome } from '@ockam/state';
import { socketAnswers } from './control-server.js';
import type { DaemonFailed, DaemonReady } from './daemon.js';

export const DAEMON_PATH = fileURLToPath(new URL('../bin/ockam-node.js', import.meta.url));

/** Node options that would run other code or open a debugger: never taken from OCKAM_NODE_V8_FLAGS. */
const REFUSED_FLAGS =
  /^--(require|import|loader|experimental-loader|inspect|debug|eval|print|env-file|experimental-policy|openssl-config|icu-data-dir|tls-keylog|redirect-warnings|diagnostic-dir|report-dir|cpu-prof-dir|heap-prof-dir)/;

/** Where V8 starts the old generation's limit, in MiB (see `daemonV8Flags`). */
export const OLD_SPACE_FLAG = '--initial-old-space-size=64';

/**
 * The V8 flags a node process starts with. On a machine with two cores or fewer, V8's concurrent
 * and parallel GC threads take the CPU that this node's own data path and its peers need: a portal
 * node measured 8–28 % of its CPU in GC and swung between 2.2 and 3.3 Gbit/s; with
 * `--single-threaded-gc` GC fell to 1–11 % and throughput held at 3.1–3.5 Gbit/s. The price:
 * allocation-heavy work that leaves the other core idle, such as one secure-channel handshake at a
 * time, loses the parallel scavenger (about 15–25 % fewer handshakes per second there). Larger
 * machines keep V8's concurrent and parallel GC.
 *
 * On every machine, `--initial-old-space-size=64` (`OLD_SPACE_FLAG`): every socket read is a fresh
 * 64 KiB ArrayBuffer, and V8 counts the external memory allocated since its last full GC against
 * the old generation's limit, which it starts at a few MiB above a node's ~13 MiB of live objects.
 * A node forwarding a few Gbit/s (a relay, a portal's ends) thus reached that limit several times a
 * second on bytes that scavenges free anyway: a relay node under back-pressure spent ~30 % of its
 * CPU in GC, two thirds of it marking the whole heap 3–4 times a second. With the limit starting
 * at 64 MiB, full GCs came every 1–2 s and the relay's CPU per Gbit fell by about a quarter
 * (tooling/interop/bench/relay-load.mjs, 2 cores), for ~15 MiB more peak RSS. 64 did as well as
 * 128 or 256 there. `OCKAM_NODE_V8_FLAGS` (space-separated, may be empty) replaces these choices.
 */
export function daemonV8Flags(
  env: NodeJS.ProcessEnv = process.env,
  cores = availableParallelism(),
): string[] {
  const explicit = env.OCKAM_NODE_V8_FLAGS;
  if (explicit === undefined) return cores <= 2 ? ['--single-threaded-gc', OLD_SPACE_FLAG] : [OLD_SPACE_FLAG];
  const flags = explicit.split(/\s+/).filter((f) => f.length > 0);
  for (const flag of flags) {
    if (!/^--[a-z0-9][a-z0-9_-]*(=[A-Za-z0-9_.:-]+)?$/.test(flag) || REFUSED_FLAGS.test(flag)) {
      throw new OckamError(
        'node',
        'invalid',
        `OCKAM_NODE_V8_FLAGS: '${flag}' is not a V8 flag this command passes on (like --max-semi-space-size=16)`,
      );
    }
  }
  return flags;
}

export interface SpawnNodeOptions {
  tcpListenerAddress?: string;
  logLevel?: LogLevel;
  identity?: string;
  httpServer?: string;
  websocketListenerAddress?: string;
  /** Web pages (origins) allowed to open WebSocket connections, besides same-origin ones. */
  websocketAllowedOrigins?: readonly string[];
  /** `Host` names the HTTP status server answers to besides its own addresses. */
  httpServerAllowedHosts?: readonly string[];
  udp?: boolean;
  rendezvous?: string;
  rendezvousService?: string;
  timeoutMs?: number;
}

/** The daemon's command line (after `node`) for `options`. */
function daemonArgs(home: OckamHome, name: string, options: SpawnNodeOptions): string[] {
  const args = [...daemonV8Flags(), DAEMON_PATH, '--name', name, '--home', home.root];
  if (options.tcpListenerAddress) args.push('--tcp-listener-address', options.tcpListenerAddress);
  if (options.logLevel) args.push('--log-level', options.logLevel);
  if (options.identity) args.push('--identity', options.identity);
  if (options.httpServer) args.push('--http-server', options.httpServer);
  if (options.websocketListenerAddress)
    args.push('--websocket-listener-address', options.websocketListenerAddress);
  for (const o of options.websocketAllowedOrigins ?? []) args.push('--websocket-allowed-origin', o);
  for (const h of options.httpServerAllowedHosts ?? []) args.push('--http-server-allowed-host', h);
  if (options.udp) args.push('--udp');
  if (options.rendezvous) args.push('--rendezvous', options.rendezvous);
  if (options.rendezvousService) args.push('--rendezvous-service', options.rendezvousService);
  return args;
}

/**
 * Runs a node in the foreground: the daemon is a child process that shares this terminal (its log
 * on stderr), so the node's recorded pid is a node process that `node stop`, `node delete --all`
 * and a kill reach like a background one's. Signals to this process are passed on; with
 * `exitOnEof`, the end of stdin stops the node (Ockam's `--exit-on-eof`). Resolves with the
 * node's exit code.
 */
export function runForegroundNode(
  home: OckamHome,
  name: string,
  options: SpawnNodeOptions & { exitOnEof?: boolean } = {},
): Promise<number> {
  const child = spawn(process.execPath, [...daemonArgs(home, name, options), '--foreground'], {
    stdio: [options.exitOnEof ? 'pipe' : 'ignore', 'inherit', 'inherit'],
    env: { ...process.env, OCKAM_HOME: home.root },
  });
  const pass = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  const onInt = pass('SIGINT');
  const onTerm = pass('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (options.exitOnEof) {
    process.stdin.on('end', onTerm);
    process.stdin.resume();
  }
  return new Promise<number>((resolve, reject) => {
    const done = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.stdin.off('end', onTerm);
      process.stdin.pause();
    };
    child.once('error', (e) => {
      done();
      reject(new OckamError('node', 'io', `Cannot start node ${name}: ${e.message}`, { cause: e }));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1));
    });
  });
}

/** Starts `ockam-node` detached in the background and waits until it is ready (or failed). */
export function spawnNode(
  home: OckamHome,
  name: string,
  options: SpawnNodeOptions = {},
): Promise<DaemonReady> {
  home.ensureNodeDir(name);
  // The process's own stdout and stderr (what escapes the log: crash traces, V8 messages), as
  // Ockam keeps nodes/NAME/stdout; the node's log is node.log beside it.
  const out = openSync(home.stdoutPath(name), 'a', 0o600);
  const args = daemonArgs(home, name, options);

  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', out, out, 'ipc'],
    env: { ...process.env, OCKAM_HOME: home.root },
  });
  closeSync(out);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise<DaemonReady>((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      child.kill('SIGKILL');
      reject(
        new OckamError(
          'node',
          'timeout',
          `Node ${name} did not start within ${timeoutMs} ms (see 'ockam node logs ${name}')`,
        ),
      );
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
    };
    child.on('message', (m: DaemonReady | DaemonFailed) => {
      finish();
      if (m.type === 'ready') resolve(m);
      else reject(new OckamError('node', 'invalid', `Node ${name} failed to start: ${m.message}`));
    });
    child.on('exit', (code) => {
      finish();
      reject(
        new OckamError(
          'node',
          'internal',
          `Node ${name} exited with code ${code} before it was ready (see 'ockam node logs ${name}')`,
        ),
      );
    });
    child.on('error', (e) => {
      finish();
      reject(new OckamError('node', 'io', `Cannot start node ${name}: ${e.message}`, { cause: e }));
    });
  });
}

/** Whether a process exists and is not a zombie (an exited child nobody has reaped yet). */
export function pidAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..." — the state letter follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/**
 * Whether `pid` is the daemon of node `name` — not some other process that reused the pid after
 * the node died. Checked before we signal a recorded pid.
 */
export function isNodeProcess(pid: number | null, name: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf('--name');
    return args.some((a) => a.endsWith('ockam-node.js')) && i >= 0 && args[i + 1] === name;
  } catch {
    return true; // no /proc: fall back to pid liveness
  }
}

/** Running means: its recorded process is alive and its control socket answers. */
export async function isNodeRunning(home: OckamHome, record: NodeRecord): Promise<boolean> {
  return isNodeProcess(record.pid, record.name) && (await socketAnswers(home.socketPath(record.name)));
}

/** Stops a node process: SIGTERM, then SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopNodeProcess(
  pid: number,
  graceMs = 10_000,
): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!pidAlive(pid)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return 'stopped';
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
  while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 25));
  return 'killed';
}
