/**
 * `@ockam/state/testing`: a throwaway PostgreSQL server for tests, from Debian's `postgresql`
 * package (`.ci/run` installs it): a cluster in a temporary directory, on a free port of
 * 127.0.0.1, run as the `postgres` user when we are root, and removed by `stop()`.
 *
 * @example
 * ```ts
 * import { openPostgresStateStore } from '@ockam/state';
 * import { postgresBin, startPostgres } from '@ockam/state/testing';
 * if (postgresBin()) {
 *   const pg = await startPostgres();
 *   const store = await openPostgresStateStore({ host: pg.host, port: pg.port, database: 'postgres', user: 'postgres' });
 *   // …
 *   await store.close();
 *   pg.stop();
 * }
 * ```
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP port of 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:`port`; rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The directory of Debian's newest installed PostgreSQL binaries, if any. */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  return undefined;
}

export interface TestPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The superuser, with trust authentication (no password). */
  readonly user: 'postgres';
  /** Stops the server at once and removes its cluster. */
  stop(): void;
}

/** A throwaway PostgreSQL cluster on 127.0.0.1, run as the `postgres` user when we are root. */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'ockpg-'));
  chmodSync(dir, 0o777);
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  const run = (cmd: string, args: string[]) => {
    const [c, ...a] = [...asPostgres, cmd, ...args];
    return execFileSync(c!, a, { stdio: 'pipe' });
  };
  const data = join(dir, 'data');
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    const port = await freePort();
    run(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    await waitForPort(port);
    return {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      stop() {
        try {
          run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
        } catch {}
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
