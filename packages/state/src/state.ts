/**
 * Durable state in SQLite (PROTOCOL.md §10.1: WAL mode, busy timeout 10 s). WAL with
 * `synchronous = FULL` means a committed row survives SIGKILL of any process and a power cut.
 * Every write is one transaction; readers never see half a change.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { StateError } from './errors.js';
import type { OckamHome } from './home.js';
import { openSqliteDatabase } from './sqlite-loader.js';
import { SqliteResources } from './sqlite-store.js';

export { StateError };

export interface NodeRecord {
  name: string;
  tcpListenerAddress: string | null;
  pid: number | null;
  isDefault: boolean;
  createdAt: number;
  startedAt: number | null;
  stoppedAt: number | null;
  /** JSON of options the node was created with (log level, identity, …). */
  options: Record<string, unknown>;
}

interface NodeRow {
  name: string;
  tcp_listener_address: string | null;
  pid: number | null;
  is_default: number;
  created_at: number;
  started_at: number | null;
  stopped_at: number | null;
  options: string;
}

const MIGRATIONS: string[] = [
  `CREATE TABLE node (
     name TEXT PRIMARY KEY,
     tcp_listener_address TEXT,
     pid INTEGER,
     is_default INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL,
     started_at INTEGER,
     stopped_at INTEGER,
     options TEXT NOT NULL DEFAULT '{}'
   )`,
  `CREATE TABLE vault (
     name TEXT PRIMARY KEY,
     path TEXT NOT NULL,
     master_key TEXT NOT NULL,
     backend TEXT NOT NULL DEFAULT 'node',
     is_default INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE identity (
     name TEXT PRIMARY KEY,
     identifier TEXT NOT NULL,
     vault_name TEXT NOT NULL REFERENCES vault(name),
     change_history BLOB NOT NULL,
     is_default INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE purpose_key (
     identifier TEXT NOT NULL,
     purpose TEXT NOT NULL,
     attestation BLOB NOT NULL,
     key_id TEXT NOT NULL,
     PRIMARY KEY (identifier, purpose)
   );
      ALTER TABLE node ADD COLUMN identity_name TEXT;`,
  `CREATE TABLE node_resource (
     node_name TEXT NOT NULL REFERENCES node(name) ON DELETE CASCADE,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL,
          PRIMARY KEY (node_name, kind, name)
   );`,
  `CREATE TABLE project (
     name TEXT PRIMARY KEY,
     id TEXT NOT NULL,
     identifier TEXT NOT NULL,
     change_history BLOB NOT NULL,
     route TEXT NOT NULL,
     node_name TEXT,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE credential (
     identity_name TEXT NOT NULL,
     project TEXT NOT NULL,
     credential BLOB NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (identity_name, project)
   );
   CREATE TABLE authority_member (
     authority TEXT NOT NULL,
     identifier TEXT NOT NULL,
     attributes TEXT NOT NULL,
     added_by TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     pre_trusted INTEGER NOT NULL,
     PRIMARY KEY (authority, identifier)
   );
   CREATE TABLE authority_enrollment_token (
     authority TEXT NOT NULL,
     code_hash TEXT NOT NULL,
     reference TEXT NOT NULL,
     issued_by TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     ttl_count INTEGER NOT NULL,
     attributes TEXT NOT NULL,
     PRIMARY KEY (authority, code_hash)
   );
   CREATE TABLE identity_attributes (
     node_name TEXT NOT NULL,
     subject TEXT NOT NULL,
     attested_by TEXT NOT NULL,
     attributes TEXT NOT NULL,
     added_at INTEGER NOT NULL,
     expires_at INTEGER,
     PRIMARY KEY (node_name, subject, attested_by)
   );
   CREATE TABLE resource_policy (
     node_name TEXT NOT NULL,
     resource_name TEXT NOT NULL,
     action TEXT NOT NULL,
     expression TEXT NOT NULL,
     PRIMARY KEY (node_name, resource_name, action)
   );
   CREATE TABLE resource_type_policy (
     node_name TEXT NOT NULL,
     resource_type TEXT NOT NULL,
     action TEXT NOT NULL,
     expression TEXT NOT NULL,
     PRIMARY KEY (node_name, resource_type, action)
   );`,
  // A project's authority may be another node with another identity (Ockam's projects, and
  // \`ockam authority create\`): NULL means the project node is its own authority.
  `ALTER TABLE project ADD COLUMN authority_change_history BLOB;
   ALTER TABLE project ADD COLUMN authority_route TEXT;`,
  // The store interface keeps identities and resources without the CLI's vault and node rows
  // (a library's node has neither): the code that owns both checks the references instead
  // (deleteVault refuses a vault in use; deleteNode deletes the node's resources). The rowid
  // order of node_resource is the order resources were first saved.
  `CREATE TABLE identity_v6 (
     name TEXT PRIMARY KEY,
     identifier TEXT NOT NULL,
     vault_name TEXT NOT NULL,
     change_history BLOB NOT NULL,
     is_default INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   );
   INSERT INTO identity_v6 SELECT name, identifier, vault_name, change_history, is_default, created_at FROM identity;
   DROP TABLE identity;
   ALTER TABLE identity_v6 RENAME TO identity;
   CREATE TABLE node_resource_v6 (
     node_name TEXT NOT NULL,
     kind TEXT NOT NULL,
     name TEXT NOT NULL,
     config TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (node_name, kind, name)
   );
   INSERT INTO node_resource_v6 SELECT node_name, kind, name, config, created_at FROM node_resource ORDER BY created_at, rowid;
   DROP TABLE node_resource;
   ALTER TABLE node_resource_v6 RENAME TO node_resource;`,
  // Where a vault's signing keys live when not in its own key store: JSON of SigningKeysConfig
  // (a PKCS#11 token, AWS KMS), NULL for software keys. Secrets (a PIN) are never stored.
  `ALTER TABLE vault ADD COLUMN signing_keys TEXT;`,
  // Members enrolled with an ID token (the OIDC add-on) are members until it expires.
  `ALTER TABLE authority_member ADD COLUMN expires_at INTEGER;`,
];

function toRecord(r: NodeRow): NodeRecord {
  return {
    name: r.name,
    tcpListenerAddress: r.tcp_listener_address,
    pid: r.pid,
    isDefault: r.is_default === 1,
    createdAt: r.created_at,
    startedAt: r.started_at,
    stoppedAt: r.stopped_at,
    options: JSON.parse(r.options) as Record<string, unknown>,
  };
}

/** The state database of one `$OCKAM_HOME`. Cheap to open; close it when done. */
export class State {
  readonly home: OckamHome;
  readonly db: Database.Database;
  readonly #resources: SqliteResources;

  constructor(home: OckamHome) {
    this.home = home;
    home.ensure();
    const path = home.databasePath;
    const fresh = !existsSync(path);
    try {
      // SQLite gives its -wal and -shm files the database file's mode: make that owner-only.
      if (fresh) closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
      this.db = openSqliteDatabase(path, { timeout: 10_000 });
      if (fresh) this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.#migrate();
      this.#resources = new SqliteResources(this.db);
    } catch (cause) {
      if (cause instanceof StateError) throw cause;
      throw new StateError('io', `Cannot open the state database ${path}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  #migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = this.db.prepare('SELECT version FROM schema_version').get() as
      | { version: number }
      | undefined;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new StateError(
        'invalid',
        `State database version ${current} is newer than this ockam (${MIGRATIONS.length})`,
      );
    }
    if (current === MIGRATIONS.length) return;
    this.db
      .transaction(() => {
        // Read again under the write lock: another process may have migrated meanwhile.
        const now =
          (this.db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined)
            ?.version ?? 0;
        for (let v = now; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
        this.db.prepare('DELETE FROM schema_version').run();
        this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
      })
      .immediate();
  }

  /** Registers a schema for another component (vault, identities): applied once, idempotent. */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  createNode(name: string, options: Record<string, unknown> = {}): NodeRecord {
    const tx = this.db.transaction(() => {
      if (this.getNode(name)) throw new StateError('already-exists', `Node ${name} already exists`);
      const hasDefault = this.db.prepare('SELECT 1 FROM node WHERE is_default = 1').get() !== undefined;
      this.db
        .prepare('INSERT INTO node (name, is_default, created_at, options) VALUES (?, ?, ?, ?)')
        .run(name, hasDefault ? 0 : 1, Date.now(), JSON.stringify(options));
    });
    tx.immediate();
    return this.getNode(name)!;
  }

  getNode(name: string): NodeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM node WHERE name = ?').get(name) as NodeRow | undefined;
    return r && toRecord(r);
  }

  requireNode(name: string): NodeRecord {
    const n = this.getNode(name);
    if (!n) throw new StateError('not-found', `Node ${name} does not exist (see 'ockam node list')`);
    return n;
  }

  listNodes(): NodeRecord[] {
    return (this.db.prepare('SELECT * FROM node ORDER BY created_at, name').all() as NodeRow[]).map(toRecord);
  }

  defaultNode(): NodeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM node WHERE is_default = 1').get() as NodeRow | undefined;
    return r && toRecord(r);
  }

  setDefaultNode(name: string): void {
    this.db
      .transaction(() => {
        this.requireNode(name);
        this.db.prepare('UPDATE node SET is_default = 0').run();
        this.db.prepare('UPDATE node SET is_default = 1 WHERE name = ?').run(name);
      })
      .immediate();
  }

  markStarted(name: string, pid: number, tcpListenerAddress: string): void {
    this.db
      .prepare(
        'UPDATE node SET pid = ?, tcp_listener_address = ?, started_at = ?, stopped_at = NULL WHERE name = ?',
      )
      .run(pid, tcpListenerAddress, Date.now(), name);
  }

  markStopped(name: string, pid: number): void {
    this.db
      .prepare('UPDATE node SET pid = NULL, stopped_at = ? WHERE name = ? AND pid = ?')
      .run(Date.now(), name, pid);
  }

  /** Sets a node's options (JSON of what it was created with): the whole object is replaced. */
  setNodeOptions(name: string, options: Record<string, unknown>): void {
    const changed = this.db
      .prepare('UPDATE node SET options = ? WHERE name = ?')
      .run(JSON.stringify(options), name).changes;
    if (changed === 0)
      throw new StateError('not-found', `Node ${name} does not exist (see 'ockam node list')`);
  }

  /** Inlets, outlets and relays a node recreates when it starts (config is JSON). */
  saveResource(node: string, kind: string, name: string, config: unknown): void {
    this.#resources.put(node, kind, name, config);
  }

  deleteResource(node: string, kind: string, name: string): boolean {
    return this.#resources.delete(node, kind, name);
  }

  listResources(node: string, kind?: string): Array<{ kind: string; name: string; config: unknown }> {
    return this.#resources.list(node, kind);
  }

  deleteNode(name: string): void {
    this.db
      .transaction(() => {
        const n = this.requireNode(name);
        this.#resources.deleteAll(name);
        this.db.prepare('DELETE FROM node WHERE name = ?').run(name);
        if (n.isDefault) {
          const next = this.db.prepare('SELECT name FROM node ORDER BY created_at LIMIT 1').get() as
            | { name: string }
            | undefined;
          if (next) this.db.prepare('UPDATE node SET is_default = 1 WHERE name = ?').run(next.name);
        }
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }
}
