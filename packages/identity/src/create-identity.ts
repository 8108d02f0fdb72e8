/**
 * Creating and rotating identities (PROTOCOL.md §4.1, §4.2). The first change is signed by its own
 * primary key; a rotation appends a change signed by both the new key and the previous one, and
 * the identifier stays the same.
 */
import type { KeyHandle, SigningKeyType, SigningVault } from '@ockam/core';
import { type Change, type ChangeData, encodeChangeData } from './change-history.js';
import { type Identity, identityFromChanges } from './identity.js';
import { checkTimestamp } from './internal/cbor-helpers.js';
import { findSigningKey, signData } from './internal/sign.js';
import { DEFAULT_IDENTITY_TTL, nowSeconds } from './internal/time.js';
import { CHANGE_DATA_TYPE, encodeVersionedData, VERSIONED_DATA_VERSION } from './versioned-data.js';

export interface CreateIdentityOptions {
  /** The primary key's algorithm; Ed25519 by default, as in Ockam. Ignored if `key` is given. */
  keyType?: SigningKeyType;
  /** An existing signing key in the vault to use as the primary key. */
  key?: KeyHandle;
  /** Attestation validity in seconds from `now`; 10 years by default. */
  ttl?: number;
  /** Unix seconds; the current time by default. */
  now?: number;
}

async function primaryKey(vault: SigningVault, options: CreateIdentityOptions): Promise<KeyHandle> {
  if (options.key !== undefined) {
    if (options.key.type !== 'ed25519' && options.key.type !== 'p256')
      throw new TypeError(`a primary key is Ed25519 or P-256, not ${options.key.type}`);
    return options.key;
  }
  return vault.generateSigningKey(options.keyType ?? 'ed25519');
}

async function changeData(
  vault: SigningVault,
  key: KeyHandle,
  previousChange: Uint8Array | null,
  revokeAllPurposeKeys: boolean,
  from: number,
  ttl: number,
): Promise<Uint8Array> {
  checkTimestamp(from, 'now');
  checkTimestamp(ttl, 'ttl');
  const data: ChangeData = {
    previousChange,
    primaryPublicKey: { type: key.type as SigningKeyType, bytes: await vault.publicKey(key) },
    revokeAllPurposeKeys,
    attestationsValidFrom: from,
    attestationsValidUntil: from + ttl,
  };
  return encodeVersionedData({
    version: VERSIONED_DATA_VERSION,
    dataType: CHANGE_DATA_TYPE,
    data: encodeChangeData(data),
  });
}

/**
 * Creates a new identity whose primary key lives in `vault`.
 *
 * @example
 * ```ts
 * import { createVault } from '@ockam/vault';
 * import { createIdentity } from '@ockam/identity';
 * const vault = createVault();
 * const identity = await createIdentity(vault);
 * console.log(identity.identifier, identity.export());
 * ```
 */
export async function createIdentity(
  vault: SigningVault,
  options: CreateIdentityOptions = {},
): Promise<Identity> {
  const key = await primaryKey(vault, options);
  const data = await changeData(
    vault,
    key,
    null,
    false,
    options.now ?? nowSeconds(),
    options.ttl ?? DEFAULT_IDENTITY_TTL,
  );
  const change: Change = { data, signature: await signData(vault, key, data) };
  return identityFromChanges([change], vault);
}

export interface RotateIdentityOptions extends CreateIdentityOptions {
  /** Marks every purpose key attested before this change as revoked. False by default. */
  revokeAllPurposeKeys?: boolean;
}

/**
 * Appends a change with a new primary key, signed by the new key and by the current one (which
 * `vault` must hold). The identifier does not change.
 */
export async function rotateIdentity(
  vault: SigningVault,
  identity: Identity,
  options: RotateIdentityOptions = {},
): Promise<Identity> {
  const previousKey = await findSigningKey(
    vault,
    identity.primaryPublicKey,
    `the current primary key of ${identity.identifier}`,
  );
  const key = await primaryKey(vault, {
    keyType: options.keyType ?? identity.primaryPublicKey.type,
    ...(options.key ? { key: options.key } : {}),
  });
  // attestations_valid_from may not decrease along the history (PROTOCOL.md §4.2).
  const from = Math.max(options.now ?? nowSeconds(), identity.attestationsValidFrom);
  const data = await changeData(
    vault,
    key,
    identity.latestChangeHash,
    options.revokeAllPurposeKeys ?? false,
    from,
    options.ttl ?? DEFAULT_IDENTITY_TTL,
  );
  const change: Change = {
    data,
    signature: await signData(vault, key, data),
    previousSignature: await signData(vault, previousKey, data),
  };
  return identityFromChanges([...identity.changes.map((c) => c.change), change], vault);
}
