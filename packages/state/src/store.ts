/**
 * One interface for everything a node keeps between runs, implemented three times: in memory
 * (`memoryStateStore`), in SQLite (`sqliteStateStore`, the CLI's `$OCKAM_HOME/database.sqlite3`)
 * and in PostgreSQL (`openPostgresStateStore`, shared by authority replicas). One conformance
 * suite (packages/state/test/conformance.ts) runs against the three, so they agree on:
 *
 * - Upserts (`put`, `addMember`, `storeToken`, `putAttributes`, `set…Policy`): the record given
 *   is the whole new value. Every field of the record type is written, an optional field left out
 *   as "none" (null); what the record type does not carry (when the row was first stored, its place
 *   in a listing) is kept. An upsert never deletes and re-inserts a row: nothing that refers to the
 *   row is lost (SQLite's `INSERT OR REPLACE` would; all three use `ON CONFLICT … DO UPDATE`).
 * - `create` refuses an existing key with a StateError of kind `already-exists`, whatever the
 *   database says.
 * - Names and keys are 1 to `STATE_LIMITS.nameBytes` bytes of UTF-8, without NUL or lone
 *   surrogates (PostgreSQL's TEXT cannot hold NUL; a lone surrogate would not come back the same).
 *   Texts and blobs are at most `STATE_LIMITS.valueBytes`. Anything else is refused with a
 *   StateError of kind `invalid` before it reaches the database. Inside JSON values (attributes,
 *   a resource's config) any character is fine: JSON escapes it.
 * - Expiry: a token or an attributes entry whose `expiresAt <= now` is gone (Ockam's rule).
 * - Listing orders are fixed (each method says which), never "whatever the database returns".
 *
 * @example
 * ```ts
 * import { memoryStateStore } from '@ockam/state';
 * const store = memoryStateStore();
 * await store.resources.put('n1', 'tcp-outlet', 'db', { to: '127.0.0.1:5432' });
 * await store.policies('n1').setResourcePolicy('db', 'handle_message', '(= subject.component "db")');
 * (await store.resources.list('n1')).map((r) => r.name); // ['db']
 * await store.close();
 * ```
 */
import { createHash } from 'node:crypto';
import type { AttributesEntry, PolicyStore } from '@ockam/abac';
import type { Awaitable } from '@ockam/core';
import type { AttributesStore, EnrollmentToken, Member, MemberStore, TokenStore } from '@ockam/credentials';
import { StateError } from './errors.js';
import type { IdentityRecord } from './identities.js';
import type { ProjectRecord } from './projects.js';

/** Bounds every store enforces (bytes of UTF-8 for names, bytes for values and JSON texts). */
export const STATE_LIMITS = {
  /** Names and keys: node, identity, project, resource and vault names, identifiers, routes. */
  nameBytes: 1024,
  /** A change history, a credential, a policy expression, a resource's config or attributes as JSON. */
  valueBytes: 256 * 1024,
} as const;

/** Named identities: their change history and the vault that holds their keys (not the keys). */
export interface IdentityStore {
  /** Stores a new identity; an existing name is a StateError `already-exists`. */
  create(identity: IdentityRecord): Awaitable<void>;
  get(name: string): Awaitable<IdentityRecord | undefined>;
  /** By `createdAt`, then name. */
  list(): Awaitable<IdentityRecord[]>;
  /** Replaces the change history only if it still is `previous` (a rotation); returns whether it did. */
  replaceChangeHistory(name: string, previous: Uint8Array, next: Uint8Array): Awaitable<boolean>;
  delete(name: string): Awaitable<boolean>;
}

/** What `ProjectStore.put` takes: a project without the time it was first stored. */
export type ProjectInput = Omit<ProjectRecord, 'createdAt' | 'authorityChangeHistory' | 'authorityRoute'> &
  Partial<Pick<ProjectRecord, 'authorityChangeHistory' | 'authorityRoute'>>;

/** Projects this node knows (PROTOCOL.md §5.2). */
export interface ProjectStore {
  /** Upserts by name; `createdAt` is set at the first put and kept. */
  put(project: ProjectInput): Awaitable<void>;
  get(name: string): Awaitable<ProjectRecord | undefined>;
  /** By `createdAt`, then name. */
  list(): Awaitable<ProjectRecord[]>;
  delete(name: string): Awaitable<boolean>;
}

/** An inlet, outlet or relay a node recreates when it starts. */
export interface NodeResource {
  readonly kind: string;
  readonly name: string;
  /** JSON-compatible. */
  readonly config: unknown;
}

/** The inlets, outlets and relays each node recreates when it starts. */
export interface ResourceStore {
  /** Upserts by (node, kind, name); a resource keeps its place in the listing. */
  put(node: string, kind: string, name: string, config: unknown): Awaitable<void>;
  delete(node: string, kind: string, name: string): Awaitable<boolean>;
  /** In the order they were first put. */
  list(node: string, kind?: string): Awaitable<NodeResource[]>;
  /** Forgets every resource of a node; returns how many. */
  deleteAll(node: string): Awaitable<number>;
}

/**
 * Everything a node keeps, in one place. Members and tokens belong to an authority (its
 * identifier), attributes and policies to a node (its name).
 */
export interface NodeStateStore {
  readonly identities: IdentityStore;
  readonly projects: ProjectStore;
  readonly resources: ResourceStore;
  /** Members are listed by `addedAt`, then identifier. */
  members(authority: string): MemberStore;
  tokens(authority: string): TokenStore;
  /** `listAttributes` is ordered by `attestedBy`. */
  attributes(node: string): AttributesStore;
  /** Policies are listed by resource name (or type), then action. */
  policies(node: string): PolicyStore;
  close(): Awaitable<void>;
}

const utf8 = new TextEncoder();
/** With the `u` flag a pair is one code point, so this matches only a surrogate standing alone. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Refuses a name or key the three stores could not all keep and give back the same. */
export function checkName(what: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new StateError('invalid', `${what} must be a non-empty string`);
  if (value.includes('\u0000')) throw new StateError('invalid', `${what} must not contain NUL`);
  if (LONE_SURROGATE.test(value)) throw new StateError('invalid', `${what} must be well-formed Unicode`);
  const n = utf8.encode(value).length;
  if (n > STATE_LIMITS.nameBytes)
    throw new StateError('invalid', `${what} is ${n} bytes; the limit is ${STATE_LIMITS.nameBytes}`);
  return value;
}

/** Refuses a text or blob longer than `STATE_LIMITS.valueBytes` (and a text with NUL). */
export function checkValue<T extends string | Uint8Array>(what: string, value: T): T {
  const n = typeof value === 'string' ? utf8.encode(value).length : value.length;
  if (n > STATE_LIMITS.valueBytes)
    throw new StateError('invalid', `${what} is ${n} bytes; the limit is ${STATE_LIMITS.valueBytes}`);
  if (typeof value === 'string' && (value.includes('\u0000') || LONE_SURROGATE.test(value)))
    throw new StateError('invalid', `${what} must be well-formed Unicode without NUL`);
  return value;
}

/** `JSON.stringify`, bounded. */
export function toJsonText(what: string, value: unknown): string {
  const text = JSON.stringify(value ?? null);
  return checkValue(what, text);
}

/** Checks every name and value of a project before any store writes it. */
export function checkProject(p: ProjectInput): void {
  checkName('project name', p.name);
  checkName('project id', p.id);
  checkName('project identifier', p.identifier);
  checkValue('project change history', p.changeHistory);
  checkName('project route', p.route);
  if (p.nodeName != null) checkName('project node name', p.nodeName);
  if (p.authorityChangeHistory != null) checkValue('authority change history', p.authorityChangeHistory);
  if (p.authorityRoute != null) checkName('authority route', p.authorityRoute);
}

/** Checks every name and value of an identity before any store writes it. */
export function checkIdentity(i: IdentityRecord): void {
  checkName('identity name', i.name);
  checkName('identifier', i.identifier);
  checkName('vault name', i.vaultName);
  checkValue('change history', i.changeHistory);
}

// ---- encodings shared by the SQL stores (and the checks every store runs) ----

/** A member's or token's attributes (name → text) as JSON, bounded. */
export function textMapToJson(what: string, m: ReadonlyMap<string, string>): string {
  for (const k of m.keys()) checkName(`${what} name`, k);
  return toJsonText(what, Object.fromEntries(m));
}

export function textMapFromJson(text: string): Map<string, string> {
  return new Map(Object.entries(JSON.parse(text) as Record<string, string>));
}

/** Verified attributes (name → bytes) as JSON of base64 values, bounded. */
export function bytesMapToJson(what: string, m: ReadonlyMap<string, Uint8Array>): string {
  for (const k of m.keys()) checkName(`${what} name`, k);
  return toJsonText(what, Object.fromEntries([...m].map(([k, v]) => [k, Buffer.from(v).toString('base64')])));
}

export function bytesMapFromJson(text: string): Map<string, Uint8Array> {
  return new Map(
    Object.entries(JSON.parse(text) as Record<string, string>).map(([k, v]) => [
      k,
      new Uint8Array(Buffer.from(v, 'base64')),
    ]),
  );
}

/** Member checks: identifier and adder are names, attributes bounded. */
export function checkMember(m: Member): string {
  if (m.expiresAt !== undefined && !Number.isSafeInteger(m.expiresAt))
    throw new StateError('invalid', 'member expiry must be an integer (Unix seconds)');
  checkName('member identifier', m.identifier);
  checkName('member added by', m.addedBy);
  return textMapToJson('member attributes', m.attributes);
}

/** Token checks: reference and issuer are names, attributes bounded. */
export function checkToken(t: EnrollmentToken): string {
  checkName('token reference', t.reference);
  checkName('token issuer', t.issuedBy);
  checkValue('token code', t.oneTimeCode);
  return textMapToJson('token attributes', t.attributes);
}

/** Attributes entry checks: subject and issuer are names, attributes bounded. */
export function checkAttributes(subject: string, e: AttributesEntry): string {
  checkName('subject', subject);
  checkName('attested by', e.attestedBy);
  return bytesMapToJson('attributes', e.attributes);
}

/** Policy checks: the resource (or type) and action are names, the expression a bounded text. */
export function checkPolicy(resource: string, action: string, expression: string): void {
  checkName('resource', resource);
  checkName('action', action);
  checkValue('policy expression', expression);
}

/** Stored by the SHA-256 of their code, never the code: a copy of the store cannot enroll. */
export function tokenCodeHash(code: Uint8Array): string {
  return createHash('sha256').update(code).digest('hex');
}
