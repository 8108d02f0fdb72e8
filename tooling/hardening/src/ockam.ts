/**
 * Runs the `ockam` command of this checkout as a child process, each call in its own OCKAM_HOME,
 * and talks to nodes over their control sockets.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The checkout's root (tooling/hardening/src → ../../..). */
export const REPO_ROOT = path.resolve(here, '../../..');
export const OCKAM_BIN = path.join(REPO_ROOT, 'apps/cli/bin/ockam.js');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One OCKAM_HOME in a fresh temp dir, with `ockam` bound to it. */
export class OckamEnv {
  readonly home: string;
  readonly #ownsHome: boolean;

  constructor(home?: string) {
    this.#ownsHome = home === undefined;
    this.home = home ?? mkdtempSync(path.join(tmpdir(), 'ockam-hardening-'));
  }

  /** Runs `ockam ARGS`; resolves with its exit code and output (never rejects on a non-zero exit). */
  run(
    args: readonly string[],
    options: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [OCKAM_BIN, ...args],
        {
          env: { ...process.env, OCKAM_HOME: this.home, ...options.env },
          timeout: options.timeoutMs ?? 60_000,
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, stdout, stderr) => {
          if (error && typeof (error as { code?: unknown }).code !== 'number') {
            if ((error as { killed?: boolean }).killed) {
              resolve({ code: -1, stdout, stderr: `${stderr}\n(killed after timeout)` });
              return;
            }
            reject(error);
            return;
          }
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
    });
  }

  /** Runs `ockam ARGS` and throws with its stderr unless it exits 0. */
  async ok(args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new Error(`ockam ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  async json<T>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.ok([...args, '--output', 'json'])) as T;
  }

  socketPath(node: string): string {
    return path.join(this.home, 'run', `${node}.sock`);
  }

  logPath(node: string): string {
    return path.join(this.home, 'nodes', node, 'node.log');
  }

  /** Log lines of a node at level error or above. */
  errorLines(node: string): string[] {
    let text: string;
    try {
      text = readFileSync(this.logPath(node), 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((line) => /"level":"(error|fatal)"/.test(line));
  }

  /** Stops and deletes every node, then removes the home if this env made it. */
  async dispose(): Promise<void> {
    try {
      await this.run(['node', 'delete', '--all'], { timeoutMs: 60_000 });
    } finally {
      if (this.#ownsHome) rmSync(this.home, { recursive: true, force: true });
    }
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** One HTTP request over a Unix socket with a raw body. */
export function controlRequest(
  socketPath: string,
  method: string,
  urlPath: string,
  body: string | Buffer | undefined,
  timeoutMs = 30_000,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      {
        socketPath,
        method,
        path: urlPath,
        headers: { 'content-type': 'application/json', 'content-length': data?.length ?? 0 },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${method} ${urlPath} got no answer in ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** POST JSON to a node's control API; throws unless it answers 2xx. */
export async function controlPost<T>(
  socketPath: string,
  urlPath: string,
  body: unknown,
  timeoutMs = 60_000,
): Promise<T> {
  const answer = await controlRequest(socketPath, 'POST', urlPath, JSON.stringify(body), timeoutMs);
  if (answer.status >= 300) throw new Error(`POST ${urlPath} answered ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

export async function controlGet<T>(socketPath: string, urlPath: string, timeoutMs = 30_000): Promise<T> {
  const answer = await controlRequest(socketPath, 'GET', urlPath, undefined, timeoutMs);
  if (answer.status >= 300) throw new Error(`GET ${urlPath} answered ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

/** Resident set size of a process in bytes (from /proc), or undefined if it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
