import { noblePrimitives } from './internal/noble-primitives.js';
import { SoftwareVault, type VaultOptions } from './internal/software-vault.js';

/**
 * A vault on @noble/curves, @noble/ciphers and @noble/hashes: pure JavaScript, for browsers and
 * other runtimes without `node:crypto`. Same behaviour as {@link NodeVault}, slower.
 *
 * @example
 * ```ts
 * import { NobleVault } from '@ockam/vault/noble';
 * const vault = new NobleVault();
 * const key = await vault.generateX25519({ ephemeral: true });
 * ```
 */
export class NobleVault extends SoftwareVault {
  constructor(options?: VaultOptions) {
    super(noblePrimitives, options);
  }
}
