/**
 * Faults: SIGKILL of each node of a portal topology (client → relay → server), the state directory
 * on a full disk, corrupted database and vault files, and clock jumps. Each must end in a recovery
 * or a clear error: never silently lost data, never a key written in the clear.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toHex } from '@ockam/core';
import { CredentialError, issueCredential, verifyCredential } from '@ockam/credentials';
import { startNodeRuntime } from '@ockam/daemon';
import {
  createIdentity,
  createPurposeKey,
  importIdentity,
  MAX_ALLOWED_TIME_DRIFT,
  verifyPurposeKeyAttestation,
} from '@ockam/identity';
import { Identities, OckamHome, State } from '@ockam/state';
import { createVault } from '@ockam/vault';
import { SqliteKeyStore } from '@ockam/vault/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoServer, EchoStream, echoOnce, startEchoServer } from '../src/echo.js';
import { controlGet, controlPost, OckamEnv } from '../src/ockam.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  let last: unknown;
  while (performance.now() - start < timeoutMs) {
    try {
      return { value: await fn(), ms: performance.now() - start };
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`${what}: not within ${timeoutMs} ms: ${(last as Error)?.message}`);
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(p));
    else if (entry.isFile()) out.push(p);
  }
  return out;
}

/**
 * Every secret key of every vault in OCKAM_HOME, read through the vault's own encrypted store
 * (the Identities API names the vaults and their master-key files).
 */
async function storedSecrets(home: string): Promise<Uint8Array[]> {
  const state = new State(new OckamHome(home));
  try {
    const identities = new Identities(state);
    const secrets: Uint8Array[] = [];
    for (const record of identities.listVaults()) {
      const store = SqliteKeyStore.open({
        database: record.path,
        masterKey: { keyFile: path.join(home, 'vaults', `${record.name}.key`) },
      });
      try {
        for (const { id } of await store.list()) {
          const key = await store.load(id);
          if (key) secrets.push(key.secret);
        }
      } finally {
        store.close();
      }
    }
    return secrets;
  } finally {
    state.close();
  }
}

/** Files under `home` holding any of `secrets` raw or in hex (either case). */
function filesWithSecrets(home: string, secrets: readonly Uint8Array[]): string[] {
  const hits: string[] = [];
  for (const file of filesUnder(home)) {
    const bytes = readFileSync(file);
    const lower = bytes.toString('latin1').toLowerCase();
    for (const s of secrets) {
      if (bytes.indexOf(Buffer.from(s)) >= 0 || lower.includes(toHex(s)))
        hits.push(`${file} holds a secret key`);
    }
  }
  return hits;
}

describe('SIGKILL of each node of a portal topology client → relay → server', () => {
  let env: OckamEnv;
  let echo: EchoServer | undefined;
  beforeAll(() => {
    env = new OckamEnv();
  });
  afterAll(async () => {
    await echo?.close();
    await env?.dispose();
  });

  it('loses no data silently and recovers once the killed node is started again', async () => {
    echo = await startEchoServer();
    const inletPort = await freePort();
    for (const n of ['srv', 'rly', 'cli']) await env.ok(['node', 'create', n]);
    await env.ok(['tcp-outlet', 'create', '--at', 'srv', '--to', `127.0.0.1:${echo.port}`]);
    await env.ok(['relay', 'create', 'srv', '--to', 'srv', '--at', '/node/rly']);
    await env.ok([
      'tcp-inlet',
      'create',
      '--at',
      'cli',
      '--from',
      `127.0.0.1:${inletPort}`,
      // Ockam's meaning: --to names the outlet, --via the relay it is reached through.
      '--to',
      'outlet',
      '--via',
      'srv',
      '--relay-at',
      '/node/rly',
    ]);
    const probe = Buffer.from('probe through client, relay and server');
    await waitFor('first echo through the portal', 30_000, () => echoOnce(inletPort, probe, 5000));

    for (const victim of ['srv', 'rly', 'cli']) {
      const streams = Array.from({ length: 20 }, () => new EchoStream(inletPort, 16 * 1024));
      await Promise.all(streams.map((s) => s.ready));
      for (const s of streams) s.start();
      await new Promise((r) => setTimeout(r, 1500));
      const { pid } = await env.json<{ pid: number }>(['node', 'show', victim]);
      process.kill(pid, 'SIGKILL');
      const killedAt = performance.now();
      // Each transfer either completes with every byte checked, or its connection is closed: a
      // connection left open with bytes that never come back would be data lost silently.
      const results = await Promise.all(streams.map((s) => s.finish(75_000)));
      const settledMs = performance.now() - killedAt;
      const intact = results.filter((r) => r.intact).length;
      const closed = results.filter((r) => !r.intact && r.error !== undefined && r.closedByPeer).length;
      const silent = results.filter((r) => !r.intact && !r.closedByPeer);
      const bytes = results.reduce((n, r) => n + r.received, 0);

      const shown = await env.run(['node', 'show', victim, '--output', 'json']);
      const started = await env.run(['node', 'start', victim]);
      const recovered = await waitFor(`echo after restarting ${victim}`, 90_000, () =>
        echoOnce(inletPort, probe, 5000),
      );
      console.log(
        `FAULT SIGKILL ${victim}: ${intact} transfers complete and intact, ${closed} closed visibly, ${silent.length} silently stalled; ` +
          `${(bytes / 1024 / 1024).toFixed(1)} MiB echoed; settled ${(settledMs / 1000).toFixed(1)} s after the kill; ` +
          `status after kill: ${shown.code === 0 ? JSON.parse(shown.stdout).status : shown.stderr.trim()}; ` +
          `'node start' exit ${started.code}; portal back ${(recovered.ms / 1000).toFixed(1)} s after it`,
      );
      for (const r of silent) console.log(`  silent: sent ${r.sent}, received ${r.received}: ${r.error}`);
      expect(silent).toEqual([]);
      expect(started.code, started.stderr).toBe(0);
      expect(Buffer.from(recovered.value).equals(probe)).toBe(true);
    }
  });
});

describe('the state directory on a full disk', () => {
  it('makes commands fail with a clear error and leaves the state readable once space is back', async (ctx) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ockam-full-'));
    let mounted = false;
    const env = new OckamEnv(path.join(dir, 'home'));
    try {
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
        mounted = true;
      } catch (e) {
        console.log(
          `FAULT full disk: skipped, cannot mount a tmpfs here: ${(e as Error).message.split('\n')[0]}`,
        );
        ctx.skip();
        return;
      }
      await env.ok(['node', 'create', 'n1']);
      await env.ok(['node', 'stop', 'n1']);
      const filler = path.join(dir, 'filler');
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(64 * 1024, 0xaa);
      let filled = 0;
      try {
        for (;;) filled += writeSync(fd, block);
      } catch {
        // ENOSPC: the disk is full.
      }
      try {
        for (;;) filled += writeSync(fd, block.subarray(0, 512));
      } catch {
        // ENOSPC at byte granularity too.
      }
      closeSync(fd);
      const db = path.join(env.home, 'database.sqlite3');
      const before = sha256(db);

      const results: Array<[string, { code: number; stderr: string }]> = [];
      for (const args of [
        ['node', 'create', 'n2'],
        ['identity', 'create', 'alice'],
        ['vault', 'create', 'v2'],
        ['node', 'start', 'n1'],
      ]) {
        results.push([args.join(' '), await env.run(args, { timeoutMs: 60_000 })]);
      }
      for (const [cmd, r] of results)
        console.log(
          `FAULT full disk: 'ockam ${cmd}' exit ${r.code}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`,
        );
      const failed = results.filter(([, r]) => r.code !== 0);
      // At least the commands that must write fail, each with a one-line reason and no stack trace.
      expect(failed.length).toBeGreaterThan(0);
      for (const [cmd, r] of failed) {
        expect(r.stderr.trim().length, cmd).toBeGreaterThan(0);
        expect(r.stderr, cmd).not.toMatch(/^\s+at /m);
      }

      // Space back: the state is intact and usable.
      rmSync(filler);
      const list = await env.run(['node', 'list', '--output', 'json']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toContain('"n1"');
      const again = await env.run(['node', 'create', 'n3']);
      expect(again.code, again.stderr).toBe(0);
      const send = await env.run(['message', 'send', 'hi', '--to', '/node/n3/service/uppercase']);
      expect(send.stdout.trim()).toBe('HI');
      console.log(
        `FAULT full disk: ${(filled / 1024).toFixed(0)} KiB filler filled a 4 MiB tmpfs; database ${before === sha256(db) ? 'unchanged while full' : 'changed while full'}; after freeing space the state lists n1 and a new node answers`,
      );
    } finally {
      await env.run(['node', 'delete', '--all']).catch(() => undefined);
      if (mounted) execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('corrupted state files', () => {
  it('a corrupted database gives a clear error and is not overwritten', async () => {
    const env = new OckamEnv();
    try {
      await env.ok(['node', 'create', 'n1']);
      await env.ok(['node', 'stop', 'n1']);
      const db = path.join(env.home, 'database.sqlite3');
      const wal = `${db}-wal`;
      // Garbage over the header and the first pages, in the main file and in any WAL.
      for (const file of [db, wal]) {
        if (!existsSync(file) || statSync(file).size === 0) continue;
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.alloc(Math.min(8192, statSync(file).size), 0x5a), 0, undefined, 0);
        closeSync(fd);
      }
      const before = sha256(db);
      const results = [];
      for (const args of [
        ['node', 'list'],
        ['node', 'start', 'n1'],
        ['node', 'create', 'n2'],
        ['identity', 'list'],
      ]) {
        const r = await env.run(args);
        results.push(r);
        console.log(
          `FAULT corrupted database: 'ockam ${args.join(' ')}' exit ${r.code}: ${r.stderr.trim().split('\n').slice(0, 2).join(' | ')}`,
        );
        expect(r.code, args.join(' ')).not.toBe(0);
        expect(r.stderr.trim().length).toBeGreaterThan(0);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      }
      expect(sha256(db)).toBe(before);
    } finally {
      await env.run(['node', 'delete', '--all']).catch(() => undefined);
      rmSync(env.home, { recursive: true, force: true });
    }
  });

  it('a corrupted vault file gives a clear error, is not overwritten, and no key is ever written in the clear', async () => {
    const env = new OckamEnv();
    try {
      // The first vault keeps its keys in the main database; the second is a file of its own,
      // which this test corrupts, holding the keys of the node's identity.
      await env.ok(['vault', 'create', 'main']);
      await env.ok(['vault', 'create', 'file']);
      await env.ok(['identity', 'create', 'alice', '--vault', 'file']);
      await env.ok(['node', 'create', 'n1', '--identity', 'alice']);
      await env.ok(['node', 'stop', 'n1']);
      const secrets = await storedSecrets(env.home);
      expect(secrets.length).toBeGreaterThanOrEqual(2);
      const leaks = filesWithSecrets(env.home, secrets);
      const vaultFiles = filesUnder(path.join(env.home, 'vaults')).filter(
        (f) => !f.endsWith('.key') && !/-(wal|shm)$/.test(f),
      );
      expect(vaultFiles.length).toBeGreaterThan(0);
      const vaultFile = vaultFiles[0]!;
      const size = statSync(vaultFile).size;
      // Flip bytes all over the file past its header: pages of keys and of the schema.
      const fd = openSync(vaultFile, 'r+');
      for (let o = 100; o < size; o += 997) writeSync(fd, Buffer.of(0xff, 0x00, 0x13), 0, 3, o);
      closeSync(fd);
      const before = sha256(vaultFile);
      const start = await env.run(['node', 'start', 'n1']);
      const show = await env.run(['identity', 'show', 'alice']);
      const create = await env.run(['identity', 'create', 'bob']);
      for (const [cmd, r] of [
        ['node start n1', start],
        ['identity show alice', show],
        ['identity create bob', create],
      ] as const) {
        console.log(
          `FAULT corrupted vault: 'ockam ${cmd}' exit ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 2).join(' | ')}`,
        );
        expect(r.stderr).not.toMatch(/^\s+at /m);
      }
      // Starting a node needs its identity's key: that must fail clearly, not create a new vault over it.
      expect(start.code).not.toBe(0);
      expect(start.stderr.trim().length).toBeGreaterThan(0);
      expect(sha256(vaultFile)).toBe(before);
      console.log(
        `FAULT secrets: ${secrets.length} stored keys searched raw and in hex in ${filesUnder(env.home).length} files: ${leaks.length} found`,
      );
      expect(leaks).toEqual([]);
    } finally {
      await env.run(['node', 'delete', '--all']).catch(() => undefined);
      rmSync(env.home, { recursive: true, force: true });
    }
  });
});

describe('clock jumps', () => {
  it('identities, purpose keys and credentials give clear errors for times far ahead or behind', async () => {
    const vault = createVault('node');
    const now = Math.floor(Date.now() / 1000);
    const authority = await createIdentity(vault, { now });
    const member = await createIdentity(vault, { now });
    const signing = await createPurposeKey(vault, authority, 'credential-signing', { now });
    const credential = await issueCredential({
      vault,
      issuer: authority,
      purposeKey: signing,
      subject: member,
      attributes: { role: 'member' },
      ttlSeconds: 3600,
      now,
    });
    const outcomes: string[] = [];
    for (const [label, t] of [
      ['now', now],
      ['1 minute behind', now - 60],
      ['1 day behind', now - 86_400],
      ['10 years behind', now - 10 * 365 * 86_400],
      ['2 hours ahead', now + 7200],
      ['100 years ahead', now + 100 * 365 * 86_400],
    ] as const) {
      let verdict: string;
      try {
        verifyCredential(credential, { trustedAuthorities: [authority], now: t });
        verdict = 'valid';
      } catch (e) {
        expect(e).toBeInstanceOf(CredentialError);
        verdict = (e as Error).message;
      }
      let pk: string;
      try {
        verifyPurposeKeyAttestation(signing.encoded, authority, { now: t });
        pk = 'valid';
      } catch (e) {
        pk = (e as Error).message;
      }
      outcomes.push(`${label}: credential ${verdict}; purpose key ${pk}`);
      if (label === 'now' || label === '1 minute behind') expect(verdict).toBe('valid');
      if (
        label === '2 hours ahead' ||
        label === '1 day behind' ||
        label === '10 years behind' ||
        label === '100 years ahead'
      )
        expect(verdict).not.toBe('valid');
    }
    // The identity itself re-imports whatever the clock says (its attestations are checked against MAX_ALLOWED_TIME_DRIFT).
    expect(importIdentity(authority.export()).identifier).toBe(authority.identifier);
    for (const o of outcomes) console.log(`FAULT clock: ${o}`);
    console.log(`FAULT clock: MAX_ALLOWED_TIME_DRIFT ${MAX_ALLOWED_TIME_DRIFT} s`);
  });

  it('a running node keeps its secure channels and portals working across Date.now() jumps', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ockam-clock-'));
    const realNow = Date.now.bind(Date);
    let offset = 0;
    Date.now = () => realNow() + offset;
    const home = new OckamHome(root);
    home.ensure();
    const state = new State(home);
    const runtimes: Array<Awaited<ReturnType<typeof startNodeRuntime>>> = [];
    let echo: EchoServer | undefined;
    try {
      const session = { pingIntervalMs: 500, maxMissedPings: 3, retryInitialMs: 100, retryMaxMs: 1000 };
      state.createNode('a');
      state.createNode('b');
      const a = await startNodeRuntime({ home, state, name: 'a', session });
      runtimes.push(a);
      const b = await startNodeRuntime({ home, state, name: 'b', session });
      runtimes.push(b);
      echo = await startEchoServer();
      const conn = await controlPost<{ senderAddress: string }>(a.socketPath, '/tcp-connections', {
        to: b.tcpListenerAddress,
      });
      const channel = await controlPost<{ address: string }>(a.socketPath, '/secure-channels', {
        route: [`0#${conn.senderAddress}`, '0#api'],
      });
      await controlPost(b.socketPath, '/tcp-outlets', { to: `127.0.0.1:${echo.port}` });
      const inlet = await controlPost<{ bound: string }>(a.socketPath, '/tcp-inlets', {
        name: 'i1',
        from: '127.0.0.1:0',
        to: `/ip4/${b.tcpListenerAddress.split(':')[0]}/tcp/${b.tcpListenerAddress.split(':')[1]}/secure/api/service/outlet`,
      });
      const inletPort = Number(inlet.bound.split(':').pop());
      const exercise = async (label: string) => {
        const payload = Buffer.from(`at ${label}`).toString('hex');
        const reply = await controlPost<{ payloadHex: string }>(a.socketPath, '/messages', {
          route: [channel.address, '0#echo'],
          payloadHex: payload,
          timeoutMs: 5000,
        });
        expect(reply.payloadHex).toBe(payload);
        const data = Buffer.from(`portal at ${label}`);
        const back = await echoOnce(inletPort, data, 5000);
        expect(Buffer.from(back).equals(data)).toBe(true);
      };
      await waitFor('portal up', 15_000, () => exercise('start'));
      const jumps: Array<[string, number]> = [
        ['+1 hour', 3600_000],
        ['+1 day', 86_400_000],
        ['back to −1 hour', -3600_000],
        ['back to −1 day', -86_400_000],
        ['the real time', 0],
      ];
      for (const [label, to] of jumps) {
        offset = to;
        // Several ping intervals pass at the new time: sessions must not declare the route dead.
        await new Promise((r) => setTimeout(r, 2000));
        await exercise(label);
      }
      const inlets = await controlGet<{ status: string; reconnects: number }>(a.socketPath, '/tcp-inlets/i1');
      console.log(
        `FAULT clock: Date.now() jumped +1 h, +1 day, −1 h, −1 day and back; secure channel and portal answered after each; inlet ${JSON.stringify(inlets)}`,
      );
      // The jumps did not make the inlet's session think its route had died.
      expect(inlets.status).toBe('up');
      expect(inlets.reconnects).toBe(0);
    } finally {
      Date.now = realNow;
      for (const r of runtimes.reverse()) await r.stop();
      await echo?.close();
      state.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
