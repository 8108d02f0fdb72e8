/**
 * The authority's members (PROTOCOL.md §5.2): identities with attributes that the credential
 * issuer copies into their credentials. Pre-trusted members (`--trusted-identities`) are
 * replaced as a whole at start and cannot be deleted through the API. A node implements
 * `MemberStore` over SQLite or PostgreSQL.
 */
import type { Awaitable } from '@ockam/core';

export interface Member {
  readonly identifier: string;
  readonly attributes: ReadonlyMap<string, string>;
  /** Who added it: an enroller, the issuer of the token it used, or the authority itself. */
  readonly addedBy: string;
  /** Unix seconds. */
  readonly addedAt: number;
  readonly preTrusted: boolean;
  /**
   * Unix seconds after which it is no longer a member (a person enrolled with an ID token is a
   * member until the token expires); none: until deleted.
   */
  readonly expiresAt?: number;
}

export interface MemberStore {
  getMember(identifier: string): Awaitable<Member | undefined>;
  listMembers(): Awaitable<Member[]>;
  /** Adds or replaces a member. */
  addMember(member: Member): Awaitable<void>;
  /** Deletes a member that is not pre-trusted; returns whether one was deleted. */
  deleteMember(identifier: string): Awaitable<boolean>;
  /** Replaces every pre-trusted member with `members` (all marked pre-trusted). */
  bootstrapPreTrusted(members: readonly Member[]): Awaitable<void>;
}

/** A MemberStore in memory. */
export class MemoryMemberStore implements MemberStore {
  readonly #members = new Map<string, Member>();

  getMember(identifier: string): Member | undefined {
    return this.#members.get(identifier);
  }

  listMembers(): Member[] {
    return [...this.#members.values()];
  }

  addMember(member: Member): void {
    this.#members.set(member.identifier, member);
  }

  deleteMember(identifier: string): boolean {
    const m = this.#members.get(identifier);
    if (m === undefined || m.preTrusted) return false;
    return this.#members.delete(identifier);
  }

  bootstrapPreTrusted(members: readonly Member[]): void {
    for (const [id, m] of this.#members) if (m.preTrusted) this.#members.delete(id);
    for (const m of members) this.#members.set(m.identifier, { ...m, preTrusted: true });
  }
}
