/**
 * A KeyStore in SQLite with every secret encrypted at rest (Node.js only: `@ockam/vault/sqlite`).
 *
 * Ockam Rust keeps vault secrets as plaintext rows (PROTOCOL.md §9); we encrypt each secret with
 * AES-256-GCM under a master key, with the key's type and id as AAD, so a row can neither be moved
 * to another id nor have its type changed (an Ed25519 secret read as an X25519 one, say).
 * Stores written before schema 2 bound only the id; they are migrated once, when first opened.
 * The master key comes from a key file (created 0600, in a 0700 directory) or from a passphrase
 * in an environment variable, stretched with scrypt and a random salt stored in the database.
 * A check value encrypted at creation detects a wrong master key before anything is written.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { KeyType } from '@ockam/core';
import Database from 'better-sqlite3';
import type { KeyStore, StoredKey } from './key-store.js';
import { VaultError } from './vault-error.js';

/** Where the master key comes from. */
export type MasterKeySource =
  /** A file holding 32 random bytes; created with mode 0600 if it does not exist yet. */
  | { keyFile: string }
  /** The name of an environment variable holding a passphrase (scrypt, salt stored in the database). */
  | { passphraseEnv: string }
  /** A raw 32-byte master key, for callers that manage it themselves. */
  | { key: Uint8Array };

export interface SqliteKeyStoreOptions {
  /** An open better-sqlite3 database, or a file path (created with mode 0600, its directory 0700). */
  database: Database.Database | string;
  masterKey: MasterKeySource;
}

const MASTER_KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;
const CHECK_AAD = Buffer.from('ockam-vault-master-key-check');
const CHECK_PLAINTEXT = Buffer.alloc(32);
// scrypt cost: N = 2^15, r = 8, p = 1 (RFC 7914 §2's interactive-login recommendation, ~32 MiB).
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_TYPES: readonly KeyType[] = ['ed25519', 'p256', 'x25519'];

/**
 * The layout of the rows, in `vault_meta` under `schema`. 1 (no `schema` row): AAD = utf8(id).
 * 2: AAD = {@link rowAad}. A store is migrated to 2 when it is opened, and never read with the
 * old AAD afterwards.
 */
const SCHEMA = 2;
const ROW_AAD_LABEL = 'ockam-vault-key/2';

/**
 * The AAD of a row since schema 2: a label, the key type and the key id, separated by NUL bytes.
 * Types come from a fixed set without NUL, so the encoding is unambiguous whatever the id holds.
 */
function rowAad(type: KeyType, id: string): Buffer {
  return Buffer.from(`${ROW_AAD_LABEL}\0${type}\0${id}`, 'utf8');
}

/** The AAD of a row before schema 2: its id alone. Only the migration reads with it. */
function schema1Aad(id: string): Buffer {
  return Buffer.from(id, 'utf8');
}

function isKeyType(type: string): type is KeyType {
  return (KEY_TYPES as readonly string[]).includes(type);
}

type Kdf = 'raw' | 'scrypt';

function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { nonce: Buffer; sealed: Buffer } {
  const nonce = randomBytes(NONCE_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce, sealed };
}

function open(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (nonce.length !== NONCE_LENGTH || sealed.length < TAG_LENGTH) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
    const out = decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH));
    decipher.final();
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return undefined;
  }
}

function ensurePrivateDirectory(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
}

function checkPrivateFile(file: string): void {
  if (process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new VaultError(
      'permission',
      `${file} is readable by other users (mode ${mode.toString(8)}); restrict it to 0600`,
    );
  }
}

/** Reads the key file, or creates it when `create` is true and it does not exist. */
function keyFromFile(file: string, create: boolean): Uint8Array {
  if (!existsSync(file)) {
    if (!create)
      throw new VaultError(
        'not-found',
        `master key file ${file} does not exist, but the key store already holds keys encrypted under it`,
      );
    ensurePrivateDirectory(path.dirname(file));
    const key = randomBytes(MASTER_KEY_LENGTH);
    // 'wx' fails if another process created the file in between: never overwrite a key file.
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, key);
    } finally {
      closeSync(fd);
    }
    return new Uint8Array(key);
  }
  checkPrivateFile(file);
  const key = readFileSync(file);
  if (key.length !== MASTER_KEY_LENGTH) {
    key.fill(0);
    throw new VaultError('invalid', `master key file ${file} must hold ${MASTER_KEY_LENGTH} bytes`);
  }
  return new Uint8Array(key);
}

/**
 * A persistent, encrypted {@link KeyStore} on SQLite (better-sqlite3).
 *
 * @example
 * ```ts
 * import { createVault } from '@ockam/vault';
 * import { SqliteKeyStore } from '@ockam/vault/sqlite';
 * const store = SqliteKeyStore.open({ database: '/tmp/ockam/vault.db', masterKey: { keyFile: '/tmp/ockam/vault.key' } });
 * const vault = createVault('node', { store });
 * const key = await vault.generateSigningKey('ed25519'); // persisted, encrypted
 * store.close();
 * ```
 */
export class SqliteKeyStore implements KeyStore {
  readonly #db: Database.Database;
  readonly #ownsDatabase: boolean;
  #masterKey: Uint8Array;
  #closed = false;

  private constructor(db: Database.Database, ownsDatabase: boolean, masterKey: Uint8Array) {
    this.#db = db;
    this.#ownsDatabase = ownsDatabase;
    this.#masterKey = masterKey;
  }

  /** Opens (or creates) a store; throws a VaultError if the master key does not match the store. */
  static open(options: SqliteKeyStoreOptions): SqliteKeyStore {
    const ownsDatabase = typeof options.database === 'string';
    let db: Database.Database;
    if (typeof options.database === 'string') {
      const file = options.database;
      ensurePrivateDirectory(path.dirname(path.resolve(file)));
      // Create the file ourselves so that it (and SQLite's journals, which copy its mode) is 0600.
      closeSync(openSync(file, 'a', 0o600));
      db = new Database(file);
      db.pragma('journal_mode = WAL');
    } else {
      db = options.database;
    }
    try {
      return new SqliteKeyStore(db, ownsDatabase, SqliteKeyStore.#unlock(db, options.masterKey));
    } catch (e) {
      if (ownsDatabase) db.close();
      throw e;
    }
  }

  static #unlock(db: Database.Database, source: MasterKeySource): Uint8Array {
    db.exec(`
      CREATE TABLE IF NOT EXISTS vault_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS vault_key (
        id TEXT PRIMARY KEY, type TEXT NOT NULL, nonce BLOB NOT NULL, secret BLOB NOT NULL
      );`);
    const meta = (name: string): Buffer | undefined =>
      (db.prepare('SELECT value FROM vault_meta WHERE name = ?').get(name) as { value: Buffer } | undefined)
        ?.value;
    const checkNonce = meta('check_nonce');
    const check = meta('check');
    const initialised = checkNonce !== undefined && check !== undefined;
    const storedKdf = meta('kdf')?.toString('utf8') as Kdf | undefined;
    const kdf: Kdf = 'passphraseEnv' in source ? 'scrypt' : 'raw';
    if (initialised && storedKdf !== kdf) {
      throw new VaultError(
        'invalid',
        `this key store's master key comes from ${storedKdf === 'scrypt' ? 'a passphrase' : 'a key file or raw key'}, not from ${kdf === 'scrypt' ? 'a passphrase' : 'a key file or raw key'}`,
      );
    }

    let key: Uint8Array;
    let salt: Buffer | undefined;
    if ('key' in source) {
      if (source.key.length !== MASTER_KEY_LENGTH)
        throw new VaultError(
          'invalid',
          `a master key is ${MASTER_KEY_LENGTH} bytes, got ${source.key.length}`,
        );
      key = new Uint8Array(source.key);
    } else if ('keyFile' in source) {
      key = keyFromFile(source.keyFile, !initialised);
    } else {
      const passphrase = process.env[source.passphraseEnv];
      if (passphrase === undefined || passphrase.length === 0) {
        throw new VaultError(
          'not-found',
          `environment variable ${source.passphraseEnv} holds no vault passphrase`,
        );
      }
      salt = meta('salt') ?? randomBytes(16);
      if (initialised && meta('salt') === undefined)
        throw new VaultError('invalid', 'the key store has no scrypt salt');
      key = new Uint8Array(scryptSync(passphrase.normalize('NFC'), salt, MASTER_KEY_LENGTH, SCRYPT));
    }

    if (initialised) {
      const plaintext = open(key, checkNonce, check, CHECK_AAD);
      if (plaintext === undefined) {
        key.fill(0);
        throw new VaultError(
          'permission',
          'wrong master key: it cannot decrypt this key store (nothing was changed)',
        );
      }
      try {
        SqliteKeyStore.#migrate(db, key);
      } catch (e) {
        key.fill(0);
        throw e;
      }
      return key;
    }
    const { nonce, sealed } = seal(key, CHECK_PLAINTEXT, CHECK_AAD);
    const put = db.prepare('INSERT OR REPLACE INTO vault_meta (name, value) VALUES (?, ?)');
    db.transaction(() => {
      put.run('kdf', Buffer.from(kdf));
      if (salt !== undefined) put.run('salt', salt);
      put.run('check_nonce', nonce);
      put.run('check', sealed);
      put.run('schema', Buffer.from(String(SCHEMA)));
    })();
    return key;
  }

  /**
   * Brings a store written before schema 2 to schema 2, in one transaction: every row is opened
   * with its old AAD (the id) and sealed again, under a fresh nonce, with its type and id. A row
   * that does not open (it was corrupted already) is left as it is and stays unreadable. The
   * transaction takes the write lock first (IMMEDIATE) and reads the schema again, so two
   * processes opening the same old store migrate it once.
   */
  static #migrate(db: Database.Database, masterKey: Uint8Array): void {
    const schemaOf = (): number => {
      const row = db.prepare("SELECT value FROM vault_meta WHERE name = 'schema'").get() as
        | { value: Buffer }
        | undefined;
      return row === undefined ? 1 : Number(row.value.toString('utf8'));
    };
    const schema = schemaOf();
    if (schema === SCHEMA) return;
    if (!(Number.isInteger(schema) && schema >= 1 && schema < SCHEMA)) {
      throw new VaultError(
        'unsupported',
        `this key store has schema ${schema}, newer than this version of @ockam/vault understands (${SCHEMA})`,
      );
    }
    const rows = db.prepare('SELECT id, type, nonce, secret FROM vault_key');
    const update = db.prepare('UPDATE vault_key SET nonce = ?, secret = ? WHERE id = ?');
    db.transaction(() => {
      if (schemaOf() === SCHEMA) return; // another process migrated it meanwhile
      for (const row of rows.all() as Array<{ id: string; type: string; nonce: Buffer; secret: Buffer }>) {
        if (!isKeyType(row.type)) continue; // unknown types are refused at load, as before
        const secret = open(masterKey, row.nonce, row.secret, schema1Aad(row.id));
        if (secret === undefined) continue;
        const { nonce, sealed } = seal(masterKey, secret, rowAad(row.type, row.id));
        secret.fill(0);
        update.run(nonce, sealed, row.id);
      }
      db.prepare("INSERT OR REPLACE INTO vault_meta (name, value) VALUES ('schema', ?)").run(
        Buffer.from(String(SCHEMA)),
      );
    }).immediate();
  }

  async load(id: string): Promise<StoredKey | undefined> {
    this.#checkOpen();
    const row = this.#db.prepare('SELECT type, nonce, secret FROM vault_key WHERE id = ?').get(id) as
      | { type: string; nonce: Buffer; secret: Buffer }
      | undefined;
    if (row === undefined) return undefined;
    if (!isKeyType(row.type))
      throw new VaultError('invalid', `stored key ${id} has an unknown type ${row.type}`);
    const secret = open(this.#masterKey, row.nonce, row.secret, rowAad(row.type, id));
    if (secret === undefined) {
      throw new VaultError(
        'invalid',
        `stored key ${id} cannot be decrypted: the row is corrupted, was changed (its id or type), or was written under another master key`,
      );
    }
    return { id, type: row.type, secret };
  }

  async save(key: StoredKey): Promise<void> {
    this.#checkOpen();
    if (!isKeyType(key.type))
      throw new VaultError('invalid', `cannot store a key of type ${String(key.type)}`);
    const { nonce, sealed } = seal(this.#masterKey, key.secret, rowAad(key.type, key.id));
    this.#db
      .prepare('INSERT OR REPLACE INTO vault_key (id, type, nonce, secret) VALUES (?, ?, ?, ?)')
      .run(key.id, key.type, nonce, sealed);
  }

  async delete(id: string): Promise<boolean> {
    this.#checkOpen();
    return this.#db.prepare('DELETE FROM vault_key WHERE id = ?').run(id).changes > 0;
  }

  async list(): Promise<Array<{ id: string; type: KeyType }>> {
    this.#checkOpen();
    return this.#db.prepare('SELECT id, type FROM vault_key ORDER BY id').all() as Array<{
      id: string;
      type: KeyType;
    }>;
  }

  /** Wipes the master key and closes the database if this store opened it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#masterKey.fill(0);
    this.#masterKey = new Uint8Array(0);
    if (this.#ownsDatabase) this.#db.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new VaultError('invalid', 'the key store is closed');
  }
}
