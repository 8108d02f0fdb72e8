import type { Vault } from '@ockam/core';
import {
  type CredentialData,
  createIdentity,
  createPurposeKey,
  type Identity,
  type PurposeKey,
} from '@ockam/identity';
import {
  CREDENTIAL_DATA_TYPE,
  encodeCredentialAndPurposeKey,
  encodeCredentialData,
  encodeVersionedData,
} from '@ockam/identity/codec';
import { createVault } from '@ockam/vault';
import { expect } from 'vitest';
import { CredentialError, type CredentialErrorReason } from '../src/index.js';

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export interface Issuer {
  vault: Vault;
  identity: Identity;
  purposeKey: PurposeKey;
}

export async function makeIssuer(options: { ttl?: number; now?: number } = {}): Promise<Issuer> {
  const vault = createVault('node');
  const identity = await createIdentity(vault);
  const purposeKey = await createPurposeKey(vault, identity, 'credential-signing', options);
  return { vault, identity, purposeKey };
}

/** Signs arbitrary credential data with the issuer's purpose key, bypassing issueCredential's checks. */
export async function signRaw(
  issuer: Issuer,
  data: CredentialData,
  purposeKey = issuer.purposeKey,
): Promise<Uint8Array> {
  const versioned = encodeVersionedData({
    version: 1,
    dataType: CREDENTIAL_DATA_TYPE,
    data: encodeCredentialData(data),
  });
  const key = issuer.purposeKey.key;
  const signature = {
    type: key.type as 'ed25519',
    bytes: await issuer.vault.sign(key, issuer.vault.sha256(versioned)),
  };
  return encodeCredentialAndPurposeKey({
    credential: { data: versioned, signature },
    purposeKeyAttestation: purposeKey.attestation,
  });
}

export function expectReason(f: () => unknown, reason: CredentialErrorReason): CredentialError {
  try {
    f();
  } catch (e) {
    if (!CredentialError.isReason(e)) throw e;
    expect(e.reason).toBe(reason);
    return e;
  }
  throw new Error(`expected a CredentialError (${reason})`);
}

/** Polls until `f()` is true (real timers), failing after `ms`. */
export async function until(f: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
