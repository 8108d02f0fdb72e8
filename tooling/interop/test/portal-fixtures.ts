/**
 * What the portal and relay interop tests push through a portal: an HTTP server in this process
 * that serves a few MB of random bytes and hashes uploads (so both directions are checked byte for
 * byte with curl), and psql against the throwaway PostgreSQL cluster apps/cli's portal tests start.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Ockam } from '../src/ockam.js';

export { freePort, postgresBin, startPostgres } from '../../../apps/cli/test/servers.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface BlobServer {
  readonly port: number;
  /** `127.0.0.1:PORT`, what an outlet's `--to` takes. */
  readonly target: string;
  readonly size: number;
  /** sha256 of the body `GET /blob` serves. */
  readonly digest: string;
  /** A file of `size` other random bytes for uploads, and its sha256. */
  readonly upload: { file: string; digest: string };
  stop(): Promise<void>;
}

/**
 * `GET /blob` → `size` random bytes; `POST /upload` → the sha256 (hex) of the body it read, after
 * reading at most `2 × size` bytes (anything longer is refused: this server faces the portal).
 */
export async function startBlobServer(size = 6 * 1024 * 1024): Promise<BlobServer> {
  const blob = randomBytes(size);
  const up = randomBytes(size);
  const dir = mkdtempSync(path.join(tmpdir(), 'ockam-interop-blob-'));
  const file = path.join(dir, 'upload.bin');
  writeFileSync(file, up);
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/blob') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
      res.end(blob);
      return;
    }
    if ((req.method === 'HEAD' || req.method === 'GET') && req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
      res.end(req.method === 'HEAD' ? undefined : 'ok\n');
      return;
    }
    if (req.method === 'POST' && req.url === '/upload') {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
        if (n > 2 * size) {
          res.writeHead(413).end();
          req.destroy();
          return;
        }
        hash.update(d);
      });
      req.on('end', () => {
        if (!res.headersSent)
          res.writeHead(200, { 'content-type': 'text/plain' }).end(`${n} ${hash.digest('hex')}`);
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    target: `127.0.0.1:${port}`,
    size,
    digest: sha256(blob),
    upload: { file, digest: sha256(up) },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Output {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs), keeping stdout as bytes. */
export function exec(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr });
    });
  });
}

/**
 * curl against an inlet at `host:port`: downloads the blob and uploads the upload file, and
 * expects both to arrive byte for byte. curl retries refused and failed attempts for a while
 * (the inlet may still be reaching its outlet), without a fixed sleep of our own.
 */
export async function expectCurlThrough(inlet: string, blob: BlobServer): Promise<void> {
  const retry = ['--retry', '20', '--retry-all-errors', '--retry-delay', '1', '--retry-max-time', '60'];
  const head = await exec('curl', ['-sS', '--fail', '-m', '10', ...retry, '--head', `http://${inlet}/`]);
  expect(head.code, head.stderr).toBe(0);
  expect(head.stdout.toString()).toMatch(/^HTTP\/1\.1 200 OK/);
  const down = await exec('curl', ['-sS', '--fail', '-m', '60', ...retry, `http://${inlet}/blob`]);
  expect(down.code, down.stderr).toBe(0);
  expect(down.stdout.length).toBe(blob.size);
  expect(sha256(down.stdout)).toBe(blob.digest);
  const upload = await exec('curl', [
    '-sS',
    '--fail',
    '-m',
    '60',
    ...retry,
    '-H',
    'content-type: application/octet-stream',
    '--data-binary',
    `@${blob.upload.file}`,
    `http://${inlet}/upload`,
  ]);
  expect(upload.code, upload.stderr).toBe(0);
  expect(upload.stdout.toString()).toBe(`${blob.size} ${blob.upload.digest}`);
}

/**
 * psql against an inlet in front of PostgreSQL: a query, a table of 5,000 rows written through
 * the portal, and its digest read back and compared with the same digest computed here.
 */
export async function expectPsqlThrough(inlet: string, table: string): Promise<void> {
  const [host, port] = [inlet.slice(0, inlet.lastIndexOf(':')), inlet.slice(inlet.lastIndexOf(':') + 1)];
  const psql = (sql: string) =>
    exec('psql', [
      '-h',
      host,
      '-p',
      port,
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
    ]);
  // The first connection may race the inlet reaching its outlet: wait for a correct answer.
  await expect
    .poll(async () => (await psql('select 40 + 2')).stdout.toString(), { timeout: 60_000, interval: 500 })
    .toBe('42\n');
  const create = await psql(
    `create table ${table} (id int primary key, v text); insert into ${table} select g, md5(g::text) from generate_series(1, 5000) g`,
  );
  expect(create.code, create.stderr).toBe(0);
  const read = await psql(`select count(*), md5(string_agg(v, ',' order by id)) from ${table}`);
  expect(read.code, read.stderr).toBe(0);
  const rows = Array.from({ length: 5000 }, (_, i) =>
    createHash('md5')
      .update(String(i + 1))
      .digest('hex'),
  );
  const digest = createHash('md5').update(rows.join(',')).digest('hex');
  expect(read.stdout.toString()).toBe(`5000|${digest}\n`);
}

/**
 * `tcp-inlet create` on either side (`to` is what follows: `['--to', route]`, or our `--relay-at`
 * form); resolves with the `host:port` the inlet listens on once it reports its route up.
 *
 * Rust 0.139's `--to` (ockam_command/src/tcp/inlet/create.rs) takes a full route as a multiaddr
 * (`/ip4/…/tcp/…/secure/api/service/outlet`, `/node/n/…`), used as given, or a bare service name
 * (`outlet`, `/service/outlet`), which becomes `/project/<default project>/service/
 * forward_to_<--via or default>/secure/api/service/<name>` and so needs an enrolled project;
 * `--via` with a full route is refused. Ours takes the same, and `--relay-at <route>` in place of
 * the project for the short forms.
 */
export async function createInlet(
  side: Ockam,
  at: string | undefined,
  to: readonly string[],
  alias: string,
  from?: string,
): Promise<string> {
  const args = ['tcp-inlet', 'create', ...(at ? ['--at', at] : []), ...to, '--alias', alias];
  // Both print Ockam's InletStatus (`bind_addr`, `status` "Up"); Rust picks a free port itself
  // when --from is absent, ours is given 127.0.0.1:0.
  const port = from ?? (side.impl === 'ours' ? '127.0.0.1:0' : undefined);
  const i = await side.json<{ bind_addr: string; status: string }>([
    ...args,
    ...(port ? ['--from', port] : []),
  ]);
  expect(i.status.toLowerCase()).toBe('up');
  return i.bind_addr;
}

/** `tcp-outlet create` on either side: the default address (`outlet`), or `from`. */
export function createOutlet(
  side: Ockam,
  at: string | undefined,
  to: string,
  from?: string,
): Promise<string> {
  return side.ok([
    'tcp-outlet',
    'create',
    ...(at ? ['--at', at] : []),
    '--to',
    to,
    ...(from ? ['--from', from] : []),
  ]);
}

/** Waits (up to timeoutMs) until `curl --head` through the inlet answers 200: a route came back. */
export async function waitForHead(inlet: string, timeoutMs = 120_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const r = await exec('curl', ['-s', '-m', '5', '--head', `http://${inlet}/`], 10_000);
        return r.stdout.toString().split('\r\n')[0];
      },
      { timeout: timeoutMs, interval: 1000 },
    )
    .toBe('HTTP/1.1 200 OK');
}

/** Expects a request through the inlet to fail now (the outlet's node is gone). */
export async function expectNoAnswer(inlet: string): Promise<void> {
  const r = await exec('curl', ['-sS', '--fail', '-m', '3', `http://${inlet}/`], 10_000);
  expect(r.code).not.toBe(0);
}
