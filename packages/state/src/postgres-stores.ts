/**
 * The PostgreSQL `NodeStateStore` (PROTOCOL.md §10.1, §5.2): several authority replicas with the
 * same identity can share its members and tokens, and a node its whole state. Configured as in Ockam
 * by `OCKAM_POSTGRES_HOST` and `OCKAM_POSTGRES_PORT`, with optional `OCKAM_POSTGRES_DATABASE_NAME`
 * (default `postgres`), `OCKAM_POSTGRES_USER` and `OCKAM_POSTGRES_PASSWORD`. Tokens are stored by
 * the SHA-256 of their code, and using one is atomic across replicas (a row lock).
 */
import type {
  Action,
  AttributesEntry,
  PolicyStore,
  ResourcePolicy,
  ResourceType,
  ResourceTypePolicy,
} from '@ockam/abac';
import {
  type AttributesStore,
  type EnrollmentToken,
  type Member,
  type MemberStore,
  memberPruneDue,
  type TokenStore,
} from '@ockam/credentials';
import pg from 'pg';
import { StateError } from './errors.js';
import type { IdentityRecord, IdentityRow } from './identities.js';
import type { ProjectRecord, ProjectRow } from './projects.js';
import { identityRecord, projectRecord } from './records.js';
import {
  bytesMapFromJson,
  checkAttributes,
  checkIdentity,
  checkMember,
  checkName,
  checkPolicy,
  checkProject,
  checkToken,
  checkValue,
  tokenCodeHash as codeHash,
  textMapFromJson as fromJson,
  type IdentityStore,
  type NodeResource,
  type NodeStateStore,
  type ProjectInput,
  type ProjectStore,
  type ResourceStore,
  toJsonText,
} from './store.js';
import {
  ATTRIBUTES_UPSERT,
  IDENTITY_INSERT,
  MEMBER_UPSERT,
  numbered,
  POLICY_TABLES,
  PROJECT_UPSERT,
  policyUpsert,
  projectParams,
  RESOURCE_UPSERT,
  TOKEN_UPSERT,
} from './upserts.js';

export interface PostgresConfig {
  host: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
  /** A schema to keep the tables in (created if missing), instead of the user's search path. */
  schema?: string;
}

export function postgresConfigFromEnv(env = process.env): PostgresConfig | undefined {
  if (!env.OCKAM_POSTGRES_HOST || !env.OCKAM_POSTGRES_PORT) return undefined;
  const port = Number(env.OCKAM_POSTGRES_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`Invalid OCKAM_POSTGRES_PORT '${env.OCKAM_POSTGRES_PORT}'`);
  return {
    host: env.OCKAM_POSTGRES_HOST,
    port,
    database: env.OCKAM_POSTGRES_DATABASE_NAME || 'postgres',
    ...(env.OCKAM_POSTGRES_USER ? { user: env.OCKAM_POSTGRES_USER } : {}),
    ...(env.OCKAM_POSTGRES_PASSWORD ? { password: env.OCKAM_POSTGRES_PASSWORD } : {}),
  };
}

/**
 * The same tables as the SQLite store, with PostgreSQL's types: times in BIGINT, bytes in BYTEA.
 * `seq` gives resources the order of their first put (an upsert keeps its row, so its seq).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS authority_member (
  authority TEXT NOT NULL, identifier TEXT NOT NULL, attributes TEXT NOT NULL,
  added_by TEXT NOT NULL, added_at BIGINT NOT NULL, pre_trusted BOOLEAN NOT NULL,
  PRIMARY KEY (authority, identifier));
ALTER TABLE authority_member ADD COLUMN IF NOT EXISTS expires_at BIGINT;
CREATE TABLE IF NOT EXISTS authority_enrollment_token (
  authority TEXT NOT NULL, code_hash TEXT NOT NULL, reference TEXT NOT NULL, issued_by TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, ttl_count INTEGER NOT NULL, attributes TEXT NOT NULL,
  PRIMARY KEY (authority, code_hash));
CREATE TABLE IF NOT EXISTS identity (
  name TEXT PRIMARY KEY, identifier TEXT NOT NULL, vault_name TEXT NOT NULL, change_history BYTEA NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS project (
  name TEXT PRIMARY KEY, id TEXT NOT NULL, identifier TEXT NOT NULL, change_history BYTEA NOT NULL,
  route TEXT NOT NULL, node_name TEXT, created_at BIGINT NOT NULL, authority_change_history BYTEA,
  authority_route TEXT);
CREATE TABLE IF NOT EXISTS node_resource (
  seq BIGSERIAL, node_name TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
  created_at BIGINT NOT NULL, PRIMARY KEY (node_name, kind, name));
CREATE TABLE IF NOT EXISTS identity_attributes (
  node_name TEXT NOT NULL, subject TEXT NOT NULL, attested_by TEXT NOT NULL, attributes TEXT NOT NULL,
  added_at BIGINT NOT NULL, expires_at BIGINT, PRIMARY KEY (node_name, subject, attested_by));
CREATE TABLE IF NOT EXISTS resource_policy (
  node_name TEXT NOT NULL, resource_name TEXT NOT NULL, action TEXT NOT NULL, expression TEXT NOT NULL,
  PRIMARY KEY (node_name, resource_name, action));
CREATE TABLE IF NOT EXISTS resource_type_policy (
  node_name TEXT NOT NULL, resource_type TEXT NOT NULL, action TEXT NOT NULL, expression TEXT NOT NULL,
  PRIMARY KEY (node_name, resource_type, action));`;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A connection pool with the tables created (idempotently, under an advisory lock, so replicas
 * starting together do not race).
 */
export async function openPostgres(config: PostgresConfig): Promise<pg.Pool> {
  const { schema, ...connection } = config;
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new StateError('invalid', `Invalid PostgreSQL schema name '${schema}': use [a-z_][a-z0-9_]*`);
  const pool = new pg.Pool({
    ...connection,
    max: 4,
    ...(schema !== undefined ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client's error (the server restarting) must not crash the process; queries still fail.
  pool.on('error', () => {});
  try {
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(728071)');
      try {
        if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(SCHEMA);
      } finally {
        await client.query('SELECT pg_advisory_unlock(728071)');
      }
    } finally {
      client.release();
    }
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  return pool;
}

/** Runs `fn` in one transaction on one connection. */
async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

interface MemberRow {
  identifier: string;
  attributes: string;
  added_by: string;
  added_at: string;
  pre_trusted: boolean;
  expires_at?: string | null;
}

export class PostgresMemberStore implements MemberStore {
  constructor(
    readonly pool: pg.Pool,
    readonly authority: string,
  ) {}

  #member = (r: MemberRow): Member => ({
    identifier: r.identifier,
    attributes: fromJson(r.attributes),
    addedBy: r.added_by,
    addedAt: Number(r.added_at),
    preTrusted: r.pre_trusted,
    ...(r.expires_at === null || r.expires_at === undefined ? {} : { expiresAt: Number(r.expires_at) }),
  });

  async getMember(identifier: string): Promise<Member | undefined> {
    const r = await this.pool.query<MemberRow>(
      'SELECT * FROM authority_member WHERE authority = $1 AND identifier = $2',
      [this.authority, identifier],
    );
    return r.rows[0] && this.#member(r.rows[0]);
  }

  async listMembers(): Promise<Member[]> {
    const r = await this.pool.query<MemberRow>(
      'SELECT * FROM authority_member WHERE authority = $1 ORDER BY added_at, identifier COLLATE "C"',
      [this.authority],
    );
    return r.rows.map(this.#member);
  }

  #pruned = Number.NEGATIVE_INFINITY;

  async addMember(m: Member): Promise<void> {
    const attributes = checkMember(m);
    if (memberPruneDue(this.#pruned, m.addedAt)) {
      this.#pruned = m.addedAt;
      await this.pool.query(
        'DELETE FROM authority_member WHERE authority = $1 AND NOT pre_trusted AND expires_at IS NOT NULL AND expires_at <= $2',
        [this.authority, m.addedAt],
      );
    }
    await this.pool.query(numbered(MEMBER_UPSERT), [
      this.authority,
      m.identifier,
      attributes,
      m.addedBy,
      m.addedAt,
      m.preTrusted,
      m.expiresAt ?? null,
    ]);
  }

  async deleteMember(identifier: string): Promise<boolean> {
    const r = await this.pool.query(
      'DELETE FROM authority_member WHERE authority = $1 AND identifier = $2 AND NOT pre_trusted',
      [this.authority, identifier],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async bootstrapPreTrusted(members: readonly Member[]): Promise<void> {
    const checked = members.map((m) => ({ m, attributes: checkMember(m) }));
    await transaction(this.pool, async (client) => {
      await client.query('DELETE FROM authority_member WHERE authority = $1 AND pre_trusted', [
        this.authority,
      ]);
      for (const { m, attributes } of checked)
        await client.query(numbered(MEMBER_UPSERT), [
          this.authority,
          m.identifier,
          attributes,
          m.addedBy,
          m.addedAt,
          true,
          m.expiresAt ?? null,
        ]);
    });
  }
}

export class PostgresTokenStore implements TokenStore {
  constructor(
    readonly pool: pg.Pool,
    readonly authority: string,
  ) {}

  async storeToken(t: EnrollmentToken): Promise<void> {
    const attributes = checkToken(t);
    await this.pool.query(numbered(TOKEN_UPSERT), [
      this.authority,
      codeHash(t.oneTimeCode),
      t.reference,
      t.issuedBy,
      t.createdAt,
      t.expiresAt,
      t.ttlCount,
      attributes,
    ]);
  }

  /** One transaction with the row locked: replicas racing for a token's last use cannot both get it. */
  useToken(code: Uint8Array, now: number): Promise<EnrollmentToken | undefined> {
    return transaction(this.pool, async (client) => {
      await client.query('DELETE FROM authority_enrollment_token WHERE authority = $1 AND expires_at <= $2', [
        this.authority,
        now,
      ]);
      const r = await client.query<{
        reference: string;
        issued_by: string;
        created_at: string;
        expires_at: string;
        ttl_count: number;
        attributes: string;
      }>('SELECT * FROM authority_enrollment_token WHERE authority = $1 AND code_hash = $2 FOR UPDATE', [
        this.authority,
        codeHash(code),
      ]);
      const row = r.rows[0];
      if (!row) return undefined;
      if (row.ttl_count <= 1)
        await client.query('DELETE FROM authority_enrollment_token WHERE authority = $1 AND code_hash = $2', [
          this.authority,
          codeHash(code),
        ]);
      else
        await client.query(
          'UPDATE authority_enrollment_token SET ttl_count = ttl_count - 1 WHERE authority = $1 AND code_hash = $2',
          [this.authority, codeHash(code)],
        );
      return {
        oneTimeCode: code,
        reference: row.reference,
        issuedBy: row.issued_by,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        ttlCount: row.ttl_count,
        attributes: fromJson(row.attributes),
      };
    });
  }
}

interface AttributesRow {
  attested_by: string;
  attributes: string;
  added_at: string;
  expires_at: string | null;
}

const attributesEntry = (r: AttributesRow): AttributesEntry => ({
  attestedBy: r.attested_by,
  attributes: bytesMapFromJson(r.attributes),
  addedAt: Number(r.added_at),
  ...(r.expires_at !== null ? { expiresAt: Number(r.expires_at) } : {}),
});

export class PostgresAttributesStore implements AttributesStore {
  constructor(
    readonly pool: pg.Pool,
    readonly nodeName: string,
  ) {}

  async getAttributes(
    subject: string,
    attestedBy: string,
    now: number,
  ): Promise<AttributesEntry | undefined> {
    const r = await this.pool.query<AttributesRow>(
      'SELECT * FROM identity_attributes WHERE node_name = $1 AND subject = $2 AND attested_by = $3 AND (expires_at IS NULL OR expires_at > $4)',
      [this.nodeName, subject, attestedBy, now],
    );
    return r.rows[0] && attributesEntry(r.rows[0]);
  }

  async putAttributes(subject: string, e: AttributesEntry): Promise<void> {
    const attributes = checkAttributes(subject, e);
    await this.pool.query(numbered(ATTRIBUTES_UPSERT), [
      this.nodeName,
      subject,
      e.attestedBy,
      attributes,
      e.addedAt,
      e.expiresAt ?? null,
    ]);
  }

  async listAttributes(subject: string, now: number): Promise<AttributesEntry[]> {
    const r = await this.pool.query<AttributesRow>(
      'SELECT * FROM identity_attributes WHERE node_name = $1 AND subject = $2 AND (expires_at IS NULL OR expires_at > $3) ORDER BY attested_by COLLATE "C"',
      [this.nodeName, subject, now],
    );
    return r.rows.map(attributesEntry);
  }

  async deleteExpired(now: number): Promise<number> {
    const r = await this.pool.query(
      'DELETE FROM identity_attributes WHERE node_name = $1 AND expires_at IS NOT NULL AND expires_at <= $2',
      [this.nodeName, now],
    );
    return r.rowCount ?? 0;
  }
}

/**
 * Resource and resource-type policies: one class over the two tables, which differ only in the
 * name of their key column (a fixed identifier here, never user input).
 */
class PolicyTable {
  readonly table: string;
  readonly column: string;

  constructor(
    readonly pool: pg.Pool,
    readonly nodeName: string,
    readonly names: (typeof POLICY_TABLES)[keyof typeof POLICY_TABLES],
  ) {
    this.table = names.table;
    this.column = names.column;
  }

  async get(key: string, action: string): Promise<string | undefined> {
    const r = await this.pool.query<{ expression: string }>(
      `SELECT expression FROM ${this.table} WHERE node_name = $1 AND ${this.column} = $2 AND action = $3`,
      [this.nodeName, key, action],
    );
    return r.rows[0]?.expression;
  }

  async set(key: string, action: string, expression: string): Promise<void> {
    checkPolicy(key, action, expression);
    await this.pool.query(numbered(policyUpsert(this.names)), [this.nodeName, key, action, expression]);
  }

  async delete(key: string, action: string): Promise<boolean> {
    const r = await this.pool.query(
      `DELETE FROM ${this.table} WHERE node_name = $1 AND ${this.column} = $2 AND action = $3`,
      [this.nodeName, key, action],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async list(key?: string): Promise<Array<{ key: string; action: string; expression: string }>> {
    const r = await this.pool.query<{ key: string; action: string; expression: string }>(
      `SELECT ${this.column} AS key, action, expression FROM ${this.table} WHERE node_name = $1
       ${key === undefined ? '' : `AND ${this.column} = $2`} ORDER BY ${this.column} COLLATE "C", action COLLATE "C"`,
      key === undefined ? [this.nodeName] : [this.nodeName, key],
    );
    return r.rows;
  }
}

export class PostgresPolicyStore implements PolicyStore {
  readonly #byName: PolicyTable;
  readonly #byType: PolicyTable;

  constructor(pool: pg.Pool, nodeName: string) {
    this.#byName = new PolicyTable(pool, nodeName, POLICY_TABLES.resource);
    this.#byType = new PolicyTable(pool, nodeName, POLICY_TABLES.type);
  }

  async getResourcePolicy(resourceName: string, action: Action): Promise<ResourcePolicy | undefined> {
    const expression = await this.#byName.get(resourceName, action);
    return expression === undefined ? undefined : { resourceName, action, expression };
  }

  setResourcePolicy(resourceName: string, action: Action, expression: string): Promise<void> {
    return this.#byName.set(resourceName, action, expression);
  }

  deleteResourcePolicy(resourceName: string, action: Action): Promise<boolean> {
    return this.#byName.delete(resourceName, action);
  }

  async listResourcePolicies(resourceName?: string): Promise<ResourcePolicy[]> {
    return (await this.#byName.list(resourceName)).map(
      (r) => ({ resourceName: r.key, action: r.action, expression: r.expression }) as ResourcePolicy,
    );
  }

  async getResourceTypePolicy(
    resourceType: ResourceType,
    action: Action,
  ): Promise<ResourceTypePolicy | undefined> {
    const expression = await this.#byType.get(resourceType, action);
    return expression === undefined ? undefined : { resourceType, action, expression };
  }

  setResourceTypePolicy(resourceType: ResourceType, action: Action, expression: string): Promise<void> {
    return this.#byType.set(resourceType, action, expression);
  }

  deleteResourceTypePolicy(resourceType: ResourceType, action: Action): Promise<boolean> {
    return this.#byType.delete(resourceType, action);
  }

  async listResourceTypePolicies(resourceType?: ResourceType): Promise<ResourceTypePolicy[]> {
    return (await this.#byType.list(resourceType)).map(
      (r) => ({ resourceType: r.key, action: r.action, expression: r.expression }) as ResourceTypePolicy,
    );
  }
}

/** PostgreSQL's SQLSTATE for a PRIMARY KEY or UNIQUE clash. */
const UNIQUE_VIOLATION = '23505';

export class PostgresIdentities implements IdentityStore {
  constructor(readonly pool: pg.Pool) {}

  async create(i: IdentityRecord): Promise<void> {
    checkIdentity(i);
    try {
      await this.pool.query(numbered(IDENTITY_INSERT), [
        i.name,
        i.identifier,
        i.vaultName,
        Buffer.from(i.changeHistory),
        i.isDefault ? 1 : 0,
        i.createdAt,
      ]);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === UNIQUE_VIOLATION)
        throw new StateError('already-exists', `Identity ${i.name} already exists`, { cause });
      throw cause;
    }
  }

  async get(name: string): Promise<IdentityRecord | undefined> {
    const r = await this.pool.query<IdentityRow>('SELECT * FROM identity WHERE name = $1', [name]);
    return r.rows[0] && identityRecord(r.rows[0]);
  }

  async list(): Promise<IdentityRecord[]> {
    const r = await this.pool.query<IdentityRow>(
      'SELECT * FROM identity ORDER BY created_at, name COLLATE "C"',
    );
    return r.rows.map(identityRecord);
  }

  async replaceChangeHistory(name: string, previous: Uint8Array, next: Uint8Array): Promise<boolean> {
    checkValue('change history', next);
    const r = await this.pool.query(
      'UPDATE identity SET change_history = $1 WHERE name = $2 AND change_history = $3',
      [Buffer.from(next), name, Buffer.from(previous)],
    );
    return r.rowCount === 1;
  }

  async delete(name: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM identity WHERE name = $1', [name]);
    return (r.rowCount ?? 0) > 0;
  }
}

export class PostgresProjects implements ProjectStore {
  constructor(
    readonly pool: pg.Pool,
    readonly now: () => number = Date.now,
  ) {}

  async put(p: ProjectInput): Promise<void> {
    checkProject(p);
    await this.pool.query(numbered(PROJECT_UPSERT), projectParams(p, this.now()));
  }

  async get(name: string): Promise<ProjectRecord | undefined> {
    const r = await this.pool.query<ProjectRow>('SELECT * FROM project WHERE name = $1', [name]);
    return r.rows[0] && projectRecord(r.rows[0]);
  }

  async list(): Promise<ProjectRecord[]> {
    const r = await this.pool.query<ProjectRow>(
      'SELECT * FROM project ORDER BY created_at, name COLLATE "C"',
    );
    return r.rows.map(projectRecord);
  }

  async delete(name: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM project WHERE name = $1', [name]);
    return (r.rowCount ?? 0) > 0;
  }
}

export class PostgresResources implements ResourceStore {
  constructor(
    readonly pool: pg.Pool,
    readonly now: () => number = Date.now,
  ) {}

  async put(node: string, kind: string, name: string, config: unknown): Promise<void> {
    checkName('node name', node);
    checkName('resource kind', kind);
    checkName('resource name', name);
    await this.pool.query(numbered(RESOURCE_UPSERT), [
      node,
      kind,
      name,
      toJsonText('resource config', config),
      this.now(),
    ]);
  }

  async delete(node: string, kind: string, name: string): Promise<boolean> {
    const r = await this.pool.query(
      'DELETE FROM node_resource WHERE node_name = $1 AND kind = $2 AND name = $3',
      [node, kind, name],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async list(node: string, kind?: string): Promise<NodeResource[]> {
    const r = await this.pool.query<{ kind: string; name: string; config: string }>(
      `SELECT kind, name, config FROM node_resource WHERE node_name = $1 ${kind === undefined ? '' : 'AND kind = $2'} ORDER BY seq`,
      kind === undefined ? [node] : [node, kind],
    );
    return r.rows.map((row) => ({
      kind: row.kind,
      name: row.name,
      config: JSON.parse(row.config) as unknown,
    }));
  }

  async deleteAll(node: string): Promise<number> {
    const r = await this.pool.query('DELETE FROM node_resource WHERE node_name = $1', [node]);
    return r.rowCount ?? 0;
  }
}

/**
 * The `NodeStateStore` in PostgreSQL (tables created if missing); `close()` ends its pool.
 *
 * @example
 * ```ts
 * import { openPostgresStateStore, postgresConfigFromEnv } from '@ockam/state';
 * const store = await openPostgresStateStore(postgresConfigFromEnv() ?? { host: '127.0.0.1', port: 5432, database: 'postgres' });
 * await store.tokens('I0123…').useToken(code, Math.floor(Date.now() / 1000));
 * await store.close();
 * ```
 */
export async function openPostgresStateStore(config: PostgresConfig): Promise<NodeStateStore> {
  const pool = await openPostgres(config);
  return {
    identities: new PostgresIdentities(pool),
    projects: new PostgresProjects(pool),
    resources: new PostgresResources(pool),
    members: (authority) => new PostgresMemberStore(pool, authority),
    tokens: (authority) => new PostgresTokenStore(pool, authority),
    attributes: (node) => new PostgresAttributesStore(pool, node),
    policies: (node) => new PostgresPolicyStore(pool, node),
    close: () => pool.end(),
  };
}
