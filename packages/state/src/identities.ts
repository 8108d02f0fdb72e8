/**
 * Named vaults and identities of one `$OCKAM_HOME` (the `ockam vault` and `ockam identity`
 * commands, and every node's identity).
 *
 * - A vault is an encrypted SQLite key store. As in Ockam, the first vault created without a path
 *   keeps its keys in the main database (it cannot be moved); any other is a file of its own,
 *   `vaults/<name>.sqlite3` or the path given, which `moveVault` can move. Its master key is a file
 *   `vaults/<name>.key` (0600) or, when `OCKAM_VAULT_PASSPHRASE` is set at creation, a passphrase
 *   that must be in the environment whenever the vault is opened.
 * - An identity is its change history (PROTOCOL.md §4), stored in the main database with the name
 *   of the vault that holds its keys.
 * - The first command that needs an identity creates the default vault and identity.
 */
import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { type Logger, type SigningKeyType, toHex, type Vault } from '@ockam/core';
import {
  createIdentity,
  createPurposeKey,
  type Identity,
  importIdentity,
  type Purpose,
  type PurposeKey,
  rotateIdentity,
  verifyPurposeKeyAttestation,
} from '@ockam/identity';
import { decodePurposeKeyAttestation } from '@ockam/identity/codec';
import { createExternalVault, createVault, type ExternalVault, type SigningKeyBackend } from '@ockam/vault';
import type * as VaultSqlite from '@ockam/vault/sqlite';
import type { MasterKeySource } from '@ockam/vault/sqlite';
import { StateError } from './errors.js';
import { ensurePrivateDir, NODE_NAME_PATTERN } from './home.js';
import { identityRecord } from './records.js';
import { openSqliteDatabase } from './sqlite-loader.js';
import { SqliteIdentities } from './sqlite-store.js';
import type { State } from './state.js';

export const PASSPHRASE_ENV = 'OCKAM_VAULT_PASSPHRASE';
export const DEFAULT_VAULT_NAME = 'default';
export const DEFAULT_IDENTITY_NAME = 'default';

export interface VaultRecord {
  name: string;
  /** Where its keys are: the main database (`inDatabase`) or a file of its own. */
  path: string;
  /** True for the vault whose keys live in the main database (Ockam's DatabaseVault). */
  inDatabase: boolean;
  masterKey: 'key-file' | 'passphrase';
  backend: 'node' | 'noble';
  /** Where its signing keys are kept when not in its key store (a PKCS#11 token, AWS KMS). */
  signingKeys?: SigningKeysConfig;
  isDefault: boolean;
  createdAt: number;
}

/**
 * A vault's signing keys in hardware or a cloud KMS: `kind` names the backend and the rest is its
 * own JSON configuration (a library path and slot, a region), stored in the vault row. Secrets such
 * as a PIN are not part of it: the backend reads them from the environment when it opens.
 */
export interface SigningKeysConfig {
  readonly kind: 'pkcs11' | 'aws-kms';
  readonly [option: string]: unknown;
}

/**
 * The package implementing each signing-key backend. Each exports
 * `openSigningKeyBackend(config: SigningKeysConfig, vaultName: string): SigningKeyBackend`, which
 * opens a session (and fails with a clear OckamError when it cannot); loaded on first use, so that
 * a machine without a PKCS#11 binding or the AWS SDK still runs every software vault.
 */
const SIGNING_KEY_PACKAGES: Record<SigningKeysConfig['kind'], string> = {
  pkcs11: '@ockam/vault-pkcs11',
  'aws-kms': '@ockam/vault-aws-kms',
};

function openSigningKeyBackend(config: SigningKeysConfig, vaultName: string): SigningKeyBackend {
  const name = SIGNING_KEY_PACKAGES[config.kind];
  if (name === undefined)
    throw new StateError(
      'invalid',
      `Vault ${vaultName} keeps its keys in an unknown backend '${config.kind}'`,
    );
  const mod = createRequire(import.meta.url)(name) as {
    openSigningKeyBackend(config: SigningKeysConfig, vaultName: string): SigningKeyBackend;
  };
  return mod.openSigningKeyBackend(config, vaultName);
}

/**
 * The signing-key type a vault makes when none is asked for: Ed25519, unless its keys are in a
 * token or KMS that cannot make Ed25519 keys, then the first type it can (P-256).
 */
function defaultKeyType(vault: Vault): SigningKeyType {
  const types = (vault as Partial<ExternalVault>).keys?.types;
  return types === undefined || types.includes('ed25519') ? 'ed25519' : (types[0] ?? 'ed25519');
}

export interface IdentityRecord {
  name: string;
  identifier: string;
  vaultName: string;
  changeHistory: Uint8Array;
  isDefault: boolean;
  createdAt: number;
}

interface VaultRow {
  name: string;
  path: string;
  master_key: string;
  backend: string;
  signing_keys: string | null;
  is_default: number;
  created_at: number;
}

/** A row of the `identity` table (SQLite and PostgreSQL). */
export interface IdentityRow {
  name: string;
  identifier: string;
  vault_name: string;
  change_history: Buffer;
  is_default: number | boolean;
  created_at: number | string;
}

let vaultSqlite: typeof VaultSqlite | undefined;

/**
 * The SQLite key store, loaded on first use: it needs better-sqlite3, an optional dependency, and
 * importing this package must work without it (a `State` has already said how to install it).
 */
function sqliteKeyStore(): typeof VaultSqlite.SqliteKeyStore {
  vaultSqlite ??= createRequire(import.meta.url)('@ockam/vault/sqlite') as typeof VaultSqlite;
  return vaultSqlite.SqliteKeyStore;
}

function checkName(kind: string, name: string): string {
  if (!NODE_NAME_PATTERN.test(name)) {
    throw new StateError(
      'invalid',
      `Invalid ${kind} name '${name}': use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

const vaultRecord = (r: VaultRow, databasePath: string): VaultRecord => ({
  name: r.name,
  path: r.path,
  inDatabase: resolve(r.path) === resolve(databasePath),
  masterKey: r.master_key as VaultRecord['masterKey'],
  backend: r.backend as VaultRecord['backend'],
  ...(r.signing_keys ? { signingKeys: JSON.parse(r.signing_keys) as SigningKeysConfig } : {}),
  isDefault: r.is_default === 1,
  createdAt: r.created_at,
});

/** An opened vault; close it to release its database. */
export interface OpenVault {
  readonly record: VaultRecord;
  readonly vault: Vault;
  close(): void;
}

/** Runs `fn` holding an exclusive lock file in `$OCKAM_HOME` (stale after 30 s). */
export async function withHomeLock<T>(root: string, name: string, fn: () => Promise<T>): Promise<T> {
  const path = join(root, `.${name}.lock`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try {
        if (Date.now() - statSync(path).mtimeMs > 30_000) rmSync(path, { force: true });
      } catch {}
      if (Date.now() > deadline)
        throw new StateError(
          'io',
          `Timed out waiting for ${path}; remove it if no other ockam command is running`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

export class Identities {
  readonly state: State;
  readonly #store: SqliteIdentities;

  constructor(state: State) {
    this.state = state;
    this.#store = new SqliteIdentities(state.db);
  }

  get #db() {
    return this.state.db;
  }

  // ---- vaults ----

  #vaultRecord = (r: VaultRow): VaultRecord => vaultRecord(r, this.state.home.databasePath);

  listVaults(): VaultRecord[] {
    return (this.#db.prepare('SELECT * FROM vault ORDER BY created_at, name').all() as VaultRow[]).map(
      this.#vaultRecord,
    );
  }

  getVault(name: string): VaultRecord | undefined {
    const r = this.#db.prepare('SELECT * FROM vault WHERE name = ?').get(name) as VaultRow | undefined;
    return r && this.#vaultRecord(r);
  }

  requireVault(name: string): VaultRecord {
    const v = this.getVault(name);
    if (!v) throw new StateError('not-found', `Vault ${name} does not exist (see 'ockam vault list')`);
    return v;
  }

  defaultVault(): VaultRecord | undefined {
    const r = this.#db.prepare('SELECT * FROM vault WHERE is_default = 1').get() as VaultRow | undefined;
    return r && this.#vaultRecord(r);
  }

  /**
   * Creates a vault: its key store and its master key (file, or passphrase from the environment).
   * Without `path`, the first vault keeps its keys in the main database and the others in
   * `vaults/<name>.sqlite3`; a `path` must not exist yet.
   */
  createVault(
    name: string,
    options: { backend?: 'node' | 'noble'; path?: string; signingKeys?: SigningKeysConfig } = {},
  ): VaultRecord {
    checkName('vault', name);
    if (this.getVault(name)) throw new StateError('already-exists', `Vault ${name} already exists`);
    const databasePath = this.state.home.databasePath;
    let path: string;
    if (options.path !== undefined) {
      path = resolve(options.path);
      this.#checkNewVaultPath(path);
    } else if (this.listVaults().some((v) => v.inDatabase)) {
      path = join(ensurePrivateDir(join(this.state.home.root, 'vaults')), `${name}.sqlite3`);
    } else {
      path = databasePath;
    }
    const masterKey: VaultRecord['masterKey'] = process.env[PASSPHRASE_ENV] ? 'passphrase' : 'key-file';
    // Creating the store creates the master key (file) or its salt, and the check value.
    sqliteKeyStore()
      .open({
        database: path === databasePath ? this.#db : path,
        masterKey: this.#masterKeySource(name, masterKey),
      })
      .close();
    // A backend that cannot open now (no library, no token, a wrong PIN) is refused before the row.
    if (options.signingKeys !== undefined) void openSigningKeyBackend(options.signingKeys, name).close();
    this.#db
      .transaction(() => {
        const hasDefault = this.#db.prepare('SELECT 1 FROM vault WHERE is_default = 1').get() !== undefined;
        this.#db
          .prepare(
            'INSERT INTO vault (name, path, master_key, backend, signing_keys, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            name,
            path,
            masterKey,
            options.backend ?? 'node',
            options.signingKeys === undefined ? null : JSON.stringify(options.signingKeys),
            hasDefault ? 0 : 1,
            Date.now(),
          );
      })
      .immediate();
    return this.requireVault(name);
  }

  /** A vault file goes where nothing is: no file there, and no vault that uses that path. */
  #checkNewVaultPath(path: string): void {
    if (
      path === resolve(this.state.home.databasePath) ||
      this.listVaults().some((v) => resolve(v.path) === path)
    )
      throw new StateError('already-exists', `The vault path ${path} is already used by a vault`);
    if (existsSync(path)) throw new StateError('already-exists', `The vault path ${path} exists already`);
  }

  /**
   * Moves a vault's file to `path` (a consistent copy first, then the record, then the old file
   * goes). The vault in the main database cannot move, as in Ockam. Stop the nodes using it first:
   * a node that holds it open keeps writing to the old file.
   */
  moveVault(name: string, path: string): VaultRecord {
    const v = this.requireVault(name);
    const target = resolve(path);
    if (v.inDatabase)
      throw new StateError(
        'invalid',
        `The vault ${name} cannot be moved to ${target} because its keys are stored in the main database (it is the first vault, created without --path)`,
      );
    this.#checkNewVaultPath(target);
    ensurePrivateDir(dirname(target));
    // The copy is private before anything is written to it; VACUUM INTO fills an empty file.
    closeSync(openSync(target, 'wx', 0o600));
    try {
      const db = openSqliteDatabase(v.path, { fileMustExist: true, timeout: 10_000 });
      try {
        db.prepare('VACUUM INTO ?').run(target);
      } finally {
        db.close();
      }
      if (this.#db.prepare('UPDATE vault SET path = ? WHERE name = ?').run(target, name).changes !== 1)
        throw new StateError('not-found', `Vault ${name} was deleted while it was being moved`);
    } catch (e) {
      rmSync(target, { force: true });
      throw e;
    }
    for (const f of [v.path, `${v.path}-wal`, `${v.path}-shm`]) rmSync(f, { force: true });
    return this.requireVault(name);
  }

  #masterKeySource(name: string, kind: VaultRecord['masterKey']): MasterKeySource {
    if (kind === 'passphrase') {
      if (!process.env[PASSPHRASE_ENV]) {
        throw new StateError(
          'invalid',
          `Vault ${name} is protected by a passphrase: set ${PASSPHRASE_ENV} to open it`,
        );
      }
      return { passphraseEnv: PASSPHRASE_ENV };
    }
    return { keyFile: join(this.state.home.root, 'vaults', `${name}.key`) };
  }

  /** Opens a vault (the default vault, created if missing, when no name is given). */
  openVault(name?: string): OpenVault {
    const record =
      name === undefined
        ? (this.defaultVault() ?? this.createVault(DEFAULT_VAULT_NAME))
        : this.requireVault(name);
    const store = sqliteKeyStore().open({
      database: record.inDatabase ? this.#db : record.path,
      masterKey: this.#masterKeySource(record.name, record.masterKey),
    });
    const software = createVault(record.backend, { store });
    if (record.signingKeys === undefined) return { record, vault: software, close: () => store.close() };
    let keys: SigningKeyBackend;
    try {
      keys = openSigningKeyBackend(record.signingKeys, record.name);
    } catch (e) {
      store.close();
      throw e;
    }
    const vault = createExternalVault(software, keys);
    return {
      record,
      vault,
      close: () => {
        store.close();
        // Ending a token session or a KMS client cannot fail in a way the caller could act on.
        void vault.close().catch(() => {});
      },
    };
  }

  deleteVault(name: string): void {
    const v = this.requireVault(name);
    const users = this.#db.prepare('SELECT name FROM identity WHERE vault_name = ?').all(name) as Array<{
      name: string;
    }>;
    if (users.length) {
      throw new StateError(
        'invalid',
        `Vault ${name} holds the keys of identities ${users.map((u) => u.name).join(', ')}; delete them first`,
      );
    }
    this.#db
      .transaction(() => {
        this.#db.prepare('DELETE FROM vault WHERE name = ?').run(name);
        // The key store's tables in the main database hold that vault's keys only.
        if (v.inDatabase)
          for (const table of ['vault_key', 'vault_meta'])
            if (this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table))
              this.#db.prepare(`DELETE FROM ${table}`).run();
        if (v.isDefault) {
          const next = this.#db.prepare('SELECT name FROM vault ORDER BY created_at LIMIT 1').get() as
            | { name: string }
            | undefined;
          if (next) this.#db.prepare('UPDATE vault SET is_default = 1 WHERE name = ?').run(next.name);
        }
      })
      .immediate();
    const files = v.inDatabase ? [] : [v.path, `${v.path}-wal`, `${v.path}-shm`];
    for (const f of [...files, join(this.state.home.root, 'vaults', `${name}.key`)])
      rmSync(f, { force: true });
  }

  // ---- identities ----

  listIdentities(): IdentityRecord[] {
    return this.#store.list();
  }

  getIdentity(name: string): IdentityRecord | undefined {
    return this.#store.get(name);
  }

  requireIdentity(name: string): IdentityRecord {
    const i = this.getIdentity(name);
    if (!i) throw new StateError('not-found', `Identity ${name} does not exist (see 'ockam identity list')`);
    return i;
  }

  defaultIdentity(): IdentityRecord | undefined {
    const r = this.#db.prepare('SELECT * FROM identity WHERE is_default = 1').get() as
      | IdentityRow
      | undefined;
    return r && identityRecord(r);
  }

  setDefaultIdentity(name: string): void {
    this.#db
      .transaction(() => {
        this.requireIdentity(name);
        this.#db.prepare('UPDATE identity SET is_default = 0').run();
        this.#db.prepare('UPDATE identity SET is_default = 1 WHERE name = ?').run(name);
      })
      .immediate();
  }

  async createIdentity(
    name: string,
    options: { vault?: string; keyType?: SigningKeyType } = {},
  ): Promise<IdentityRecord> {
    checkName('identity', name);
    if (this.getIdentity(name)) throw new StateError('already-exists', `Identity ${name} already exists`);
    const opened = this.openVault(options.vault);
    try {
      const identity = await createIdentity(opened.vault, {
        keyType: options.keyType ?? defaultKeyType(opened.vault),
      });
      this.#storeIdentity(name, identity, opened.record.name, true);
    } finally {
      opened.close();
    }
    return this.requireIdentity(name);
  }

  /**
   * Stores an exported identity under a name (`ockam identity create NAME --identity HEX`, as in
   * Ockam): its change history is verified first. Someone else's identity has no keys here: it can
   * be trusted (an issuer, an authority) but not sign, so it never becomes the default. One whose
   * primary key the vault still holds (exported from here, deleted, imported again) can sign, and
   * becomes the default when there is none, as a created identity would.
   */
  async importIdentity(
    name: string,
    exported: string | Uint8Array,
    options: { vault?: string } = {},
  ): Promise<IdentityRecord> {
    checkName('identity', name);
    if (this.getIdentity(name)) throw new StateError('already-exists', `Identity ${name} already exists`);
    let identity: Identity;
    try {
      identity = importIdentity(typeof exported === 'string' ? exported.trim() : exported);
    } catch (cause) {
      throw new StateError('invalid', `Invalid identity: ${(cause as Error).message}`, { cause });
    }
    const opened = this.openVault(options.vault);
    let canSign: boolean;
    try {
      const primary = identity.primaryPublicKey;
      // Key handle ids are the hex SHA-256 of the public key (PROTOCOL.md §9).
      const key = await opened.vault.getKey(toHex(opened.vault.sha256(primary.bytes)));
      canSign = key !== undefined && key.type === primary.type;
    } finally {
      opened.close();
    }
    this.#storeIdentity(name, identity, opened.record.name, canSign);
    return this.requireIdentity(name);
  }

  /** Stores an identity; it becomes the default when there is none and it `mayBeDefault` (it can sign). */
  #storeIdentity(name: string, identity: Identity, vaultName: string, mayBeDefault: boolean): void {
    this.#db
      .transaction(() => {
        const hasDefault =
          this.#db.prepare('SELECT 1 FROM identity WHERE is_default = 1').get() !== undefined;
        this.#store.create({
          name,
          identifier: identity.identifier,
          vaultName,
          changeHistory: identity.changeHistory,
          isDefault: mayBeDefault && !hasDefault,
          createdAt: Date.now(),
        });
      })
      .immediate();
  }

  /** Every named identity with this identifier (the newest change history first). */
  identitiesWithIdentifier(identifier: string): IdentityRecord[] {
    return (
      this.#db
        .prepare(
          'SELECT * FROM identity WHERE identifier = ? ORDER BY length(change_history) DESC, created_at',
        )
        .all(identifier) as IdentityRow[]
    ).map(identityRecord);
  }

  /** The named identity, or the default one (created with the default vault if there is none). */
  async ensureIdentity(name?: string): Promise<IdentityRecord> {
    if (name !== undefined) return this.requireIdentity(name);
    const existing = this.defaultIdentity();
    if (existing) return existing;
    // Several commands may start at once in a fresh home: one creates the defaults, the others
    // wait for it and read what it made.
    return withHomeLock(
      this.state.home.root,
      'defaults',
      async () => this.defaultIdentity() ?? (await this.createIdentity(DEFAULT_IDENTITY_NAME)),
    );
  }

  /** Loads and re-verifies an identity, with its vault opened. */
  async loadIdentity(
    name?: string,
  ): Promise<{ record: IdentityRecord; identity: Identity; vault: OpenVault }> {
    const record = await this.ensureIdentity(name);
    const identity = importIdentity(record.changeHistory);
    if (identity.identifier !== record.identifier) {
      throw new StateError(
        'invalid',
        `Identity ${record.name}: stored change history yields ${identity.identifier}, not ${record.identifier}`,
      );
    }
    return { record, identity, vault: this.openVault(record.vaultName) };
  }

  /** Appends a change with a new primary key, signed by the new and the previous key (same identifier). */
  async rotateIdentity(name: string): Promise<IdentityRecord> {
    const { record, identity, vault } = await this.loadIdentity(name);
    try {
      const rotated = await rotateIdentity(vault.vault, identity);
      if (!this.#store.replaceChangeHistory(name, record.changeHistory, rotated.changeHistory))
        throw new StateError('invalid', `Identity ${name} changed while it was being rotated; try again`);
      // Purpose keys were attested by the previous key: make new ones on next use.
      this.#db.prepare('DELETE FROM purpose_key WHERE identifier = ?').run(record.identifier);
    } finally {
      vault.close();
    }
    return this.requireIdentity(name);
  }

  deleteIdentity(name: string): void {
    const i = this.requireIdentity(name);
    // A node records the identity it was created with in its options (`node create --identity`).
    const nodes = this.#db
      .prepare("SELECT name FROM node WHERE identity_name = ? OR json_extract(options, '$.identity') = ?")
      .all(name, name) as Array<{ name: string }>;
    if (nodes.length)
      throw new StateError(
        'invalid',
        `Identity ${name} is used by nodes ${nodes.map((n) => n.name).join(', ')}; delete them first`,
      );
    this.#db
      .transaction(() => {
        this.#db.prepare('DELETE FROM identity WHERE name = ?').run(name);
        this.#db
          .prepare(
            'DELETE FROM purpose_key WHERE identifier = ? AND NOT EXISTS (SELECT 1 FROM identity WHERE identifier = ?)',
          )
          .run(i.identifier, i.identifier);
        if (i.isDefault) {
          const next = this.#db.prepare('SELECT name FROM identity ORDER BY created_at LIMIT 1').get() as
            | { name: string }
            | undefined;
          if (next) this.#db.prepare('UPDATE identity SET is_default = 1 WHERE name = ?').run(next.name);
        }
      })
      .immediate();
  }

  // ---- purpose keys (a secure-channel listener reuses its identity's key across restarts) ----

  getPurposeKey(identifier: string, purpose: string): { attestation: Uint8Array; keyId: string } | undefined {
    const r = this.#db
      .prepare('SELECT attestation, key_id FROM purpose_key WHERE identifier = ? AND purpose = ?')
      .get(identifier, purpose) as { attestation: Buffer; key_id: string } | undefined;
    return r && { attestation: new Uint8Array(r.attestation), keyId: r.key_id };
  }

  /**
   * The identity's purpose key for `purpose`: the saved one while its attestation still verifies
   * against the identity (its latest change, its window) and the vault holds its secret, else a new
   * one, saved. A secure-channel listener keeps its static key across restarts this way, and an
   * issuer its credential-signing key.
   */
  async ensurePurposeKey(
    identity: Identity,
    vault: Vault,
    purpose: Purpose,
    logger?: Logger,
  ): Promise<PurposeKey> {
    const saved = this.getPurposeKey(identity.identifier, purpose);
    if (saved) {
      try {
        const data = verifyPurposeKeyAttestation(saved.attestation, identity, { expectedPurpose: purpose });
        const key = await vault.getKey(saved.keyId);
        if (key)
          return {
            key,
            data,
            attestation: decodePurposeKeyAttestation(saved.attestation),
            encoded: saved.attestation,
          };
      } catch (e) {
        logger?.info('purpose key is no longer valid; creating a new one', {
          purpose,
          identifier: identity.identifier,
          reason: (e as Error).message,
        });
      }
    }
    const created = await createPurposeKey(
      vault,
      identity,
      purpose,
      purpose === 'credential-signing' ? { keyType: defaultKeyType(vault) } : {},
    );
    this.savePurposeKey(identity.identifier, purpose, created.encoded, created.key.id);
    return created;
  }

  savePurposeKey(identifier: string, purpose: string, attestation: Uint8Array, keyId: string): void {
    this.#db
      .prepare(
        `INSERT INTO purpose_key (identifier, purpose, attestation, key_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (identifier, purpose) DO UPDATE SET attestation = excluded.attestation, key_id = excluded.key_id`,
      )
      .run(identifier, purpose, Buffer.from(attestation), keyId);
  }
}
