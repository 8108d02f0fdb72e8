/**
 * SQLite implementations of the stores that credentials and ABAC need, in the node's state
 * database: authority members and enrollment tokens (per authority), verified attributes and
 * policies (per node). Enrollment tokens are stored by the SHA-256 of their one-time code, never
 * the code itself: a copy of the database cannot be used to enroll.
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
import type { State } from './state.js';
import {
  bytesMapFromJson,
  checkAttributes,
  checkMember,
  checkPolicy,
  checkToken,
  tokenCodeHash as codeHash,
  textMapFromJson as fromJson,
} from './store.js';
import { ATTRIBUTES_UPSERT, MEMBER_UPSERT, POLICY_TABLES, policyUpsert, TOKEN_UPSERT } from './upserts.js';

export class SqliteMemberStore implements MemberStore {
  constructor(
    readonly state: State,
    readonly authority: string,
  ) {}

  #row = (r: {
    identifier: string;
    attributes: string;
    added_by: string;
    added_at: number;
    pre_trusted: number;
    expires_at: number | null;
  }): Member => ({
    identifier: r.identifier,
    attributes: fromJson(r.attributes),
    addedBy: r.added_by,
    addedAt: r.added_at,
    preTrusted: r.pre_trusted === 1,
    ...(r.expires_at === null ? {} : { expiresAt: r.expires_at }),
  });

  getMember(identifier: string): Member | undefined {
    const r = this.state.db
      .prepare('SELECT * FROM authority_member WHERE authority = ? AND identifier = ?')
      .get(this.authority, identifier);
    return r ? this.#row(r as never) : undefined;
  }

  listMembers(): Member[] {
    return (
      this.state.db
        .prepare('SELECT * FROM authority_member WHERE authority = ? ORDER BY added_at, identifier')
        .all(this.authority) as never[]
    ).map(this.#row);
  }

  #pruned = Number.NEGATIVE_INFINITY;

  addMember(m: Member): void {
    const attributes = checkMember(m);
    if (memberPruneDue(this.#pruned, m.addedAt)) {
      this.#pruned = m.addedAt;
      this.state.db
        .prepare(
          'DELETE FROM authority_member WHERE authority = ? AND pre_trusted = 0 AND expires_at IS NOT NULL AND expires_at <= ?',
        )
        .run(this.authority, m.addedAt);
    }
    this.state.db
      .prepare(MEMBER_UPSERT)
      .run(
        this.authority,
        m.identifier,
        attributes,
        m.addedBy,
        m.addedAt,
        m.preTrusted ? 1 : 0,
        m.expiresAt ?? null,
      );
  }

  deleteMember(identifier: string): boolean {
    return (
      this.state.db
        .prepare('DELETE FROM authority_member WHERE authority = ? AND identifier = ? AND pre_trusted = 0')
        .run(this.authority, identifier).changes > 0
    );
  }

  bootstrapPreTrusted(members: readonly Member[]): void {
    for (const m of members) checkMember(m);
    this.state.db
      .transaction(() => {
        this.state.db
          .prepare('DELETE FROM authority_member WHERE authority = ? AND pre_trusted = 1')
          .run(this.authority);
        for (const m of members) this.addMember({ ...m, preTrusted: true });
      })
      .immediate();
  }
}

export class SqliteTokenStore implements TokenStore {
  constructor(
    readonly state: State,
    readonly authority: string,
  ) {}

  storeToken(t: EnrollmentToken): void {
    const attributes = checkToken(t);
    this.state.db
      .prepare(TOKEN_UPSERT)
      .run(
        this.authority,
        codeHash(t.oneTimeCode),
        t.reference,
        t.issuedBy,
        t.createdAt,
        t.expiresAt,
        t.ttlCount,
        attributes,
      );
  }

  useToken(code: Uint8Array, now: number): EnrollmentToken | undefined {
    const db = this.state.db;
    // One transaction: two acceptors racing for the last use cannot both get it.
    return db
      .transaction((): EnrollmentToken | undefined => {
        db.prepare('DELETE FROM authority_enrollment_token WHERE authority = ? AND expires_at <= ?').run(
          this.authority,
          now,
        );
        const r = db
          .prepare('SELECT * FROM authority_enrollment_token WHERE authority = ? AND code_hash = ?')
          .get(this.authority, codeHash(code)) as
          | {
              reference: string;
              issued_by: string;
              created_at: number;
              expires_at: number;
              ttl_count: number;
              attributes: string;
            }
          | undefined;
        if (!r) return undefined;
        if (r.ttl_count <= 1)
          db.prepare('DELETE FROM authority_enrollment_token WHERE authority = ? AND code_hash = ?').run(
            this.authority,
            codeHash(code),
          );
        else
          db.prepare(
            'UPDATE authority_enrollment_token SET ttl_count = ttl_count - 1 WHERE authority = ? AND code_hash = ?',
          ).run(this.authority, codeHash(code));
        return {
          oneTimeCode: code,
          reference: r.reference,
          issuedBy: r.issued_by,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          ttlCount: r.ttl_count,
          attributes: fromJson(r.attributes),
        };
      })
      .immediate();
  }
}

export class SqliteAttributesStore implements AttributesStore {
  constructor(
    readonly state: State,
    readonly nodeName: string,
  ) {}

  #entry = (r: {
    attested_by: string;
    attributes: string;
    added_at: number;
    expires_at: number | null;
  }): AttributesEntry => ({
    attestedBy: r.attested_by,
    attributes: bytesMapFromJson(r.attributes),
    addedAt: r.added_at,
    ...(r.expires_at !== null ? { expiresAt: r.expires_at } : {}),
  });

  getAttributes(subject: string, attestedBy: string, now: number): AttributesEntry | undefined {
    const r = this.state.db
      .prepare(
        'SELECT * FROM identity_attributes WHERE node_name = ? AND subject = ? AND attested_by = ? AND (expires_at IS NULL OR expires_at > ?)',
      )
      .get(this.nodeName, subject, attestedBy, now);
    return r ? this.#entry(r as never) : undefined;
  }

  putAttributes(subject: string, e: AttributesEntry): void {
    const attributes = checkAttributes(subject, e);
    this.state.db
      .prepare(ATTRIBUTES_UPSERT)
      .run(this.nodeName, subject, e.attestedBy, attributes, e.addedAt, e.expiresAt ?? null);
  }

  listAttributes(subject: string, now: number): AttributesEntry[] {
    return (
      this.state.db
        .prepare(
          'SELECT * FROM identity_attributes WHERE node_name = ? AND subject = ? AND (expires_at IS NULL OR expires_at > ?) ORDER BY attested_by',
        )
        .all(this.nodeName, subject, now) as never[]
    ).map(this.#entry);
  }

  deleteExpired(now: number): number {
    return this.state.db
      .prepare(
        'DELETE FROM identity_attributes WHERE node_name = ? AND expires_at IS NOT NULL AND expires_at <= ?',
      )
      .run(this.nodeName, now).changes;
  }
}

export class SqlitePolicyStore implements PolicyStore {
  constructor(
    readonly state: State,
    readonly nodeName: string,
  ) {}

  getResourcePolicy(resourceName: string, action: Action): ResourcePolicy | undefined {
    const r = this.state.db
      .prepare(
        'SELECT expression FROM resource_policy WHERE node_name = ? AND resource_name = ? AND action = ?',
      )
      .get(this.nodeName, resourceName, action) as { expression: string } | undefined;
    return r && ({ resourceName, action, expression: r.expression } as ResourcePolicy);
  }

  setResourcePolicy(resourceName: string, action: Action, expression: string): void {
    checkPolicy(resourceName, action, expression);
    this.state.db
      .prepare(policyUpsert(POLICY_TABLES.resource))
      .run(this.nodeName, resourceName, action, expression);
  }

  deleteResourcePolicy(resourceName: string, action: Action): boolean {
    return (
      this.state.db
        .prepare('DELETE FROM resource_policy WHERE node_name = ? AND resource_name = ? AND action = ?')
        .run(this.nodeName, resourceName, action).changes > 0
    );
  }

  listResourcePolicies(resourceName?: string): ResourcePolicy[] {
    const rows = (
      resourceName === undefined
        ? this.state.db
            .prepare('SELECT * FROM resource_policy WHERE node_name = ? ORDER BY resource_name, action')
            .all(this.nodeName)
        : this.state.db
            .prepare(
              'SELECT * FROM resource_policy WHERE node_name = ? AND resource_name = ? ORDER BY action',
            )
            .all(this.nodeName, resourceName)
    ) as Array<{ resource_name: string; action: string; expression: string }>;
    return rows.map(
      (r) =>
        ({ resourceName: r.resource_name, action: r.action, expression: r.expression }) as ResourcePolicy,
    );
  }

  getResourceTypePolicy(resourceType: ResourceType, action: Action): ResourceTypePolicy | undefined {
    const r = this.state.db
      .prepare(
        'SELECT expression FROM resource_type_policy WHERE node_name = ? AND resource_type = ? AND action = ?',
      )
      .get(this.nodeName, resourceType, action) as { expression: string } | undefined;
    return r && ({ resourceType, action, expression: r.expression } as ResourceTypePolicy);
  }

  setResourceTypePolicy(resourceType: ResourceType, action: Action, expression: string): void {
    checkPolicy(resourceType, action, expression);
    this.state.db
      .prepare(policyUpsert(POLICY_TABLES.type))
      .run(this.nodeName, resourceType, action, expression);
  }

  deleteResourceTypePolicy(resourceType: ResourceType, action: Action): boolean {
    return (
      this.state.db
        .prepare('DELETE FROM resource_type_policy WHERE node_name = ? AND resource_type = ? AND action = ?')
        .run(this.nodeName, resourceType, action).changes > 0
    );
  }

  listResourceTypePolicies(resourceType?: ResourceType): ResourceTypePolicy[] {
    const rows = (
      resourceType === undefined
        ? this.state.db
            .prepare('SELECT * FROM resource_type_policy WHERE node_name = ? ORDER BY resource_type, action')
            .all(this.nodeName)
        : this.state.db
            .prepare(
              'SELECT * FROM resource_type_policy WHERE node_name = ? AND resource_type = ? ORDER BY action',
            )
            .all(this.nodeName, resourceType)
    ) as Array<{ resource_type: string; action: string; expression: string }>;
    return rows.map(
      (r) =>
        ({ resourceType: r.resource_type, action: r.action, expression: r.expression }) as ResourceTypePolicy,
    );
  }
}
