import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OckamError } from '@ockam/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVault } from '../src/index.js';
import { SqliteKeyStore } from '../src/sqlite.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ockam-vault-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string) => statSync(file).mode & 0o777;

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack).indexOf(Buffer.from(needle)) !== -1;
}

describe('SqliteKeyStore', () => {
  it('keeps keys across reopening, with a key file and database private to the user', async () => {
    const database = path.join(dir, 'state', 'vault.db');
    const keyFile = path.join(dir, 'keys', 'vault.key');
    const store = SqliteKeyStore.open({ database, masterKey: { keyFile } });
    const vault = createVault('node', { store });
    const signing = await vault.generateSigningKey('ed25519');
    const staticKey = await vault.generateX25519();
    const signature = await vault.sign(signing, new Uint8Array(32));
    store.close();

    expect(mode(keyFile)).toBe(0o600);
    expect(mode(path.dirname(keyFile))).toBe(0o700);
    expect(mode(database)).toBe(0o600);
    expect(mode(path.dirname(database))).toBe(0o700);

    const reopened = SqliteKeyStore.open({ database, masterKey: { keyFile } });
    const again = createVault('noble', { store: reopened });
    expect(await again.getKey(signing.id)).toEqual(signing);
    expect(await again.sign(signing, new Uint8Array(32))).toEqual(signature);
    expect(await again.getKey(staticKey.id)).toEqual(staticKey);
    expect((await reopened.list()).length).toBe(2);
    reopened.close();
  });

  it('never writes plaintext secrets or ephemeral keys to the database file', async () => {
    const database = path.join(dir, 'vault.db');
    const store = SqliteKeyStore.open({ database, masterKey: { keyFile: path.join(dir, 'vault.key') } });
    const vault = createVault('node', { store });
    const secrets: Uint8Array[] = [];
    for (const type of ['ed25519', 'p256'] as const)
      secrets.push(await vault.exportSecretKey(await vault.generateSigningKey(type)));
    secrets.push(await vault.exportSecretKey(await vault.generateX25519()));
    const ephemeral = await vault.generateX25519({ ephemeral: true });
    secrets.push(await vault.exportSecretKey(ephemeral));
    expect((await store.list()).length).toBe(3);
    store.close();
    for (const file of readdirSync(dir).filter((f) => f.startsWith('vault.db'))) {
      const bytes = readFileSync(path.join(dir, file));
      for (const secret of secrets) expect(contains(bytes, secret)).toBe(false);
    }
  });

  it('derives the master key from a passphrase in an environment variable', async () => {
    const database = path.join(dir, 'vault.db');
    process.env.OCKAM_TEST_VAULT_PASSPHRASE = 'correct horse battery staple';
    const store = SqliteKeyStore.open({
      database,
      masterKey: { passphraseEnv: 'OCKAM_TEST_VAULT_PASSPHRASE' },
    });
    const key = await createVault('node', { store }).generateSigningKey('p256');
    store.close();

    const reopened = SqliteKeyStore.open({
      database,
      masterKey: { passphraseEnv: 'OCKAM_TEST_VAULT_PASSPHRASE' },
    });
    expect(await createVault('node', { store: reopened }).getKey(key.id)).toEqual(key);
    reopened.close();

    process.env.OCKAM_TEST_VAULT_PASSPHRASE = 'wrong horse';
    expect(() =>
      SqliteKeyStore.open({ database, masterKey: { passphraseEnv: 'OCKAM_TEST_VAULT_PASSPHRASE' } }),
    ).toThrow(/wrong master key/);
    delete process.env.OCKAM_TEST_VAULT_PASSPHRASE;
    expect(() =>
      SqliteKeyStore.open({ database, masterKey: { passphraseEnv: 'OCKAM_TEST_VAULT_PASSPHRASE' } }),
    ).toThrow(/holds no vault passphrase/);
  });

  it('fails with a typed error on a wrong master key and leaves the store unchanged', async () => {
    const database = path.join(dir, 'vault.db');
    const store = SqliteKeyStore.open({ database, masterKey: { key: new Uint8Array(32).fill(1) } });
    const key = await createVault('node', { store }).generateSigningKey('ed25519');
    store.close();
    const before = readFileSync(database);

    let error: unknown;
    try {
      SqliteKeyStore.open({ database, masterKey: { key: new Uint8Array(32).fill(2) } });
    } catch (e) {
      error = e;
    }
    expect(OckamError.isKind(error, 'permission', 'vault')).toBe(true);
    expect((error as Error).message).toMatch(/wrong master key/);
    expect(readFileSync(database)).toEqual(before);

    const good = SqliteKeyStore.open({ database, masterKey: { key: new Uint8Array(32).fill(1) } });
    expect(await createVault('node', { store: good }).getKey(key.id)).toEqual(key);
    good.close();
  });

  it('refuses to create a new key file for a store that already has keys', () => {
    const database = path.join(dir, 'vault.db');
    const keyFile = path.join(dir, 'vault.key');
    SqliteKeyStore.open({ database, masterKey: { keyFile } }).close();
    rmSync(keyFile);
    expect(() => SqliteKeyStore.open({ database, masterKey: { keyFile } })).toThrow(/does not exist/);
  });

  it('refuses a key file that other users can read', () => {
    const keyFile = path.join(dir, 'vault.key');
    writeFileSync(keyFile, new Uint8Array(32), { mode: 0o644 });
    expect(() =>
      SqliteKeyStore.open({ database: path.join(dir, 'vault.db'), masterKey: { keyFile } }),
    ).toThrow(/readable by other users/);
  });

  it('reports a corrupted row with a typed error', async () => {
    const db = new Database(path.join(dir, 'vault.db'));
    const store = SqliteKeyStore.open({ database: db, masterKey: { key: new Uint8Array(32).fill(9) } });
    const key = await createVault('node', { store }).generateSigningKey('ed25519');
    const row = db.prepare('SELECT secret FROM vault_key WHERE id = ?').get(key.id) as { secret: Buffer };
    row.secret[0]! ^= 0x01;
    db.prepare('UPDATE vault_key SET secret = ? WHERE id = ?').run(row.secret, key.id);
    const vault = createVault('node', { store });
    await expect(vault.getKey(key.id)).rejects.toSatisfy(
      (e) => OckamError.isKind(e, 'invalid', 'vault') && /cannot be decrypted/.test((e as Error).message),
    );
    store.close();
    expect(db.open).toBe(true); // a database passed in stays the caller's to close
    db.close();
  });

  it('detects a row moved to another key id', async () => {
    const db = new Database(':memory:');
    const store = SqliteKeyStore.open({ database: db, masterKey: { key: new Uint8Array(32).fill(4) } });
    const vault = createVault('node', { store });
    const a = await vault.generateSigningKey('ed25519');
    const b = await vault.generateSigningKey('ed25519');
    const rowA = db.prepare('SELECT nonce, secret FROM vault_key WHERE id = ?').get(a.id) as {
      nonce: Buffer;
      secret: Buffer;
    };
    db.prepare('UPDATE vault_key SET nonce = ?, secret = ? WHERE id = ?').run(rowA.nonce, rowA.secret, b.id);
    await expect(createVault('node', { store }).getKey(b.id)).rejects.toThrow(/cannot be decrypted/);
    store.close();
    db.close();
  });

  it('refuses a row whose key type was changed in the database', async () => {
    const db = new Database(':memory:');
    const store = SqliteKeyStore.open({ database: db, masterKey: { key: new Uint8Array(32).fill(5) } });
    const vault = createVault('node', { store });
    const signing = await vault.generateSigningKey('ed25519');
    const staticKey = await vault.generateX25519();
    db.prepare('UPDATE vault_key SET type = ? WHERE id = ?').run('x25519', signing.id);
    db.prepare('UPDATE vault_key SET type = ? WHERE id = ?').run('ed25519', staticKey.id);
    for (const id of [signing.id, staticKey.id])
      await expect(createVault('node', { store }).getKey(id)).rejects.toSatisfy(
        (e) => OckamError.isKind(e, 'invalid', 'vault') && /cannot be decrypted/.test((e as Error).message),
      );
    db.prepare('UPDATE vault_key SET type = ? WHERE id = ?').run('ed25519', signing.id);
    expect(await createVault('node', { store }).getKey(signing.id)).toEqual(signing);
    store.close();
    db.close();
  });

  describe('a store written before schema 2 (AAD = key id alone)', () => {
    const fixtures = new URL('./fixtures/', import.meta.url);
    const written = JSON.parse(readFileSync(new URL('vault-schema-1.json', fixtures), 'utf8')) as {
      masterKeyByte: number;
      keys: Array<{ id: string; type: string; secret: string }>;
    };
    const masterKey = { key: new Uint8Array(32).fill(written.masterKeyByte) };
    const [ed25519, p256, x25519] = written.keys as [
      (typeof written.keys)[0],
      (typeof written.keys)[0],
      (typeof written.keys)[0],
    ];
    const copy = (): string => {
      const database = path.join(dir, 'old.sqlite3');
      copyFileSync(new URL('vault-schema-1.sqlite3', fixtures), database);
      return database;
    };
    const rows = (database: string) => {
      const db = new Database(database, { readonly: true });
      const all = db.prepare('SELECT id, type, nonce, secret FROM vault_key ORDER BY id').all() as Array<{
        id: string;
        type: string;
        nonce: Buffer;
        secret: Buffer;
      }>;
      const schema = db.prepare("SELECT value FROM vault_meta WHERE name = 'schema'").get() as
        | { value: Buffer }
        | undefined;
      db.close();
      return { all, schema: schema?.value.toString() };
    };

    it('opens, is migrated once to type-bound AAD, and keeps every key', async () => {
      const database = copy();
      const before = rows(database);
      expect(before.schema).toBeUndefined();
      const store = SqliteKeyStore.open({ database, masterKey });
      const vault = createVault('node', { store });
      for (const key of written.keys) {
        const loaded = await vault.getKey(key.id);
        expect(loaded?.type).toBe(key.type);
        expect(Buffer.from(await vault.exportSecretKey(loaded!)).toString('hex')).toBe(key.secret);
      }
      store.close();
      const after = rows(database);
      expect(after.schema).toBe('2');
      expect(after.all.map(({ id, type }) => ({ id, type }))).toEqual(
        before.all.map(({ id, type }) => ({ id, type })),
      );
      after.all.forEach((row, i) => {
        expect(row.nonce.equals(before.all[i]!.nonce)).toBe(false); // sealed again, under a new nonce
      });
      // Opening again changes nothing: the migration ran once.
      SqliteKeyStore.open({ database, masterKey }).close();
      expect(rows(database).all).toEqual(after.all);
    });

    it('after migration, a row whose type was swapped fails to decrypt, and so does a row in the old format', async () => {
      const database = copy();
      const old = rows(database).all;
      SqliteKeyStore.open({ database, masterKey }).close();
      const db = new Database(database);
      db.prepare('UPDATE vault_key SET type = ? WHERE id = ?').run('x25519', ed25519.id);
      // The old row of the p256 key, put back as it was before the migration: never read with the old AAD.
      const oldP256 = old.find((row) => row.id === p256.id)!;
      db.prepare('UPDATE vault_key SET nonce = ?, secret = ? WHERE id = ?').run(
        oldP256.nonce,
        oldP256.secret,
        p256.id,
      );
      db.close();
      const store = SqliteKeyStore.open({ database, masterKey });
      const vault = createVault('node', { store });
      for (const id of [ed25519.id, p256.id])
        await expect(vault.getKey(id)).rejects.toSatisfy(
          (e) => OckamError.isKind(e, 'invalid', 'vault') && /cannot be decrypted/.test((e as Error).message),
        );
      expect((await vault.getKey(x25519.id))?.type).toBe('x25519');
      store.close();
    });

    it('migrates the readable rows and leaves a corrupted one unreadable', async () => {
      const database = copy();
      const db = new Database(database);
      const row = db.prepare('SELECT secret FROM vault_key WHERE id = ?').get(p256.id) as { secret: Buffer };
      row.secret[0]! ^= 1;
      db.prepare('UPDATE vault_key SET secret = ? WHERE id = ?').run(row.secret, p256.id);
      db.close();
      const store = SqliteKeyStore.open({ database, masterKey });
      const vault = createVault('node', { store });
      await expect(vault.getKey(p256.id)).rejects.toThrow(/cannot be decrypted/);
      for (const key of [ed25519, x25519]) expect((await vault.getKey(key.id))?.type).toBe(key.type);
      store.close();
      expect(rows(database).schema).toBe('2');
    });

    it('is not opened by a wrong master key, and a store of a newer schema is refused', () => {
      const database = copy();
      const bytes = readFileSync(database);
      expect(() => SqliteKeyStore.open({ database, masterKey: { key: new Uint8Array(32).fill(8) } })).toThrow(
        /wrong master key/,
      );
      expect(readFileSync(database)).toEqual(bytes);
      const db = new Database(database);
      db.prepare("INSERT INTO vault_meta (name, value) VALUES ('schema', ?)").run(Buffer.from('3'));
      db.close();
      let error: unknown;
      try {
        SqliteKeyStore.open({ database, masterKey });
      } catch (e) {
        error = e;
      }
      expect(OckamError.isKind(error, 'unsupported', 'vault')).toBe(true);
      expect((error as Error).message).toMatch(/schema 3, newer/);
    });
  });

  it('refuses use after close', async () => {
    const store = SqliteKeyStore.open({
      database: new Database(':memory:'),
      masterKey: { key: new Uint8Array(32) },
    });
    store.close();
    await expect(store.list()).rejects.toThrow(/closed/);
  });
});
