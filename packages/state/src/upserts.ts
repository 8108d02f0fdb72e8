/**
 * The writes the SQLite and PostgreSQL stores share, written once with `?` placeholders
 * (`numbered` gives PostgreSQL's `$1, $2, …`). Each upsert is `INSERT … ON CONFLICT … DO UPDATE`
 * and sets every column its record carries, never the first-stored time (see store.ts).
 */
import type { ProjectInput } from './store.js';

/** `?, ?, ?` → `$1, $2, $3` for PostgreSQL. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export const IDENTITY_INSERT =
  'INSERT INTO identity (name, identifier, vault_name, change_history, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?)';

export const PROJECT_UPSERT = `INSERT INTO project (name, id, identifier, change_history, route, node_name, authority_change_history, authority_route, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (name) DO UPDATE SET id = excluded.id, identifier = excluded.identifier,
    change_history = excluded.change_history, route = excluded.route, node_name = excluded.node_name,
    authority_change_history = excluded.authority_change_history, authority_route = excluded.authority_route`;

/** The parameters of `PROJECT_UPSERT`. */
export function projectParams(p: ProjectInput, now: number): unknown[] {
  return [
    p.name,
    p.id,
    p.identifier,
    Buffer.from(p.changeHistory),
    p.route,
    p.nodeName ?? null,
    p.authorityChangeHistory ? Buffer.from(p.authorityChangeHistory) : null,
    p.authorityRoute ?? null,
    now,
  ];
}

export const RESOURCE_UPSERT = `INSERT INTO node_resource (node_name, kind, name, config, created_at) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (node_name, kind, name) DO UPDATE SET config = excluded.config`;

export const MEMBER_UPSERT = `INSERT INTO authority_member (authority, identifier, attributes, added_by, added_at, pre_trusted, expires_at)
  VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (authority, identifier) DO UPDATE SET attributes = excluded.attributes, added_by = excluded.added_by,
    added_at = excluded.added_at, pre_trusted = excluded.pre_trusted, expires_at = excluded.expires_at`;

export const TOKEN_UPSERT = `INSERT INTO authority_enrollment_token (authority, code_hash, reference, issued_by, created_at, expires_at, ttl_count, attributes)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (authority, code_hash) DO UPDATE SET reference = excluded.reference, issued_by = excluded.issued_by,
    created_at = excluded.created_at, expires_at = excluded.expires_at, ttl_count = excluded.ttl_count,
    attributes = excluded.attributes`;

export const ATTRIBUTES_UPSERT = `INSERT INTO identity_attributes (node_name, subject, attested_by, attributes, added_at, expires_at)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (node_name, subject, attested_by) DO UPDATE SET attributes = excluded.attributes,
    added_at = excluded.added_at, expires_at = excluded.expires_at`;

/** Policies by resource name or by resource type: two tables that differ in their key column. */
export const POLICY_TABLES = {
  resource: { table: 'resource_policy', column: 'resource_name' },
  type: { table: 'resource_type_policy', column: 'resource_type' },
} as const;

export function policyUpsert(t: (typeof POLICY_TABLES)[keyof typeof POLICY_TABLES]): string {
  return `INSERT INTO ${t.table} (node_name, ${t.column}, action, expression) VALUES (?, ?, ?, ?)
  ON CONFLICT (node_name, ${t.column}, action) DO UPDATE SET expression = excluded.expression`;
}
