/**
 * A vault whose signing keys live outside the process (a PKCS#11 token, a cloud KMS) while the
 * secure channel's X25519 keys, Noise secrets and AEAD keys stay in a software vault, as Ockam's
 * AWS KMS vault does: a Noise handshake needs ECDH and HKDF at data-path speed, which neither an
 * HSM session nor a KMS round trip gives.
 */
import type { KeyHandle, SigningKeyType, Vault } from '@ockam/core';
import { VaultError } from './vault-error.js';

/**
 * Signing keys kept in hardware or in a cloud KMS. Keys are generated there and never leave it:
 * there is no import and no export. Handle ids follow `@ockam/core`'s rule (hex SHA-256 of the
 * public key), so an identity's key is found again by the id its change history implies; how a
 * backend maps that id to its own object (a PKCS#11 CKA_ID, a KMS key id) is its own affair.
 */
export interface SigningKeyBackend {
  /** What holds the keys, for messages and `vault show`: 'pkcs11', 'aws-kms'. */
  readonly kind: string;
  /** The key types it can generate, in order of preference. */
  readonly types: readonly SigningKeyType[];
  /** Generates a key inside the backend. */
  generateSigningKey(type: SigningKeyType): Promise<KeyHandle>;
  /** Signs as `Vault.sign` does: Ed25519 over the message, P-256 ECDSA-SHA256 as raw r‖s. */
  sign(key: KeyHandle, message: Uint8Array): Promise<Uint8Array>;
  /** 32 bytes for Ed25519, 65 bytes uncompressed SEC1 for P-256. */
  publicKey(key: KeyHandle): Promise<Uint8Array>;
  /** The key with this handle id, or undefined. */
  getKey(id: string): Promise<KeyHandle | undefined>;
  /** Destroys the key in the backend; true if it existed. */
  deleteKey(key: KeyHandle): Promise<boolean>;
  /** Ends the session with the backend (logout, close); later calls fail. */
  close(): Promise<void>;
}

/** A {@link Vault} over a software vault and a {@link SigningKeyBackend}; close it to end the session. */
export interface ExternalVault extends Vault {
  readonly keys: SigningKeyBackend;
  close(): Promise<void>;
}

const isSigning = (key: KeyHandle): boolean => key.type !== 'x25519';

/**
 * Composes a vault whose signing keys are the backend's and whose X25519 keys and secrets are the
 * software vault's. Importing or exporting a signing key is refused.
 *
 * @example
 * ```ts
 * import { createExternalVault, createVault } from '@ockam/vault';
 * const vault = createExternalVault(createVault(), backend); // backend: a PKCS#11 or KMS backend
 * const key = await vault.generateSigningKey('p256'); // generated in the backend
 * const signature = await vault.sign(key, vault.sha256(new TextEncoder().encode('hello')));
 * await vault.close();
 * ```
 */
export function createExternalVault(software: Vault, keys: SigningKeyBackend): ExternalVault {
  const unsupported = (what: string) =>
    new VaultError(
      'unsupported',
      `The signing keys of this vault are kept in ${keys.kind} and cannot be ${what}`,
    );
  return {
    backend: `${keys.kind}+${software.backend}`,
    keys,
    generateSigningKey: (type) => keys.generateSigningKey(type),
    importSigningKey: async () => {
      throw unsupported('imported');
    },
    sign: (key, message) => (isSigning(key) ? keys.sign(key, message) : software.sign(key, message)),
    publicKey: (key) => (isSigning(key) ? keys.publicKey(key) : software.publicKey(key)),
    verify: (publicKey, message, signature) => software.verify(publicKey, message, signature),
    sha256: (data) => software.sha256(data),
    // Software first: it holds only X25519 keys here, and a lookup must not cost a round trip to
    // the backend (or fail while it is down) when it asks for one of them.
    getKey: async (id) => (await software.getKey(id)) ?? keys.getKey(id),
    deleteKey: (key) => (isSigning(key) ? keys.deleteKey(key) : software.deleteKey(key)),
    exportSecretKey: async (key) => {
      if (isSigning(key)) throw unsupported('exported');
      return software.exportSecretKey(key);
    },
    generateX25519: (options) => software.generateX25519(options),
    importX25519: (secret, options) => software.importX25519(secret, options),
    x25519PublicKey: (key) => software.x25519PublicKey(key),
    x25519: (key, peer) => software.x25519(key, peer),
    importSecret: (bytes) => software.importSecret(bytes),
    hkdf: (salt, ikm, info, outputs) => software.hkdf(salt, ikm, info, outputs),
    aeadKey: (secret, algorithm) => software.aeadKey(secret, algorithm),
    aeadEncrypt: (key, nonce, plaintext, aad) => software.aeadEncrypt(key, nonce, plaintext, aad),
    aeadDecrypt: (key, nonce, ciphertext, aad) => software.aeadDecrypt(key, nonce, ciphertext, aad),
    deleteSecret: (handle) => software.deleteSecret(handle),
    exportSecret: (handle) => software.exportSecret(handle),
    close: () => keys.close(),
  };
}
