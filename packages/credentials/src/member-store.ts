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

/** How often (in seconds of `addedAt`) adding a member also deletes the memberships that expired. */
export const MEMBER_PRUNE_INTERVAL_SECONDS = 60;

/**
 * Whether an `addMember` at `addedAt` should first delete expired memberships (not pre-trusted):
 * at the first add, then at most once a minute, so memberships from ID tokens do not pile up
 * while each add stays cheap. An expired member is refused anyway; this only frees its row.
 */
export function memberPruneDue(lastPrune: number, addedAt: number): boolean {
  return addedAt - lastPrune >= MEMBER_PRUNE_INTERVAL_SECONDS || addedAt < lastPrune;
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

  #pruned = Number.NEGATIVE_INFINITY;

  addMember(member: Member): void {
    if (memberPruneDue(this.#pruned, member.addedAt)) {
      this.#pruned = member.addedAt;
      for (const [k, m] of this.#members)
        if (!m.preTrusted && m.expiresAt !== undefined && m.expiresAt <= member.addedAt)
          this.#members.delete(k);
    }
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
