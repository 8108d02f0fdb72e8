/**
 * Where access controls find a subject's attributes (PROTOCOL.md §5.1, §6): the attributes of
 * credentials that verified, keyed by subject and issuer. `@ockam/credentials` provides an
 * in-memory store; a node backs it with SQLite.
 */

import type { Awaitable } from '@ockam/core';

/** The attributes one issuer attested for one subject. */
export interface AttributesEntry {
  /** Names and values as the credential carried them (UTF-8 text in practice). */
  readonly attributes: ReadonlyMap<string, Uint8Array>;
  /** The issuer's identifier (`I…`). */
  readonly attestedBy: string;
  /** Unix seconds when the entry was stored. */
  readonly addedAt: number;
  /** Unix seconds when the entry stops counting (the credential's expiry); absent means never. */
  readonly expiresAt?: number;
}

export interface AttributesLookup {
  /**
   * The attributes `attestedBy` attested for `subject`, or undefined when there are none or they
   * expired at `now` (Unix seconds; an entry with `expiresAt <= now` is expired, as in Ockam).
   */
  getAttributes(subject: string, attestedBy: string, now: number): Awaitable<AttributesEntry | undefined>;
}
