/**
 * PostgreSQL stores for an authority's members and enrollment tokens (PROTOCOL.md §10.1, §5.2):
 * several authority replicas with the same identity can share one store. Configured as in Ockam
 * by `OCKAM_POSTGRES_HOST` and `OCKAM_POSTGRES_PORT`, with optional `OCKAM_POSTGRES_DATABASE_NAME`
 * (default `postgres`), `OCKAM_POSTGRES_USER` and `OCKAM_POSTGRES_PASSWORD`. Tokens are stored by
 * the SHA-256 of their code, and using one is atomic across replicas (a row lock).
 */
import { createHash } from 'node:crypto';
import type { EnrollmentToken, Member, MemberStore, TokenStore } from '@ockam/credentials';
import pg from 'pg';

export interface PostgresConfig {
  host: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS authority_member (
  authority TEXT NOT NULL, identifier TEXT NOT NULL, attributes TEXT NOT NULL,
  added_by TEXT NOT NULL, added_at BIGINT NOT NULL, pre_trusted BOOLEAN NOT NULL,
  PRIMARY KEY (authority, identifier));
CREATE TABLE IF NOT EXISTS authority_enrollment_token (
  authority TEXT NOT NULL, code_hash TEXT NOT NULL, reference TEXT NOT NULL, issued_by TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, ttl_count INTEGER NOT NULL, attributes TEXT NOT NULL,
  PRIMARY KEY (authority, code_hash));`;

const toJson = (m: ReadonlyMap<string, string>) => JSON.stringify(Object.fromEntries(m));
const fromJson = (t: string) => new Map(Object.entries(JSON.parse(t) as Record<string, string>));
const codeHash = (code: Uint8Array) => createHash('sha256').update(code).digest('hex');

/** A connection pool with the authority tables created (idempotently, safe for replicas starting together). */
export async function openPostgres(config: PostgresConfig): Promise<pg.Pool> {
  const pool = new pg.Pool({ ...config, max: 4 });
  pool.on('error', () => {});
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(728071)');
    try {
      await client.query(SCHEMA);
    } finally {
      await client.query('SELECT pg_advisory_unlock(728071)');
    }
  } finally {
    client.release();
  }
  return pool;
}

interface MemberRow {
  identifier: string;
  attributes: string;
  added_by: string;
  added_at: string;
  pre_trusted: boolean;
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
      'SELECT * FROM authority_member WHERE authority = $1 ORDER BY added_at',
      [this.authority],
    );
    return r.rows.map(this.#member);
  }

  async addMember(m: Member): Promise<void> {
    await this.pool.query(
      `INSERT INTO authority_member (authority, identifier, attributes, added_by, added_at, pre_trusted) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (authority, identifier) DO UPDATE SET attributes = EXCLUDED.attributes, added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at, pre_trusted = EXCLUDED.pre_trusted`,
      [this.authority, m.identifier, toJson(m.attributes), m.addedBy, m.addedAt, m.preTrusted],
    );
  }

  async deleteMember(identifier: string): Promise<boolean> {
    const r = await this.pool.query(
      'DELETE FROM authority_member WHERE authority = $1 AND identifier = $2 AND NOT pre_trusted',
      [this.authority, identifier],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async bootstrapPreTrusted(members: readonly Member[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM authority_member WHERE authority = $1 AND pre_trusted', [
        this.authority,
      ]);
      for (const m of members) {
        await client.query(
          `INSERT INTO authority_member (authority, identifier, attributes, added_by, added_at, pre_trusted) VALUES ($1, $2, $3, $4, $5, TRUE)
           ON CONFLICT (authority, identifier) DO UPDATE SET attributes = EXCLUDED.attributes, pre_trusted = TRUE`,
          [this.authority, m.identifier, toJson(m.attributes), m.addedBy, m.addedAt],
        );
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
}

export class PostgresTokenStore implements TokenStore {
  constructor(
    readonly pool: pg.Pool,
    readonly authority: string,
  ) {}

  async storeToken(t: EnrollmentToken): Promise<void> {
    await this.pool.query(
      `INSERT INTO authority_enrollment_token (authority, code_hash, reference, issued_by, created_at, expires_at, ttl_count, attributes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (authority, code_hash) DO UPDATE SET ttl_count = EXCLUDED.ttl_count, expires_at = EXCLUDED.expires_at`,
      [
        this.authority,
        codeHash(t.oneTimeCode),
        t.reference,
        t.issuedBy,
        t.createdAt,
        t.expiresAt,
        t.ttlCount,
        toJson(t.attributes),
      ],
    );
  }

  async useToken(code: Uint8Array, now: number): Promise<EnrollmentToken | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
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
      if (!row) {
        await client.query('COMMIT');
        return undefined;
      }
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
      await client.query('COMMIT');
      return {
        oneTimeCode: code,
        reference: row.reference,
        issuedBy: row.issued_by,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
        ttlCount: row.ttl_count,
        attributes: fromJson(row.attributes),
      };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }
}
