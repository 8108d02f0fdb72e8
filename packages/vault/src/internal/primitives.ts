/**
 * The raw cryptographic primitives a vault backend provides. The vault logic (handles, storage,
 * wiping, error mapping) is shared in `software-vault.ts`; a backend only supplies these functions.
 *
 * Tests call the primitives directly for Wycheproof vectors whose parameters the Vault interface
 * cannot express (AES-GCM with 128/192-bit keys or non-96-bit IVs, HMAC, HKDF of any length).
 */
import type { AeadAlgorithm, SigningKeyType } from '@ockam/core';

/** A prepared signing key: the backend may cache a native key object inside it. */
export interface PreparedSigningKey {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** A prepared X25519 key. */
export interface PreparedX25519Key {
  readonly publicKey: Uint8Array;
  /** Raw X25519 output; throws on a peer key the backend cannot use. The all-zero check is the caller's. */
  dh(peerPublicKey: Uint8Array): Uint8Array;
}

/** A prepared AEAD key: encrypt returns ciphertext ‖ tag; decrypt returns undefined on failure. */
export interface PreparedAead {
  encrypt(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /**
   * Encrypts the concatenation of `parts` without joining them, and returns ciphertext ‖ tag as
   * pieces: the ciphertext of each part (empty parts skipped), then the 16-byte tag. A backend
   * without a streaming cipher leaves this out and `encrypt` is used on the joined plaintext.
   */
  encryptParts?(nonce: Uint8Array, parts: readonly Uint8Array[], aad: Uint8Array): Uint8Array[];
  /** Like `encryptParts`, writing ciphertext ‖ tag into `out` (exactly their length). */
  encryptPartsInto?(nonce: Uint8Array, parts: readonly Uint8Array[], aad: Uint8Array, out: Uint8Array): void;
  decrypt(nonce: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array): Uint8Array | undefined;
  /**
   * Decrypts into `out` (at least length − 16 bytes; it may be the ciphertext's own memory, for
   * decryption in place) and returns whether the input authenticated; on failure `out` holds no
   * plaintext.
   */
  decryptInto?(nonce: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array, out: Uint8Array): boolean;
  /**
   * Decrypts the concatenation of `parts` (ciphertext ‖ tag, cut anywhere) into a new buffer
   * without joining them first; undefined when it does not authenticate.
   */
  decryptParts?(nonce: Uint8Array, parts: readonly Uint8Array[], aad: Uint8Array): Uint8Array | undefined;
  /** Releases what the key holds outside the vault's own copy (a native context), at once. */
  dispose?(): void;
}

/**
 * A backend's primitives. Functions that prepare a key receive the vault's own copy of the secret
 * and may keep a reference to it (never a copy), so that the vault's wipe on delete reaches it.
 * Native key objects (node:crypto KeyObject) cannot be wiped; they are dropped on delete.
 */
export interface Primitives {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** RFC 5869 HKDF-SHA256 with any output length up to 255 × 32 bytes. */
  hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  signingKey(type: SigningKeyType, secret: Uint8Array): PreparedSigningKey;
  /** Verifies; false for any malformed key or signature, never throws. */
  verify(type: SigningKeyType, publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  x25519Key(secret: Uint8Array): PreparedX25519Key;
  /**
   * A fresh X25519 key: its secret (the vault's own copy from here on) and the prepared key, for a
   * backend that generates faster than it imports. Without it the vault draws 32 random bytes and
   * calls `x25519Key`.
   */
  generateX25519?(): { secret: Uint8Array; key: PreparedX25519Key };
  /** An AEAD key of any size the algorithm accepts (AES: 16/24/32 bytes) with any nonce length the backend supports. */
  aead(algorithm: AeadAlgorithm, key: Uint8Array): PreparedAead;
}
