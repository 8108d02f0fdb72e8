/**
 * The two `ockam` commands under test: ours (this checkout's `apps/cli`) and Ockam Rust's 0.139.0
 * (built by `scripts/ockam-rust.sh`). Each `Ockam` is one command bound to its own OCKAM_HOME, so
 * the two sides share no state: they meet only by route, over real sockets, as users mixing them
 * would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { OCKAM_BIN } from '@ockam/hardening/ockam';
import { afterAll, beforeAll } from 'vitest';

export type Implementation = 'ours' | 'rust';

export const RUST_VERSION = '0.139.0';

/** Where `scripts/ockam-rust.sh` puts the binary (or `$OCKAM_RUST`, when set). */
export function rustBinaryPath(): string {
  if (process.env.OCKAM_RUST) return process.env.OCKAM_RUST;
  const cache = process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache');
  return path.join(cache, 'ockam-ts', 'rust', `ockam-${RUST_VERSION}`, 'bin', 'ockam');
}

/**
 * Why the interop suite cannot run here, or undefined when it can. In CI (`CI` or
 * `OCKAM_INTEROP_REQUIRED` set, as `.ci/run` does) the binary must exist: a missing one is a
 * failure, not a skip.
 */
export function rustMissing(): string | undefined {
  const bin = rustBinaryPath();
  if (existsSync(bin)) return undefined;
  const reason = `Ockam Rust ${RUST_VERSION} is not installed at ${bin} (run scripts/ockam-rust.sh)`;
  if (process.env.CI || process.env.OCKAM_INTEROP_REQUIRED)
    throw new Error(`${reason}; CI must run the interop suite (OCKAM_INTEROP_REQUIRED is set)`);
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
  // INTEROP_RUST_LOG_LEVEL=debug makes Rust's node logs (in its home; see INTEROP_KEEP_HOMES) verbose.
  OCKAM_LOG_LEVEL: process.env.INTEROP_RUST_LOG_LEVEL ?? 'info',
};

/** Both directions of a matrix row: (ours, Rust) and (Rust, ours). */
export const PAIRS = [
  ['ours', 'rust'],
  ['rust', 'ours'],
] as const;

/**
 * One command of each implementation for the enclosing `describe`: made before its tests, their
 * nodes and homes disposed after them.
 */
export function bothSides(): Record<Implementation, Ockam> {
  const sides = {} as Record<Implementation, Ockam>;
  beforeAll(() => {
    sides.ours = Ockam.ours();
    sides.rust = Ockam.rust();
  });
  afterAll(async () => {
    await Promise.all(Object.values(sides).map((s) => s.dispose()));
  });
  return sides;
}

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
  readonly #background = new Set<Background>();

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
   * Output goes through files, not pipes: Rust's `node create` starts its node as a child that
   * inherits them, so a pipe would stay open (and a wait for its end would hang) as long as the
   * node runs.
   */
  run(args: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
    const [cmd, ...pre] = this.#argv;
    const dir = mkdtempSync(path.join(tmpdir(), 'ockam-interop-run-'));
    const outPath = path.join(dir, 'stdout');
    const errPath = path.join(dir, 'stderr');
    const out = openSync(outPath, 'w');
    const err = openSync(errPath, 'w');
    const timeoutMs = options.timeoutMs ?? 120_000;
    return new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(cmd as string, [...pre, ...args], {
        env: { ...process.env, ...this.#env, OCKAM_HOME: this.home, ...options.env },
        stdio: ['pipe', out, err],
      });
      let killed = false;
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input ?? '');
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        const stdout = readFileSync(outPath, 'utf8');
        let stderr = readFileSync(errPath, 'utf8');
        if (killed) stderr += `\n(killed after ${timeoutMs} ms)`;
        resolve({ code: killed ? -1 : (code ?? 1), stdout, stderr });
      });
    }).finally(() => {
      closeSync(out);
      closeSync(err);
      rmSync(dir, { recursive: true, force: true });
    });
  }

  /**
   * Starts a long-running `ockam ARGS` (a foreground server such as `rendezvous create`) whose
   * output is collected; `stop()` kills it. Stopped by `dispose()` too.
   */
  start(args: readonly string[], env: Record<string, string> = {}): Background {
    const [cmd, ...pre] = this.#argv;
    const child = spawn(cmd as string, [...pre, ...args], {
      env: { ...process.env, ...this.#env, OCKAM_HOME: this.home, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const bg = new Background(child);
    this.#background.add(bg);
    return bg;
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

  /** `ockam node create NAME ARGS…` (the node inherits `env`), then where its TCP listener is. */
  async createNode(
    name: string,
    args: readonly string[] = [],
    env: Record<string, string> = {},
  ): Promise<StartedNode> {
    await this.ok(['node', 'create', name, ...args], { timeoutMs: 180_000, env });
    const tcp = await this.tcpListener(name);
    const port = tcp.slice(tcp.lastIndexOf(':') + 1);
    return { name, tcp, route: `/ip4/127.0.0.1/tcp/${port}` };
  }

  /** The `host:port` of a node's TCP listener, from `node show --output json`. */
  async tcpListener(name: string): Promise<string> {
    const shown = await this.json<Record<string, unknown>>(['node', 'show', name]);
    if (this.impl === 'ours') return String(shown.tcpListenerAddress);
    // Rust prints its `NodeResources`: `route.verbose` and the listening transport's socket.
    const found = findListener(shown);
    if (found === undefined)
      throw new Error(`no TCP listener in rust node show ${name}: ${JSON.stringify(shown)}`);
    return found;
  }

  /**
   * `tcp-connection create --from NODE --to HOST:PORT`: the node's own connection to another
   * node's listener, as the `/worker/ADDRESS` route piece that reaches through it.
   */
  async tcpConnection(node: string, to: string): Promise<string> {
    const out = await this.ok(['tcp-connection', 'create', '--from', node, '--to', to]);
    // Ours prints `/worker/tcp_sender_<hex>`; Rust prints the worker's 32 hex digits in a sentence.
    const worker = /\/worker\/([0-9A-Za-z_]+)/.exec(out)?.[1] ?? /[0-9a-f]{32}/.exec(out)?.[0];
    if (worker === undefined)
      throw new Error(`no worker address in ${this.impl} tcp-connection create: ${out}`);
    return `/worker/${worker}`;
  }

  /** The identifier (`I…`) of an identity of this home (the default one without a name). */
  async identifier(name?: string): Promise<string> {
    const out = await this.ok(['identity', 'show', ...(name ? [name] : [])]);
    const id = /I[0-9a-f]{64}/.exec(out)?.[0];
    if (id === undefined) throw new Error(`no identifier in ${this.impl} identity show: ${out}`);
    return id;
  }

  /** The addresses of the secure channels a node initiated (`secure-channel list --at NODE`). */
  async channels(node: string): Promise<string[]> {
    if (this.impl === 'ours') {
      const list = await this.json<Array<{ address: string }>>(['secure-channel', 'list', '--at', node]);
      return list.map((c) => c.address);
    }
    // Rust 0.139 prints nothing for `--output json` here; its plain list has `At /service/<address>`.
    const out = await this.ok(['secure-channel', 'list', '--at', node]);
    return [...out.matchAll(/At \/service\/([0-9a-f]{32})/g)].map((m) => m[1]!);
  }

  /**
   * A count that falls when a channel this node accepted closes: for ours, the channels its
   * listeners hold (`status`); for Rust, which lists only channels a node initiated, the workers the
   * node runs (`worker list`), each channel being several.
   */
  async acceptedChannels(node: string): Promise<number> {
    if (this.impl === 'ours') {
      const status = await this.json<{
        nodes: Array<{ name: string; secureChannelListeners?: Array<{ channels: number }> }>;
      }>(['status']);
      const n = status.nodes.find((x) => x.name === node);
      return (n?.secureChannelListeners ?? []).reduce((sum, l) => sum + l.channels, 0);
    }
    // As for `secure-channel list`, Rust 0.139's `--output json` prints nothing for `worker list`.
    const out = await this.ok(['worker', 'list', '--at', node]);
    return (out.match(/Worker [0-9a-f]{32}/g) ?? []).length;
  }

  /** The worker addresses a Rust node runs (`worker list`). */
  async workers(node: string): Promise<string[]> {
    if (this.impl === 'ours') throw new Error('workers(): only for Rust nodes');
    const out = await this.ok(['worker', 'list', '--at', node]);
    return [...out.matchAll(/Worker (\S+)/g)].map((m) => m[1]!);
  }

  /** Lines of our node's log (JSON lines). */
  logLines(node: string): string[] {
    if (this.impl !== 'ours') throw new Error('logLines(): only for our nodes');
    try {
      return readFileSync(path.join(this.home, 'nodes', node, 'node.log'), 'utf8').split('\n');
    } catch {
      return [];
    }
  }

  /** Stops and deletes every node of this home, then removes the home. */
  async dispose(): Promise<void> {
    for (const bg of this.#background) await bg.stop();
    // INTEROP_KEEP_HOMES=DIR keeps a copy of every home (node logs included) to read after a run.
    const keep = process.env.INTEROP_KEEP_HOMES;
    if (keep) {
      const dest = path.join(keep, path.basename(this.home));
      cpSync(this.home, dest, { recursive: true, filter: (f) => !f.endsWith('.sock') });
    }
    try {
      const all =
        this.impl === 'rust' ? ['node', 'delete', '--all', '--yes', '--force'] : ['node', 'delete', '--all'];
      await this.run(all, { timeoutMs: 60_000 });
    } finally {
      rmSync(this.home, { recursive: true, force: true });
    }
  }
}

/** A long-running command started by `Ockam.start`. */
export class Background {
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  output = '';

  constructor(child: ChildProcess) {
    this.#child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.output += d;
    });
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (this.running) this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
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
  // `route.verbose` is `/ip4/127.0.0.1/tcp/PORT`; a listening transport has `127.0.0.1:PORT`.
  const route = /"\/ip4\/(127\.0\.0\.1)\/tcp\/(\d+)"/.exec(text);
  if (route) return `${route[1]}:${route[2]}`;
  const socket = /"(127\.0\.0\.1):(\d+)"/.exec(text);
  return socket ? `${socket[1]}:${socket[2]}` : undefined;
}
