import type { SigningVault } from '@ockam/core';
import { createVault } from '@ockam/vault';

/** What verification needs from a vault: SHA-256 and signature checks, both synchronous. */
export type SignatureVerifier = Pick<SigningVault, 'verify' | 'sha256'>;

let shared: SignatureVerifier | undefined;

/**
 * The platform's vault (node:crypto on Node.js, noble in browsers), created on first use: what the
 * default verifier (`defaultVerifier` in verification-cache.ts) remembers the checks of.
 */
export function platformVerifier(): SignatureVerifier {
  shared ??= createVault();
  return shared;
}
