/**
 * Creating and verifying purpose keys (PROTOCOL.md §4.3): a secure-channel X25519 static key or a
 * credential-signing key, attested by the identity's current primary key.
 */
import { bytesEqual, type KeyHandle, OckamError, type SigningKeyType, type Vault } from '@ockam/core';
import type { Identity } from './identity.js';
import { IdentityError } from './identity-error.js';
import { decodeAll } from './internal/cbor-helpers.js';
import type { SignatureVerifier } from './internal/default-verifier.js';
import { findSigningKey, signData } from './internal/sign.js';
import { DEFAULT_PURPOSE_KEY_TTL, MAX_ALLOWED_TIME_DRIFT, nowSeconds } from './internal/time.js';
import {
  decodePurposeKeyAttestation,
  encodePurposeKeyAttestation,
  encodePurposeKeyAttestationData,
  type Purpose,
  type PurposeKeyAttestation,
  type PurposeKeyAttestationData,
  type PurposePublicKey,
  readPurposeKeyAttestationData,
} from './purpose-key-attestation.js';
import { defaultVerifier } from './verification-cache.js';
import {
  decodeVersionedData,
  encodeVersionedData,
  PURPOSE_KEY_DATA_TYPE,
  VERSIONED_DATA_VERSION,
} from './versioned-data.js';

/** A purpose key held in a vault, with its attestation. */
export interface PurposeKey {
  /** The vault handle of the purpose key's secret. */
  readonly key: KeyHandle;
  readonly data: PurposeKeyAttestationData;
  readonly attestation: PurposeKeyAttestation;
  /** The attestation's CBOR bytes, as sent to peers. */
  readonly encoded: Uint8Array;
}

export interface CreatePurposeKeyOptions {
  /** For a credential-signing key: Ed25519 (default) or P-256. */
  keyType?: SigningKeyType;
  /** Use this existing key (X25519 for secure channels, a signing key for credentials). */
  key?: KeyHandle;
  /** Validity in seconds from `now`; 5 years by default. Capped at the identity's attestation window. */
  ttl?: number;
  /** Unix seconds; the current time by default. */
  now?: number;
}

/**
 * Creates a purpose key in `vault` and attests it with the identity's current primary key, which
 * the vault must hold.
 *
 * @example
 * ```ts
 * const identity = await createIdentity(vault);
 * const sc = await createPurposeKey(vault, identity, 'secure-channel');
 * verifyPurposeKeyAttestation(sc.attestation, identity); // returns sc.data
 * ```
 */
export async function createPurposeKey(
  vault: Vault,
  identity: Identity,
  purpose: Purpose,
  options: CreatePurposeKeyOptions = {},
): Promise<PurposeKey> {
  const identityKey = await findSigningKey(
    vault,
    identity.primaryPublicKey,
    `the current primary key of ${identity.identifier}`,
  );
  let key: KeyHandle;
  let publicKey: PurposePublicKey;
  if (purpose === 'secure-channel') {
    key = options.key ?? (await vault.generateX25519({ ephemeral: false }));
    if (key.type !== 'x25519') throw new TypeError(`a secure-channel purpose key is X25519, not ${key.type}`);
    publicKey = { purpose, type: 'x25519', bytes: await vault.publicKey(key) };
  } else if (purpose === 'credential-signing') {
    key = options.key ?? (await vault.generateSigningKey(options.keyType ?? 'ed25519'));
    if (key.type === 'x25519')
      throw new TypeError('a credential-signing purpose key is Ed25519 or P-256, not X25519');
    publicKey = { purpose, type: key.type, bytes: await vault.publicKey(key) };
  } else {
    throw new TypeError(`unknown purpose ${String(purpose)}`);
  }
  const createdAt = Math.max(options.now ?? nowSeconds(), identity.attestationsValidFrom);
  // The key's window must lie inside the identity's (PROTOCOL.md §4.3), so cap the expiry.
  const expiresAt = Math.min(
    createdAt + (options.ttl ?? DEFAULT_PURPOSE_KEY_TTL),
    identity.attestationsValidUntil,
  );
  const data: PurposeKeyAttestationData = {
    subject: identity.identifier,
    subjectLatestChangeHash: identity.latestChangeHash,
    publicKey,
    createdAt,
    expiresAt,
  };
  const versioned = encodeVersionedData({
    version: VERSIONED_DATA_VERSION,
    dataType: PURPOSE_KEY_DATA_TYPE,
    data: encodePurposeKeyAttestationData(data),
  });
  const attestation: PurposeKeyAttestation = {
    data: versioned,
    signature: await signData(vault, identityKey, versioned),
  };
  return { key, data, attestation, encoded: encodePurposeKeyAttestation(attestation) };
}

export interface VerifyPurposeKeyOptions {
  /** Unix seconds; the current time by default. */
  now?: number;
  /** Require this purpose. */
  expectedPurpose?: Purpose;
  /** Verifies signatures; a node:crypto vault by default. */
  verifier?: SignatureVerifier;
}

/**
 * Verifies a purpose key attestation against its subject's identity by every rule of PROTOCOL.md
 * §4.3 and returns the attested data. Throws an IdentityError naming the rule broken.
 */
export function verifyPurposeKeyAttestation(
  attestation: PurposeKeyAttestation | Uint8Array,
  subject: Identity,
  options: VerifyPurposeKeyOptions = {},
): PurposeKeyAttestationData {
  const verifier = options.verifier ?? defaultVerifier();
  let decoded: PurposeKeyAttestation;
  let data: PurposeKeyAttestationData;
  try {
    decoded = attestation instanceof Uint8Array ? decodePurposeKeyAttestation(attestation) : attestation;
    const versioned = decodeVersionedData(decoded.data);
    if (versioned.version !== VERSIONED_DATA_VERSION)
      throw new IdentityError('unknown-version', `unknown VersionedData version ${versioned.version}`);
    if (versioned.dataType !== PURPOSE_KEY_DATA_TYPE) {
      throw new IdentityError(
        'wrong-data-type',
        `data_type ${versioned.dataType} is not a purpose key attestation (${PURPOSE_KEY_DATA_TYPE})`,
      );
    }
    data = decodeAll(versioned.data, 'PurposeKeyAttestationData', readPurposeKeyAttestationData);
  } catch (e) {
    if (!IdentityError.isReason(e) && OckamError.isKind(e, 'serialization')) {
      throw new IdentityError('malformed', `cannot decode the purpose key attestation: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  }

  if (options.expectedPurpose !== undefined && data.publicKey.purpose !== options.expectedPurpose) {
    throw new IdentityError(
      'wrong-purpose',
      `expected a ${options.expectedPurpose} key, got a ${data.publicKey.purpose} key`,
    );
  }
  if (data.subject !== subject.identifier) {
    throw new IdentityError(
      'subject-mismatch',
      `the attestation is about ${data.subject}, not ${subject.identifier}`,
    );
  }
  if (!bytesEqual(data.subjectLatestChangeHash, subject.latestChangeHash)) {
    throw new IdentityError(
      'stale-change-hash',
      "the attestation was not made on the identity's latest change",
    );
  }
  if (data.expiresAt > subject.attestationsValidUntil || data.createdAt < subject.attestationsValidFrom) {
    throw new IdentityError(
      'outside-identity-window',
      `the key's window ${data.createdAt}..${data.expiresAt} is not inside the identity's ${subject.attestationsValidFrom}..${subject.attestationsValidUntil}`,
    );
  }
  const now = options.now ?? nowSeconds();
  if (data.createdAt > now + MAX_ALLOWED_TIME_DRIFT) {
    throw new IdentityError(
      'created-in-future',
      `created_at ${data.createdAt} is more than ${MAX_ALLOWED_TIME_DRIFT} s after now (${now})`,
    );
  }
  if (data.expiresAt < now)
    throw new IdentityError('expired', `the key expired at ${data.expiresAt} (now ${now})`);

  const key = subject.primaryPublicKey;
  if (decoded.signature.type !== key.type) {
    throw new IdentityError(
      'signature-type-mismatch',
      `a ${decoded.signature.type} signature cannot be made by a ${key.type} key`,
    );
  }
  if (!verifier.verify(key, verifier.sha256(decoded.data), decoded.signature.bytes)) {
    throw new IdentityError(
      'bad-signature',
      "the attestation signature by the identity's primary key does not verify",
    );
  }
  return data;
}
