/**
 * The Vault interface: every secret key lives behind it, and callers hold handles.
 *
 * Implementations live in `@ockam/vault` (a `node:crypto` backend and a pure-JS `@noble` backend).
 * This file is the contract only, so that identity, credentials and secure-channel code depend on
 * the interface and run on either backend.
 *
 * Conventions (PROTOCOL.md §4.2, §9):
 * - `sign` signs exactly the bytes it is given: Ed25519 over the message, ECDSA P-256 with SHA-256
 *   over the message, returning raw r‖s (64 bytes). Ockam signs SHA-256(data), so callers pass the
 *   32-byte digest.
 * - Signing-key and static X25519 handles are identified by hex SHA-256 of the public key; other
 *   handles by random ids.
 * - Secret-bearing operations used on the data path (ECDH, HKDF, AEAD) are synchronous: both
 *   backends compute them in-process, and a Promise per encrypted frame costs real throughput.
 *   Key management and signing are asynchronous, so that a remote signer (a KMS) fits.
 *
 * @example
 * ```ts
 * import type { Vault } from '@ockam/core';
 * async function signDigest(vault: Vault, digest: Uint8Array) {
 *   const key = await vault.generateSigningKey('ed25519');
 *   const signature = await vault.sign(key, digest);
 *   const ok = vault.verify({ type: 'ed25519', bytes: await vault.publicKey(key) }, digest, signature);
 *   return { signature, ok };
 * }
 * ```
 */

export type SigningKeyType = 'ed25519' | 'p256';
export type KeyType = SigningKeyType | 'x25519';
export type AeadAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

/** An opaque reference to a secret held by a vault. */
export interface KeyHandle {
  /** Stable id: hex SHA-256 of the public key for signing and static X25519 keys, random otherwise. */
  readonly id: string;
  readonly type: KeyType;
}

/** An opaque reference to a secret buffer (Noise chaining key, HKDF output). */
export interface SecretHandle {
  readonly id: string;
  readonly kind: 'secret';
}

/** An opaque reference to an AEAD key. */
export interface AeadKeyHandle {
  readonly id: string;
  readonly kind: 'aead';
  readonly algorithm: AeadAlgorithm;
}

export interface PublicKey {
  readonly type: KeyType;
  readonly bytes: Uint8Array;
}

/** Signing, verification and hashing: what identities and credentials need. */
export interface SigningVault {
  /** Creates a new signing key. */
  generateSigningKey(type: SigningKeyType): Promise<KeyHandle>;
  /** Imports a raw 32-byte secret scalar/seed. */
  importSigningKey(type: SigningKeyType, secret: Uint8Array): Promise<KeyHandle>;
  /** Signs `message` as it is (callers pass SHA-256(data), as Ockam does). */
  sign(key: KeyHandle, message: Uint8Array): Promise<Uint8Array>;
  /** The public key of a signing or X25519 key: 32 bytes, or 65 bytes uncompressed SEC1 for P-256. */
  publicKey(key: KeyHandle): Promise<Uint8Array>;
  /** Verifies a signature made over `message`; false for any malformed input. */
  verify(publicKey: PublicKey, message: Uint8Array, signature: Uint8Array): boolean;
  /** SHA-256. */
  sha256(data: Uint8Array): Uint8Array;
  /** Finds a key this vault holds by its id. */
  getKey(id: string): Promise<KeyHandle | undefined>;
  /** Deletes a key; true if it existed. */
  deleteKey(key: KeyHandle): Promise<boolean>;
  /** Explicitly exports a secret key's bytes. The only way secret bytes leave the vault. */
  exportSecretKey(key: KeyHandle): Promise<Uint8Array>;
}

/** The primitives of a Noise handshake and of the data phase. */
export interface SecureChannelVault {
  /** A new X25519 key. Ephemeral keys are never persisted. */
  generateX25519(options?: { ephemeral?: boolean }): Promise<KeyHandle>;
  /** Imports an X25519 secret (tests and vectors). */
  importX25519(secret: Uint8Array, options?: { ephemeral?: boolean }): Promise<KeyHandle>;
  /** The public key of an X25519 key, synchronously (it is cached when the key is created). */
  x25519PublicKey(key: KeyHandle): Uint8Array;
  /** X25519(key, peer) as a secret handle; throws on an all-zero shared secret (low-order point). */
  x25519(key: KeyHandle, peerPublicKey: Uint8Array): SecretHandle;
  /** Wraps bytes (such as a Noise protocol name) as a secret handle. */
  importSecret(bytes: Uint8Array): SecretHandle;
  /** HKDF-SHA256 with `salt`'s bytes as salt and `ikm`'s (or empty) as input keying material. */
  hkdf(salt: SecretHandle, ikm: SecretHandle | undefined, info: Uint8Array, outputs: 2 | 3): SecretHandle[];
  /** Turns a 32-byte secret into an AEAD key. */
  aeadKey(secret: SecretHandle, algorithm?: AeadAlgorithm): AeadKeyHandle;
  /** Encrypts; the result is ciphertext ‖ 16-byte tag. `nonce` is 12 bytes. */
  aeadEncrypt(key: AeadKeyHandle, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Decrypts ciphertext ‖ tag; throws a VaultError of kind 'invalid' if authentication fails. */
  aeadDecrypt(key: AeadKeyHandle, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Forgets a secret or AEAD key and wipes its bytes. */
  deleteSecret(handle: SecretHandle | AeadKeyHandle): void;
  /** Explicitly exports a secret buffer or AEAD key (tests, vectors). */
  exportSecret(handle: SecretHandle | AeadKeyHandle): Uint8Array;
}

/** A complete vault. */
export interface Vault extends SigningVault, SecureChannelVault {
  /** Which implementation: 'node' or 'noble'. */
  readonly backend: string;
}
