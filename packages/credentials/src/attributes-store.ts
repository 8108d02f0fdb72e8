/**
 * Verified attributes (PROTOCOL.md §5.1: "presented credentials that verify are written to
 * `identity_attributes`"), keyed by subject and issuer, with the credential's expiry. This is
 * the `AttributesLookup` that `@ockam/abac` access controls read.
 *
 * @example
 * ```ts
 * import { MemoryAttributesStore, presentedCredentialsHandler } from '@ockam/credentials';
 * const attributes = new MemoryAttributesStore();
 * const listener = await createSecureChannelListener(node, {
 *   identity, vault,
 *   verifyCredentials: presentedCredentialsHandler({ trustedAuthorities: [authority], store: attributes }),
 * });
 * ```
 */
import type { AttributesEntry, AttributesLookup } from '@ockam/abac';
import type { Awaitable, Logger } from '@ockam/core';
import { CredentialError } from './credential-error.js';
import { type TrustedAuthority, type VerifiedCredential, verifyCredential } from './verify-credential.js';

export type { AttributesEntry, AttributesLookup } from '@ockam/abac';

/** Storage of verified attributes; a node implements it over SQLite. */
export interface AttributesStore extends AttributesLookup {
  /** Stores (replaces) what `entry.attestedBy` attested for `subject`. */
  putAttributes(subject: string, entry: AttributesEntry): Awaitable<void>;
  /** Every unexpired entry of a subject, whatever the issuer. */
  listAttributes(subject: string, now: number): Awaitable<AttributesEntry[]>;
  /** Forgets entries that expired at `now`; returns how many. */
  deleteExpired(now: number): Awaitable<number>;
}

/** An AttributesStore in memory. */
export class MemoryAttributesStore implements AttributesStore {
  readonly #entries = new Map<string, Map<string, AttributesEntry>>();

  putAttributes(subject: string, entry: AttributesEntry): void {
    let bySubject = this.#entries.get(subject);
    if (bySubject === undefined) this.#entries.set(subject, (bySubject = new Map()));
    bySubject.set(entry.attestedBy, entry);
  }

  getAttributes(subject: string, attestedBy: string, now: number): AttributesEntry | undefined {
    const e = this.#entries.get(subject)?.get(attestedBy);
    return e === undefined || expired(e, now) ? undefined : e;
  }

  listAttributes(subject: string, now: number): AttributesEntry[] {
    return [...(this.#entries.get(subject)?.values() ?? [])].filter((e) => !expired(e, now));
  }

  deleteExpired(now: number): number {
    let n = 0;
    for (const [subject, bySubject] of this.#entries) {
      for (const [issuer, e] of bySubject) {
        if (expired(e, now)) {
          bySubject.delete(issuer);
          n++;
        }
      }
      if (bySubject.size === 0) this.#entries.delete(subject);
    }
    return n;
  }
}

/** Ockam deletes entries with `expires <= now`. */
function expired(e: AttributesEntry, now: number): boolean {
  return e.expiresAt !== undefined && e.expiresAt <= now;
}

/** The entry a verified credential gives: its attributes (raw bytes), issuer and expiry. */
export function attributesEntryOf(verified: VerifiedCredential, now: number): AttributesEntry {
  const attributes = new Map<string, Uint8Array>();
  const fatal = new TextDecoder('utf-8', { fatal: true });
  for (const [k, v] of verified.data.attributes.entries) {
    try {
      attributes.set(fatal.decode(k), v.slice());
    } catch {
      // A name that is not UTF-8 cannot be named in a policy.
    }
  }
  return { attributes, attestedBy: verified.issuer, addedAt: now, expiresAt: verified.expiresAt };
}

export interface PresentedCredentialsOptions {
  trustedAuthorities: readonly TrustedAuthority[];
  store: AttributesStore;
  /** Unix seconds (default: the clock). */
  now?: () => number;
  logger?: Logger;
}

/**
 * A handler for the credentials a secure channel peer presents (the `verifyCredentials` hook of
 * `@ockam/secure-channel`): each credential is verified with the peer as expected subject, and
 * the attributes of those that verify are stored. Throws a CredentialError when none verifies
 * (the channel logs it and stays up, as in Ockam).
 */
export function presentedCredentialsHandler(
  options: PresentedCredentialsOptions,
): (context: { peerIdentifier: string; credentials: readonly Uint8Array[] }) => Promise<void> {
  return async ({ peerIdentifier, credentials }) => {
    const now = (options.now ?? (() => Math.floor(Date.now() / 1000)))();
    let firstError: unknown;
    for (const c of credentials) {
      try {
        const verified = verifyCredential(c, {
          trustedAuthorities: options.trustedAuthorities,
          expectedSubject: peerIdentifier,
          now,
        });
        await options.store.putAttributes(peerIdentifier, attributesEntryOf(verified, now));
        options.logger?.debug('stored the attributes of a presented credential', {
          subject: peerIdentifier,
          issuer: verified.issuer,
        });
      } catch (e) {
        firstError ??= e;
        options.logger?.warn('a presented credential was rejected', {
          subject: peerIdentifier,
          error: String(e),
        });
      }
    }
    if (firstError !== undefined && CredentialError.isReason(firstError)) throw firstError;
    if (firstError !== undefined)
      throw new CredentialError('malformed', 'a presented credential was rejected', { cause: firstError });
  };
}
