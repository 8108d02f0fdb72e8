import type { Vault } from '@ockam/core';
import type { VaultOptions } from './internal/software-vault.js';
import { NobleVault } from './noble-vault.js';
import { NodeVault } from './node-vault.js';

/** The available vault backends. */
export type VaultBackend = 'node' | 'noble';

/**
 * Creates a vault: `node` (node:crypto, the default) or `noble` (pure JS).
 *
 * @example
 * ```ts
 * import { createVault } from '@ockam/vault';
 * const vault = createVault();
 * const key = await vault.generateSigningKey('ed25519');
 * const digest = vault.sha256(new TextEncoder().encode('hello'));
 * const signature = await vault.sign(key, digest);
 * vault.verify({ type: 'ed25519', bytes: await vault.publicKey(key) }, digest, signature); // true
 * ```
 */
export function createVault(backend: VaultBackend = 'node', options?: VaultOptions): Vault {
  switch (backend) {
    case 'node':
      return new NodeVault(options);
    case 'noble':
      return new NobleVault(options);
    default:
      throw new RangeError(`unknown vault backend ${String(backend)}; expected 'node' or 'noble'`);
  }
}
