/**
 * The bridge to `@ockam/identity` (PROTOCOL.md §3.2):
 * - `identityVerifier()` is the default `PeerVerifier`: it imports and verifies the peer's change
 *   history, verifies the purpose-key attestation against that identity's latest key (every rule of
 *   §4.3), and requires the attested key to be an X25519 secure-channel key;
 * - `secureChannelIdentity()` turns an `Identity` whose primary key is in `vault` into what a
 *   channel presents, creating (once per vault and identity) its secure-channel purpose key.
 *
 * @example
 * ```ts
 * import { createIdentity } from '@ockam/identity';
 * import { secureChannelIdentity, identityVerifier } from '@ockam/secure-channel';
 * const me = await secureChannelIdentity(vault, await createIdentity(vault));
 * const peer = await identityVerifier().verifyPeer(me.changeHistory, me.purposeKeyAttestation);
 * peer.identifier === me.identifier; // true
 * ```
 */
import { CborReader, type Vault } from '@ockam/core';
import {
  cachingVerifier,
  createPurposeKey,
  DEFAULT_VERIFICATION_CACHE_ENTRIES,
  defaultVerifier,
  type Identity,
  importIdentity,
  type PurposeKey,
  type SignatureVerifier,
  verifyPurposeKeyAttestation,
} from '@ockam/identity';
import type { PeerVerifier, SecureChannelIdentity, VerifiedPeer } from './channel-identity.js';

/**
 * Changes a peer's change history may have (16). Each change costs one or two signature checks
 * before the peer is known, and a 64 KiB msg3 holds about 280 changes: half a second of CPU for
 * one message. Ockam identities have one change unless rotated, and Ockam's CLI does not rotate.
 */
export const DEFAULT_MAX_PEER_IDENTITY_CHANGES = 16;

export interface IdentityVerifierOptions {
  /** Signature checks (default: `@ockam/identity`'s `defaultVerifier()`, shared by the process). */
  verifier?: SignatureVerifier;
  /** The current time in Unix seconds (tests). */
  now?: () => number;
  /** Changes a peer's history may have (default `DEFAULT_MAX_PEER_IDENTITY_CHANGES`, 16). */
  maxChanges?: number;
  /**
   * Successful signature checks remembered across handshakes (default 256; 0: none). Peers come
   * back with the same change history and attestation, and their two signature checks were about a
   * sixth of a responder's handshake CPU; every other rule (links, windows, expiry) is still applied.
   */
  verificationCacheEntries?: number;
}

export function identityVerifier(options: IdentityVerifierOptions = {}): PeerVerifier {
  const maxChanges = options.maxChanges ?? DEFAULT_MAX_PEER_IDENTITY_CHANGES;
  if (!Number.isSafeInteger(maxChanges) || maxChanges < 1)
    throw new RangeError(`maxChanges must be a whole number ≥ 1, not ${maxChanges}`);
  // The process-wide default unless the caller chose a verifier or a cache size of its own.
  const verifier =
    options.verifier === undefined && options.verificationCacheEntries === undefined
      ? defaultVerifier()
      : cachingVerifier(options.verifier, {
          maxEntries: options.verificationCacheEntries ?? DEFAULT_VERIFICATION_CACHE_ENTRIES,
        });
  // Counted from the array header, before any signature is checked.
  const importBounded = (changeHistory: Uint8Array) => {
    const changes = new CborReader(changeHistory, 'change history').array();
    if (changes > maxChanges)
      throw new TypeError(`the change history has ${changes} changes, more than the ${maxChanges} accepted`);
    return importIdentity(changeHistory, verifier);
  };
  return {
    async verifyPeer(changeHistory, purposeKeyAttestation): Promise<VerifiedPeer> {
      const identity = importBounded(changeHistory);
      const data = verifyPurposeKeyAttestation(purposeKeyAttestation, identity, {
        expectedPurpose: 'secure-channel',
        verifier,
        now: options.now?.(),
      });
      if (data.publicKey.purpose !== 'secure-channel' || data.publicKey.type !== 'x25519') {
        throw new TypeError('the attested key is not an X25519 secure-channel key');
      }
      return { identifier: identity.identifier, secureChannelPublicKey: data.publicKey.bytes };
    },
    async verifyIdentity(changeHistory): Promise<string> {
      return importBounded(changeHistory).identifier;
    },
  };
}

export interface SecureChannelIdentityOptions {
  /** An existing secure-channel purpose key (default: created and cached per vault and identity). */
  purposeKey?: PurposeKey;
  /** CBOR `CredentialAndPurposeKey`s to present. */
  credentials?: readonly Uint8Array[];
}

const purposeKeys = new WeakMap<Vault, Map<string, Promise<PurposeKey>>>();

/** What a channel presents for `identity`, whose primary key `vault` must hold. */
export async function secureChannelIdentity(
  vault: Vault,
  identity: Identity,
  options: SecureChannelIdentityOptions = {},
): Promise<SecureChannelIdentity> {
  let purposeKey = options.purposeKey;
  if (purposeKey === undefined) {
    let cache = purposeKeys.get(vault);
    if (cache === undefined) purposeKeys.set(vault, (cache = new Map()));
    const byIdentity = cache;
    // Keyed by the latest change: a rotated identity needs a fresh attestation.
    const cacheKey = `${identity.identifier}/${identity.changeHistory.length}`;
    let pending = byIdentity.get(cacheKey);
    if (pending === undefined) {
      pending = createPurposeKey(vault, identity, 'secure-channel');
      byIdentity.set(cacheKey, pending);
      pending.catch(() => byIdentity.delete(cacheKey));
    }
    purposeKey = await pending;
  }
  return {
    identifier: identity.identifier,
    changeHistory: identity.changeHistory,
    secureChannelKey: purposeKey.key,
    purposeKeyAttestation: purposeKey.encoded,
    credentials: options.credentials ?? [],
  };
}

/** Accepts either what a channel presents or an `Identity` (then the purpose key is created or reused). */
export async function toSecureChannelIdentity(
  vault: Vault,
  identity: SecureChannelIdentity | Identity,
): Promise<SecureChannelIdentity> {
  return 'secureChannelKey' in identity ? identity : secureChannelIdentity(vault, identity);
}
