import type { Vault } from '@ockam/core';
import { createVault } from '@ockam/vault';

/** Both vault backends: every crypto suite runs on each. */
export const BACKENDS = ['node', 'noble'] as const;

export function vaultFor(backend: (typeof BACKENDS)[number]): Vault {
  return createVault(backend);
}
