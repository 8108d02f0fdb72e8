/**
 * What only the SQLite store has: the CLI's database and its migration, and better-sqlite3 as an
 * optional dependency that is loaded when a SQLite store opens, with an error that says how to
 * get it when it is missing or its native addon is.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { OckamHome } from '../src/home.js';
import { openSqliteDatabase, STATEMENT_CACHE_SIZE } from '../src/sqlite-loader.js';
import { sqliteStateStore } from '../src/sqlite-store.js';
import { State } from '../src/state.js';
import { SqliteMemberStore } from '../src/trust-stores.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ockam-state-sqlite-'));
  dirs.push(d);
  return d;
}

describe('the SQLite state database', () => {
  it('prepares each SQL string once, keeps a bounded number of statements, and sees later schema changes', () => {
    const db = openSqliteDatabase(join(tempDir(), 'cache.sqlite'));
    try {
      db.exec('CREATE TABLE t (a INTEGER)');
      const first = db.prepare('SELECT * FROM t');
      expect(db.prepare('SELECT * FROM t')).toBe(first);
      db.prepare('INSERT INTO t (a) VALUES (?)').run(1);
      db.exec('ALTER TABLE t ADD COLUMN b INTEGER DEFAULT 7');
      expect(db.prepare('SELECT * FROM t').get()).toEqual({ a: 1, b: 7 });
      // SQL built at run time fills the cache; it empties and starts again rather than growing.
      for (let i = 0; i <= STATEMENT_CACHE_SIZE; i++) db.prepare(`SELECT ${i} AS n`).get();
      expect(db.prepare('SELECT * FROM t')).not.toBe(first);
    } finally {
      db.close();
    }
  });

  it('migrates a database whose identities and resources had foreign keys, keeping rows and order', () => {
    const dir = tempDir();
    const home = new OckamHome(dir);
    home.ensure();
    // The tables as schema version 5 made them (only those migration 6 rebuilds, their parents, and
    // those later migrations alter).
    const db = openSqliteDatabase(home.databasePath);
    db.exec(`
      CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (5);
      CREATE TABLE node (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,
        options TEXT NOT NULL DEFAULT '{}', pid INTEGER, tcp_listener_address TEXT, started_at INTEGER, stopped_at INTEGER, identity_name TEXT);
      CREATE TABLE vault (name TEXT PRIMARY KEY);
      CREATE TABLE authority_member (authority TEXT NOT NULL, identifier TEXT NOT NULL, attributes TEXT NOT NULL,
        added_by TEXT NOT NULL, added_at INTEGER NOT NULL, pre_trusted INTEGER NOT NULL, PRIMARY KEY (authority, identifier));
      CREATE TABLE identity (name TEXT PRIMARY KEY, identifier TEXT NOT NULL, vault_name TEXT NOT NULL REFERENCES vault(name),
        change_history BLOB NOT NULL, is_default INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
      CREATE TABLE node_resource (node_name TEXT NOT NULL REFERENCES node(name) ON DELETE CASCADE, kind TEXT NOT NULL,
        name TEXT NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (node_name, kind, name));
      INSERT INTO vault VALUES ('v');
      INSERT INTO node (name, created_at, is_default) VALUES ('n1', 1, 1);
      INSERT INTO identity VALUES ('alice', 'Iab', 'v', x'0102', 1, 7);
      INSERT INTO node_resource VALUES ('n1', 'relay', 'second', '{"b":2}', 20), ('n1', 'tcp-outlet', 'first', '{"a":1}', 10);
    `);
    db.close();

    const state = new State(home);
    try {
      const store = sqliteStateStore(state);
      expect(store.identities.get('alice')).toMatchObject({
        identifier: 'Iab',
        vaultName: 'v',
        isDefault: true,
      });
      expect(state.listResources('n1').map((r) => r.name)).toEqual(['first', 'second']);
      // No foreign keys now: a library's identity needs no vault row, its resources no node row.
      store.identities.create({
        name: 'bob',
        identifier: 'Icd',
        vaultName: 'elsewhere',
        changeHistory: Uint8Array.of(3),
        isDefault: false,
        createdAt: 8,
      });
      store.resources.put('no-such-node', 'relay', 'r', {});
      // Deleting a node still deletes its resources (in the same transaction, not by cascade).
      state.deleteNode('n1');
      expect(state.listResources('n1')).toEqual([]);
      expect(state.listResources('no-such-node')).toHaveLength(1);
    } finally {
      state.close();
    }
  });

  it('two threads upserting one key and racing for one token on one database file agree', async () => {
    // Real concurrency: each worker has its own connection; SQLite serialises their writes.
    const dir = tempDir();
    const setup = sqliteStateStore(dir);
    setup.resources.put('n', 'relay', 'first', {});
    setup.resources.put('n', 'relay', 'k', { v: -1 });
    setup.resources.put('n', 'relay', 'last', {});
    setup.tokens('Iauth').storeToken({
      oneTimeCode: new Uint8Array(32).fill(5),
      reference: 'r',
      issuedBy: 'Iauth',
      createdAt: 0,
      expiresAt: 10_000,
      ttlCount: 50,
      attributes: new Map(),
    });
    setup.close();
    const worker = (id: number) =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(
          `const { parentPort, workerData } = require('node:worker_threads');
           import('@ockam/state').then(({ sqliteStateStore }) => {
             const store = sqliteStateStore(workerData.dir);
             let used = 0;
             for (let i = 0; i < 200; i++) {
               store.resources.put('n', 'relay', 'k', { v: workerData.id * 1000 + i });
               store.members('Iauth').addMember({ identifier: 'Ialice', attributes: new Map(), addedBy: 'Iauth', addedAt: i, preTrusted: false });
               if (store.tokens('Iauth').useToken(new Uint8Array(32).fill(5), 1)) used++;
             }
             store.close();
             parentPort.postMessage(used);
           }, (e) => { throw e; });`,
          { eval: true, workerData: { dir, id } },
        );
        w.once('message', resolve);
        w.once('error', reject);
      });
    const used = await Promise.all([worker(1), worker(2)]);
    expect(used[0]! + used[1]!).toBe(50);
    const check = sqliteStateStore(dir);
    try {
      const listed = check.resources.list('n');
      expect(listed.map((r) => r.name)).toEqual(['first', 'k', 'last']);
      expect([1199, 2199]).toContain((listed[1]!.config as { v: number }).v);
      expect(check.members('Iauth').listMembers()).toHaveLength(1);
    } finally {
      check.close();
    }
  });

  it("setNodeOptions replaces a node's options, and refuses a node that does not exist", () => {
    const state = new State(new OckamHome(tempDir()));
    try {
      state.createNode('n', { identity: 'a', keep: 1 });
      state.setNodeOptions('n', { identity: 'b' });
      expect(state.requireNode('n').options).toEqual({ identity: 'b' });
      expect(() => state.setNodeOptions('missing', {})).toThrow(
        expect.objectContaining({ kind: 'not-found' }),
      );
    } finally {
      state.close();
    }
  });

  it('refuses a member expiry that is not whole seconds', () => {
    const state = new State(new OckamHome(tempDir()));
    try {
      const members = new SqliteMemberStore(state, 'Iauthority');
      const m = {
        identifier: 'Ieve',
        attributes: new Map(),
        addedBy: 'Iauthority',
        addedAt: 5,
        preTrusted: false,
      };
      expect(() => members.addMember({ ...m, expiresAt: 1.5 })).toThrow(/expiry/);
    } finally {
      state.close();
    }
  });
});

describe('better-sqlite3 is optional', () => {
  it('a missing package is a StateError that says it is not installed and how to install it', () => {
    // In a child without pnpm's NODE_PATH (which would find it in the store), resolving from a
    // directory with no node_modules, as for a user whose install dropped it.
    const dir = tempDir();
    const loader = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'sqlite-loader.js')).href;
    const program = `
      const { loadBetterSqlite3 } = await import(${JSON.stringify(loader)});
      try { loadBetterSqlite3(${JSON.stringify(pathToFileURL(join(dir, 'x.js')).href)}); console.log('{}'); }
      catch (e) { console.log(JSON.stringify({ kind: e.kind, message: e.message })); }`;
    const { NODE_PATH: _, ...env } = process.env;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', program], { env, encoding: 'utf8' });
    const e = JSON.parse(r.stdout) as { kind?: string; message?: string };
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(/optional package better-sqlite3, which is not installed/);
    expect(e.message).toMatch(/npm install better-sqlite3 --foreground-scripts/);
  });

  it("an installed package without its native addon is a StateError that says how to see the compiler's error", () => {
    // better-sqlite3 as a failed or skipped build leaves it: its JavaScript, no build/ directory.
    const real = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
    const dir = tempDir();
    const copy = join(dir, 'node_modules', 'better-sqlite3');
    mkdirSync(copy, { recursive: true });
    cpSync(join(real, 'lib'), join(copy, 'lib'), { recursive: true });
    cpSync(join(real, 'package.json'), join(copy, 'package.json'));
    symlinkSync(realpathSync(join(real, '..', 'bindings')), join(dir, 'node_modules', 'bindings'));
    writeFileSync(join(dir, 'x.js'), '');
    let error: { kind?: string; message: string } | undefined;
    try {
      openSqliteDatabase(':memory:', {}, pathToFileURL(join(dir, 'x.js')));
    } catch (e) {
      error = e as { kind?: string; message: string };
    }
    expect(error?.kind).toBe('unsupported');
    expect(error?.message).toMatch(/native addon does not load \(Could not locate the bindings file/);
    expect(error?.message).toMatch(/npm rebuild better-sqlite3 --foreground-scripts/);
    expect(error?.message).toContain(process.version);
  });

  it('the package imports, and its in-memory store works, with better-sqlite3 unresolvable by import', () => {
    // A resolve hook refuses better-sqlite3 to every `import`: nothing in the entry's graph may
    // import it statically (the SQLite store requires it when it opens).
    const hook = `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === 'better-sqlite3') throw Object.assign(new Error('better-sqlite3 is not installed'), { code: 'ERR_MODULE_NOT_FOUND' });
        return next(specifier, context);
      }`)}`;
    const register = `data:text/javascript,${encodeURIComponent(
      `import { register } from 'node:module'; register(${JSON.stringify(hook)});`,
    )}`;
    const program = `
      const { memoryStateStore } = await import('@ockam/state');
      const store = memoryStateStore();
      await store.resources.put('n', 'relay', 'r', { ok: true });
      console.log(JSON.stringify(await store.resources.list('n')));`;
    const r = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', program], {
      cwd: join(import.meta.dirname, '..'),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([{ kind: 'relay', name: 'r', config: { ok: true } }]);
  });
});
