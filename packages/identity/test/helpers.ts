import type { KeyHandle, SigningVault, Vault } from '@ockam/core';
import { createVault } from '@ockam/vault';
import { expect } from 'vitest';
import {
  CHANGE_DATA_TYPE,
  encodeChangeData,
  encodePurposeKeyAttestationData,
  encodeVersionedData,
  PURPOSE_KEY_DATA_TYPE,
} from '../src/codec.js';
import {
  type Change,
  type ChangeData,
  IdentityError,
  type IdentityErrorReason,
  type PurposeKeyAttestation,
  type PurposeKeyAttestationData,
  type Signature,
} from '../src/index.js';

export const backends: Array<{ name: 'node' | 'noble'; vault: () => Vault }> = [
  { name: 'node', vault: () => createVault('node') },
  { name: 'noble', vault: () => createVault('noble') },
];

export async function sign(vault: SigningVault, key: KeyHandle, data: Uint8Array): Promise<Signature> {
  return { type: key.type as 'ed25519', bytes: await vault.sign(key, vault.sha256(data)) };
}

/** A change over arbitrary ChangeData, signed by `key` and optionally by `previousKey`. */
export async function makeChange(
  vault: SigningVault,
  key: KeyHandle,
  data: ChangeData,
  previousKey?: KeyHandle,
  envelope: { version?: number; dataType?: number } = {},
): Promise<Change> {
  const bytes = encodeVersionedData({
    version: envelope.version ?? 1,
    dataType: envelope.dataType ?? CHANGE_DATA_TYPE,
    data: encodeChangeData(data),
  });
  const change: Change = { data: bytes, signature: await sign(vault, key, bytes) };
  return previousKey === undefined
    ? change
    : { ...change, previousSignature: await sign(vault, previousKey, bytes) };
}

export async function makeAttestation(
  vault: SigningVault,
  key: KeyHandle,
  data: PurposeKeyAttestationData,
  dataType = PURPOSE_KEY_DATA_TYPE,
): Promise<PurposeKeyAttestation> {
  const bytes = encodeVersionedData({ version: 1, dataType, data: encodePurposeKeyAttestationData(data) });
  return { data: bytes, signature: await sign(vault, key, bytes) };
}

/** Asserts that fn throws an IdentityError with the given reason (or any reason). */
export function expectReason(
  fn: () => unknown,
  reason?: IdentityErrorReason | IdentityErrorReason[],
): IdentityError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(IdentityError.isReason(error), `expected an IdentityError, got ${String(error)}`).toBe(true);
  const e = error as IdentityError;
  expect(e.origin).toBe('identity');
  if (reason !== undefined) expect(Array.isArray(reason) ? reason : [reason]).toContain(e.reason);
  return e;
}

export async function keyFor(vault: SigningVault, publicKey: { bytes: Uint8Array }): Promise<KeyHandle> {
  const { toHex } = await import('@ockam/core');
  const key = await vault.getKey(toHex(vault.sha256(publicKey.bytes)));
  if (key === undefined) throw new Error('key not in vault');
  return key;
}
