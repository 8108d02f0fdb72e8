/**
 * @ockam/vault: Ockam vaults. Keys live behind handles; secrets leave only through explicit
 * export calls. Two backends implement `Vault` from `@ockam/core`: `node` (node:crypto, default)
 * and `noble` (pure JS). Encrypted SQLite storage is in `@ockam/vault/sqlite`.
 *
 * @example
 * ```ts
 * import { createVault } from '@ockam/vault';
 * const vault = createVault('node');
 * const alice = await vault.generateX25519({ ephemeral: true });
 * const bob = await vault.generateX25519({ ephemeral: true });
 * const shared = vault.x25519(alice, vault.x25519PublicKey(bob));
 * const [, k] = vault.hkdf(vault.importSecret(new Uint8Array(32)), shared, new Uint8Array(0), 2);
 * const key = vault.aeadKey(k!);
 * const sealed = vault.aeadEncrypt(key, new Uint8Array(12), new TextEncoder().encode('hi'), new Uint8Array(0));
 * ```
 */
export { createVault, type VaultBackend } from './create-vault.js';
export { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-signature.js';
export { createExternalVault, type ExternalVault, type SigningKeyBackend } from './external-vault.js';
export type { VaultOptions } from './internal/software-vault.js';
export { type KeyStore, MemoryKeyStore, type StoredKey } from './key-store.js';
export { NobleVault } from './noble-vault.js';
export { NodeVault } from './node-vault.js';
export { VaultError } from './vault-error.js';
