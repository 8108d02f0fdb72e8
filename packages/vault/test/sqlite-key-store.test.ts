import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

  it('refuses use after close', async () => {
    const store = SqliteKeyStore.open({
      database: new Database(':memory:'),
      masterKey: { key: new Uint8Array(32) },
    });
    store.close();
    await expect(store.list()).rejects.toThrow(/closed/);
  });
});
