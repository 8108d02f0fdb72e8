import { nodePrimitives } from './internal/node-primitives.js';
import { SoftwareVault, type VaultOptions } from './internal/software-vault.js';

/**
 * A vault on `node:crypto` (OpenSSL): the default and fastest backend on Node.js.
 *
 * @example
 * ```ts
 * import { NodeVault } from '@ockam/vault';
 * const vault = new NodeVault();
 * const key = await vault.generateSigningKey('ed25519');
 * ```
 */
export class NodeVault extends SoftwareVault {
  constructor(options?: VaultOptions) {
    super(nodePrimitives, options);
  }
}
