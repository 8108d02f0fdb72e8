/**
 * A bounded memo of signature checks that succeeded, in front of a `SignatureVerifier`.
 *
 * A node that accepts secure channels verifies each peer's change history and purpose-key
 * attestation on every handshake (PROTOCOL.md §4.2, §4.3), and the same peers come back: the same
 * identity presents the same signatures over the same digests every time. Whether a signature
 * verifies is a pure function of (key type, public key, message, signature), so a check that
 * succeeded once is remembered under exactly those bytes and answered from memory next time. Every
 * other rule (decoding, change-hash links, time windows, expiry, purposes) is still applied by the
 * callers on every use: only the signature arithmetic is skipped.
 *
 * Failures are never remembered (a forger cannot evict anything by failing), only messages up to
 * `MAX_CACHED_MESSAGE` bytes are remembered (identity and attestation checks sign a SHA-256
 * digest), and at most `maxEntries` results are kept, the least recently used leaving first.
 *
 * @example
 * ```ts
 * const verifier = cachingVerifier(); // in front of the default node:crypto / noble vault
 * importIdentity(changeHistory, verifier); // checks the signatures
 * importIdentity(changeHistory, verifier); // the same bytes: answered from the memo
 * ```
 */
import { type PublicKey, toHex } from '@ockam/core';
import { platformVerifier, type SignatureVerifier } from './internal/default-verifier.js';

/** Results kept by default: each entry is a few hundred bytes. */
export const DEFAULT_VERIFICATION_CACHE_ENTRIES = 256;

/** The longest message whose check is remembered (a digest is 32 bytes). */
export const MAX_CACHED_MESSAGE = 64;

export interface CachingVerifierOptions {
  /** Successful checks remembered (default 256); 0 remembers none. */
  maxEntries?: number;
}

let shared: SignatureVerifier | undefined;

/**
 * The verifier every function of `@ockam/identity`, `@ockam/secure-channel` and
 * `@ockam/credentials` uses when none is given: one per process, a `cachingVerifier` with the
 * default 256 entries in front of the platform's vault (node:crypto on Node.js, noble in browsers).
 *
 * @example
 * ```ts
 * import { defaultVerifier, importIdentity } from '@ockam/identity';
 * importIdentity(changeHistory); // the same as importIdentity(changeHistory, defaultVerifier())
 * ```
 */
export function defaultVerifier(): SignatureVerifier {
  shared ??= cachingVerifier();
  return shared;
}

/** A `SignatureVerifier` that remembers up to `maxEntries` successful checks of `inner`. */
export function cachingVerifier(
  inner: SignatureVerifier = platformVerifier(),
  options: CachingVerifierOptions = {},
): SignatureVerifier {
  const maxEntries = options.maxEntries ?? DEFAULT_VERIFICATION_CACHE_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 0)
    throw new RangeError(`maxEntries must be a whole number ≥ 0, not ${maxEntries}`);
  if (maxEntries === 0) return inner;
  const verified = new Set<string>();
  return {
    sha256: (data) => inner.sha256(data),
    verify(publicKey: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
      if (message.length > MAX_CACHED_MESSAGE) return inner.verify(publicKey, message, signature);
      // Lengths are fixed per key type, but '/' keeps the parts apart whatever they are.
      const key = `${publicKey.type}/${toHex(publicKey.bytes)}/${toHex(message)}/${toHex(signature)}`;
      if (verified.has(key)) {
        // Most recently used last: a Set iterates in insertion order.
        verified.delete(key);
        verified.add(key);
        return true;
      }
      if (!inner.verify(publicKey, message, signature)) return false;
      if (verified.size >= maxEntries) {
        const oldest = verified.values().next().value;
        if (oldest !== undefined) verified.delete(oldest);
      }
      verified.add(key);
      return true;
    },
  };
}
