/**
 * The `browser` build of `@ockam/vault` (selected by bundlers through the `browser` export
 * condition): the same API without node:crypto, where `createVault()` gives the noble backend.
 */
import type { Vault } from '@ockam/core';
import type { VaultOptions } from './internal/software-vault.js';
import { NobleVault } from './noble-vault.js';
import { VaultError } from './vault-error.js';

export { ecdsaDerToRaw, ecdsaRawToDer } from './ecdsa-signature.js';
export type { VaultOptions } from './internal/software-vault.js';
export { type KeyStore, MemoryKeyStore, type StoredKey } from './key-store.js';
export { NobleVault } from './noble-vault.js';
export { VaultError } from './vault-error.js';

export type VaultBackend = 'node' | 'noble';

/** Creates a vault; only the `noble` backend exists outside Node.js, and it is the default here. */
export function createVault(backend: VaultBackend = 'noble', options?: VaultOptions): Vault {
  if (backend === 'noble') return new NobleVault(options);
  throw new VaultError(
    'unsupported',
    `the ${String(backend)} vault backend needs Node.js; use 'noble' in browsers`,
  );
}
