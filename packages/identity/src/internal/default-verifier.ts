import type { SigningVault } from '@ockam/core';
import { createVault } from '@ockam/vault';

/** What verification needs from a vault: SHA-256 and signature checks, both synchronous. */
export type SignatureVerifier = Pick<SigningVault, 'verify' | 'sha256'>;

let shared: SignatureVerifier | undefined;

/** A node:crypto vault, created on first use, for callers that pass no verifier. */
export function defaultVerifier(): SignatureVerifier {
  shared ??= createVault('node');
  return shared;
}
