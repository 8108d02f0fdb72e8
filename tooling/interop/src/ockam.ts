/**
 * The two `ockam` commands under test: ours (this checkout's `apps/cli`) and Ockam Rust's 0.139.0
 * (built by `scripts/ockam-rust.sh`). Each `Ockam` is one command bound to its own OCKAM_HOME, so
 * the two sides share no state: they meet only by route, over real sockets, as users mixing them
 * would.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { OCKAM_BIN } from '@ockam/hardening/ockam';

export type Implementation = 'ours' | 'rust';

export const RUST_VERSION = '0.139.0';

/** Where `scripts/ockam-rust.sh` puts the binary (or `$OCKAM_RUST`, when set). */
export function rustBinaryPath(): string {
  if (process.env.OCKAM_RUST) return process.env.OCKAM_RUST;
  const cache = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
  return path.join(cache, 'ockam-ts', 'rust', `ockam-${RUST_VERSION}`, 'bin', 'ockam');
}

/**
 * Why the interop suite cannot run here, or undefined when it can. In CI the binary must exist:
 * `.ci/run` builds it, and a missing one is a failure, not a skip.
 */
export function rustMissing(): string | undefined {
  const bin = rustBinaryPath();
  if (existsSync(bin)) return undefined;
  const reason = `Ockam Rust ${RUST_VERSION} is not installed at ${bin} (run scripts/ockam-rust.sh)`;
  if (process.env.CI) throw new Error(`${reason}; CI must run the interop suite`);
  return reason;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  /** Written to the command's stdin (which is closed either way). */
  input?: string;
}

/** What the Rust command is told in every call: no telemetry, no upgrade check, no prompts. */
const RUST_ENV: Record<string, string> = {
  OCKAM_OPENTELEMETRY_EXPORT: 'false',
  OCKAM_DISABLE_UPGRADE_CHECK: 'true',
  NO_INPUT: 'true',
  NO_COLOR: 'true',
  OCKAM_LOGGING: 'true',
  OCKAM_LOG_LEVEL: 'info',
};

/** A node either command started, as a route prefix the other side can use. */
export interface StartedNode {
  readonly name: string;
  /** `host:port` of its TCP listener. */
  readonly tcp: string;
  /** `/ip4/127.0.0.1/tcp/PORT`: how the other implementation reaches it. */
  readonly route: string;
}

/** One `ockam` command with its own OCKAM_HOME. */
export class Ockam {
  readonly impl: Implementation;
  readonly home: string;
  readonly #argv: readonly string[];
  readonly #env: Record<string, string>;

  private constructor(impl: Implementation, argv: readonly string[], env: Record<string, string>) {
    this.impl = impl;
    this.#argv = argv;
    this.#env = env;
    this.home = mkdtempSync(path.join(tmpdir(), `ockam-interop-${impl}-`));
  }

  static ours(): Ockam {
    return new Ockam('ours', [process.execPath, OCKAM_BIN], {});
  }

  static rust(): Ockam {
    return new Ockam('rust', [rustBinaryPath()], RUST_ENV);
  }

  /**
   * Runs `ockam ARGS`; resolves with its exit code and output (-1 if killed after the timeout).
   * Output goes to files, read when the command exits: Rust's `node create` leaves a daemon that
   * inherits the command's stdout and stderr, so pipes would stay open (and 'close' never come)
   * for as long as the node runs.
   */
  run(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const [cmd, ...pre] = this.#argv;
    const dir = mkdtempSync(path.join(tmpdir(), 'ockam-interop-out-'));
    const files = [path.join(dir, 'stdout'), path.join(dir, 'stderr')] as const;
    const fds = files.map((f) => openSync(f, 'w'));
    const finish = () => {
      for (const fd of fds) closeSync(fd);
      const [stdout, stderr] = files.map((f) => readFileSync(f, 'utf8'));
      rmSync(dir, { recursive: true, force: true });
      return { stdout: stdout as string, stderr: stderr as string };
    };
    return new Promise((resolve, reject) => {
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(cmd as string, [...pre, ...args], {
          env: { ...process.env, ...this.#env, OCKAM_HOME: this.home, ...options.env },
          stdio: ['pipe', fds[0] as number, fds[1] as number],
        });
      } catch (e) {
        finish();
        reject(e);
        return;
      }
      let killed = false;
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input ?? '');
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? 120_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        finish();
        reject(e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const out = finish();
        if (killed) out.stderr += `\n(killed after ${options.timeoutMs ?? 120_000} ms)`;
        resolve({ code: killed ? -1 : (code ?? 1), ...out });
      });
    });
  }

  /** Runs `ockam ARGS` and throws with its output unless it exits 0; resolves with stdout. */
  async ok(args: readonly string[], options: RunOptions = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0)
      throw new Error(
        `${this.impl} ockam ${args.join(' ')} exited ${r.code}:\n${r.stderr.trim()}\n${r.stdout.trim()}`,
      );
    return r.stdout;
  }

  async json<T>(args: readonly string[], options: RunOptions = {}): Promise<T> {
    return JSON.parse(lastJsonValue(await this.ok([...args, '--output', 'json'], options))) as T;
  }

  /** `ockam node create NAME ARGS…`, then where its TCP listener is. */
  async createNode(name: string, args: readonly string[] = []): Promise<StartedNode> {
    await this.ok(['node', 'create', name, ...args], { timeoutMs: 180_000 });
    const tcp = await this.tcpListener(name);
    const port = tcp.slice(tcp.lastIndexOf(':') + 1);
    return { name, tcp, route: `/ip4/127.0.0.1/tcp/${port}` };
  }

  /** The `host:port` of a node's TCP listener, from `node show --output json`. */
  async tcpListener(name: string): Promise<string> {
    const shown = await this.json<Record<string, unknown>>(['node', 'show', name]);
    if (this.impl === 'ours') return String(shown.tcpListenerAddress);
    // Rust 0.139: `{"name": …, "pid": …, "transports": [{"socket_addr": "127.0.0.1:PORT", "mode": "Listen", …}], …}`
    // (older shapes carry `node_address`, `tcp_listener_address` or a multiaddr).
    const found = findListener(shown);
    if (found === undefined)
      throw new Error(`no TCP listener in rust node show ${name}: ${JSON.stringify(shown)}`);
    return found;
  }

  /** The identifier (`I…`) of an identity of this home (the default one without a name). */
  async identifier(name?: string): Promise<string> {
    const out = await this.ok(['identity', 'show', ...(name ? [name] : [])]);
    const id = /I[0-9a-f]{64}/.exec(out)?.[0];
    if (id === undefined) throw new Error(`no identifier in ${this.impl} identity show: ${out}`);
    return id;
  }

  /** Stops and deletes every node of this home, then removes the home. */
  async dispose(): Promise<void> {
    try {
      const all =
        this.impl === 'rust' ? ['node', 'delete', '--all', '--yes', '--force'] : ['node', 'delete', '--all'];
      await this.run(all, { timeoutMs: 60_000 });
    } finally {
      rmSync(this.home, { recursive: true, force: true });
    }
  }
}

/**
 * The last of the JSON values in `text`. Rust 0.139's commands that create the default node on the
 * way (`tcp-inlet create` with no node yet, …) print that node's JSON before their own under
 * `--output json`: two documents back to back.
 */
export function lastJsonValue(text: string): string {
  let depth = 0;
  let inString = false;
  let start = -1;
  let last = text.trim();
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if ((c === '}' || c === ']') && --depth === 0) last = text.slice(start, i + 1);
  }
  return last;
}

function findListener(shown: unknown): string | undefined {
  const text = JSON.stringify(shown);
  const tcp =
    /"(?:tcp_listener_address|node_address|socket_addr|socket|address)":"(?:\/ip4\/)?(127\.0\.0\.1)[:/](?:tcp\/)?(\d+)"/.exec(
      text,
    );
  return tcp ? `${tcp[1]}:${tcp[2]}` : undefined;
}
