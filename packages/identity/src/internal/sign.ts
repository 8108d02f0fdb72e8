import type { KeyHandle, SigningVault } from '@ockam/core';
import { toHex } from '@ockam/core';
import { IdentityError } from '../identity-error.js';
import type { Signature, SigningPublicKey } from './cbor-helpers.js';

/** Ockam signs SHA-256(data), not the data (PROTOCOL.md §4.2). */
export async function signData(vault: SigningVault, key: KeyHandle, data: Uint8Array): Promise<Signature> {
  if (key.type !== 'ed25519' && key.type !== 'p256') throw new TypeError(`a ${key.type} key cannot sign`);
  return { type: key.type, bytes: await vault.sign(key, vault.sha256(data)) };
}

/** Finds the vault's handle for a public key: handle ids are hex SHA-256 of the public key (PROTOCOL.md §9). */
export async function findSigningKey(
  vault: SigningVault,
  publicKey: SigningPublicKey,
  what: string,
): Promise<KeyHandle> {
  const handle = await vault.getKey(toHex(vault.sha256(publicKey.bytes)));
  if (handle === undefined || handle.type !== publicKey.type) {
    throw new IdentityError('key-not-found', `the vault does not hold ${what}`);
  }
  return handle;
}
