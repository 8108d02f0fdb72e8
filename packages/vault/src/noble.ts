/**
 * @ockam/vault/noble: the pure-JavaScript backend alone, with no `node:` imports, for browsers
 * and other runtimes.
 */
export { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-signature.js';
export type { VaultOptions } from './internal/software-vault.js';
export { type KeyStore, MemoryKeyStore, type StoredKey } from './key-store.js';
export { NobleVault } from './noble-vault.js';
export { VaultError } from './vault-error.js';
