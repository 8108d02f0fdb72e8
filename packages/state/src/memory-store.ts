/**
 * The in-memory `NodeStateStore`: for tests, short-lived nodes and programs that keep nothing.
 * It follows the same rules as the SQLite and PostgreSQL stores (checks, upserts, expiry, order),
 * and copies what it stores and returns, as a database would: changing a record after `put`, or
 * one that `get` returned, changes nothing stored.
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
import { StateError } from './errors.js';
import type { IdentityRecord } from './identities.js';
import type { ProjectRecord } from './projects.js';
import {
  checkAttributes,
  checkIdentity,
  checkMember,
  checkName,
  checkPolicy,
  checkProject,
  checkToken,
  checkValue,
  type IdentityStore,
  type NodeResource,
  type NodeStateStore,
  type ProjectInput,
  type ProjectStore,
  type ResourceStore,
  toJsonText,
  tokenCodeHash,
} from './store.js';

const copy = <T>(v: T): T => structuredClone(v);
/** By UTF-8 bytes (code points), as SQLite's BINARY and PostgreSQL's "C" collations order text. */
const byText = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Keys of several parts, joined with NUL (which no checked name contains). */
const key = (...parts: string[]) => parts.join('\u0000');

class MemoryIdentities implements IdentityStore {
  readonly #rows = new Map<string, IdentityRecord>();

  create(identity: IdentityRecord): void {
    checkIdentity(identity);
    if (this.#rows.has(identity.name))
      throw new StateError('already-exists', `Identity ${identity.name} already exists`);
    this.#rows.set(identity.name, copy(identity));
  }

  get(name: string): IdentityRecord | undefined {
    return copy(this.#rows.get(name));
  }

  list(): IdentityRecord[] {
    return copy([...this.#rows.values()].sort((a, b) => a.createdAt - b.createdAt || byText(a.name, b.name)));
  }

  replaceChangeHistory(name: string, previous: Uint8Array, next: Uint8Array): boolean {
    const r = this.#rows.get(name);
    if (!r || !sameBytes(r.changeHistory, previous)) return false;
    this.#rows.set(name, { ...r, changeHistory: checkValue('change history', copy(next)) });
    return true;
  }

  delete(name: string): boolean {
    return this.#rows.delete(name);
  }
}

class MemoryProjects implements ProjectStore {
  readonly #rows = new Map<string, ProjectRecord>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  put(p: ProjectInput): void {
    checkProject(p);
    this.#rows.set(p.name, {
      name: p.name,
      id: p.id,
      identifier: p.identifier,
      changeHistory: copy(p.changeHistory),
      route: p.route,
      nodeName: p.nodeName ?? null,
      authorityChangeHistory: p.authorityChangeHistory ? copy(p.authorityChangeHistory) : null,
      authorityRoute: p.authorityRoute ?? null,
      createdAt: this.#rows.get(p.name)?.createdAt ?? this.#now(),
    });
  }

  get(name: string): ProjectRecord | undefined {
    return copy(this.#rows.get(name));
  }

  list(): ProjectRecord[] {
    return copy([...this.#rows.values()].sort((a, b) => a.createdAt - b.createdAt || byText(a.name, b.name)));
  }

  delete(name: string): boolean {
    return this.#rows.delete(name);
  }
}

class MemoryResources implements ResourceStore {
  /** A Map keeps the place of a key that is set again: the order of first puts. */
  readonly #rows = new Map<string, NodeResource & { node: string }>();

  put(node: string, kind: string, name: string, config: unknown): void {
    checkName('node name', node);
    checkName('resource kind', kind);
    checkName('resource name', name);
    // Stored as its JSON, as the SQL stores do: what comes back is what JSON gives back.
    const json = toJsonText('resource config', config);
    this.#rows.set(key(node, kind, name), { node, kind, name, config: JSON.parse(json) });
  }

  delete(node: string, kind: string, name: string): boolean {
    return this.#rows.delete(key(node, kind, name));
  }

  list(node: string, kind?: string): NodeResource[] {
    return [...this.#rows.values()]
      .filter((r) => r.node === node && (kind === undefined || r.kind === kind))
      .map((r) => copy({ kind: r.kind, name: r.name, config: r.config }));
  }

  deleteAll(node: string): number {
    let n = 0;
    for (const [k, r] of this.#rows) if (r.node === node && this.#rows.delete(k)) n++;
    return n;
  }
}

class MemoryMembers implements MemberStore {
  readonly #rows = new Map<string, Member>();

  getMember(identifier: string): Member | undefined {
    return copy(this.#rows.get(identifier));
  }

  listMembers(): Member[] {
    return copy(
      [...this.#rows.values()].sort((a, b) => a.addedAt - b.addedAt || byText(a.identifier, b.identifier)),
    );
  }

  #pruned = Number.NEGATIVE_INFINITY;

  addMember(m: Member): void {
    checkMember(m);
    if (memberPruneDue(this.#pruned, m.addedAt)) {
      this.#pruned = m.addedAt;
      for (const [k, r] of this.#rows)
        if (!r.preTrusted && r.expiresAt !== undefined && r.expiresAt <= m.addedAt) this.#rows.delete(k);
    }
    this.#rows.set(m.identifier, copy(m));
  }

  deleteMember(identifier: string): boolean {
    const m = this.#rows.get(identifier);
    return m !== undefined && !m.preTrusted && this.#rows.delete(identifier);
  }

  bootstrapPreTrusted(members: readonly Member[]): void {
    for (const m of members) checkMember(m);
    for (const [id, m] of this.#rows) if (m.preTrusted) this.#rows.delete(id);
    for (const m of members) this.#rows.set(m.identifier, { ...copy(m), preTrusted: true });
  }
}

class MemoryTokens implements TokenStore {
  readonly #rows = new Map<string, EnrollmentToken>();

  storeToken(t: EnrollmentToken): void {
    checkToken(t);
    this.#rows.set(tokenCodeHash(t.oneTimeCode), copy(t));
  }

  useToken(code: Uint8Array, now: number): EnrollmentToken | undefined {
    for (const [k, t] of this.#rows) if (t.expiresAt <= now) this.#rows.delete(k);
    const k = tokenCodeHash(code);
    const t = this.#rows.get(k);
    if (t === undefined) return undefined;
    if (t.ttlCount <= 1) this.#rows.delete(k);
    else this.#rows.set(k, { ...t, ttlCount: t.ttlCount - 1 });
    return { ...copy(t), oneTimeCode: code };
  }
}

class MemoryAttributes implements AttributesStore {
  readonly #rows = new Map<string, AttributesEntry & { subject: string }>();

  putAttributes(subject: string, e: AttributesEntry): void {
    checkAttributes(subject, e);
    const entry: AttributesEntry = {
      attestedBy: e.attestedBy,
      attributes: copy(new Map(e.attributes)),
      addedAt: e.addedAt,
      ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}),
    };
    this.#rows.set(key(subject, e.attestedBy), { ...entry, subject });
  }

  getAttributes(subject: string, attestedBy: string, now: number): AttributesEntry | undefined {
    const e = this.#rows.get(key(subject, attestedBy));
    return e === undefined || expired(e, now) ? undefined : entryOf(e);
  }

  listAttributes(subject: string, now: number): AttributesEntry[] {
    return [...this.#rows.values()]
      .filter((e) => e.subject === subject && !expired(e, now))
      .sort((a, b) => byText(a.attestedBy, b.attestedBy))
      .map(entryOf);
  }

  deleteExpired(now: number): number {
    let n = 0;
    for (const [k, e] of this.#rows) if (expired(e, now) && this.#rows.delete(k)) n++;
    return n;
  }
}

const expired = (e: AttributesEntry, now: number) => e.expiresAt !== undefined && e.expiresAt <= now;
const entryOf = ({ subject: _, ...e }: AttributesEntry & { subject: string }): AttributesEntry => copy(e);

class MemoryPolicies implements PolicyStore {
  readonly #byName = new Map<string, ResourcePolicy>();
  readonly #byType = new Map<string, ResourceTypePolicy>();

  getResourcePolicy(resourceName: string, action: Action): ResourcePolicy | undefined {
    return copy(this.#byName.get(key(resourceName, action)));
  }

  setResourcePolicy(resourceName: string, action: Action, expression: string): void {
    checkPolicy(resourceName, action, expression);
    this.#byName.set(key(resourceName, action), { resourceName, action, expression });
  }

  deleteResourcePolicy(resourceName: string, action: Action): boolean {
    return this.#byName.delete(key(resourceName, action));
  }

  listResourcePolicies(resourceName?: string): ResourcePolicy[] {
    return [...this.#byName.values()]
      .filter((p) => resourceName === undefined || p.resourceName === resourceName)
      .sort((a, b) => byText(a.resourceName, b.resourceName) || byText(a.action, b.action))
      .map(copy);
  }

  getResourceTypePolicy(resourceType: ResourceType, action: Action): ResourceTypePolicy | undefined {
    return copy(this.#byType.get(key(resourceType, action)));
  }

  setResourceTypePolicy(resourceType: ResourceType, action: Action, expression: string): void {
    checkPolicy(resourceType, action, expression);
    this.#byType.set(key(resourceType, action), { resourceType, action, expression });
  }

  deleteResourceTypePolicy(resourceType: ResourceType, action: Action): boolean {
    return this.#byType.delete(key(resourceType, action));
  }

  listResourceTypePolicies(resourceType?: ResourceType): ResourceTypePolicy[] {
    return [...this.#byType.values()]
      .filter((p) => resourceType === undefined || p.resourceType === resourceType)
      .sort((a, b) => byText(a.resourceType, b.resourceType) || byText(a.action, b.action))
      .map(copy);
  }
}

/** One store per key, made on first use. */
function perKey<T>(make: () => T): (k: string) => T {
  const all = new Map<string, T>();
  return (k) => {
    let s = all.get(k);
    if (s === undefined) all.set(k, (s = make()));
    return s;
  };
}

/**
 * A `NodeStateStore` in memory; `now` (milliseconds, default `Date.now`) stamps `createdAt`.
 *
 * @example
 * ```ts
 * import { memoryStateStore } from '@ockam/state';
 * const store = memoryStateStore();
 * await store.members('Iauthority').addMember({
 *   identifier: 'Ialice', attributes: new Map([['role', 'db']]), addedBy: 'Iauthority', addedAt: 1, preTrusted: false,
 * });
 * ```
 */
export function memoryStateStore(options: { now?: () => number } = {}): NodeStateStore {
  const members = perKey(() => new MemoryMembers());
  const tokens = perKey(() => new MemoryTokens());
  const attributes = perKey(() => new MemoryAttributes());
  const policies = perKey(() => new MemoryPolicies());
  return {
    identities: new MemoryIdentities(),
    projects: new MemoryProjects(options.now ?? Date.now),
    resources: new MemoryResources(),
    members,
    tokens,
    attributes,
    policies,
    close() {},
  };
}
