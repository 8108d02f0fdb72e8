/**
 * Purpose key attestations (PROTOCOL.md §4.3), the CBOR structures:
 *
 * - PurposeKeyAttestation = `[data bstr (VersionedData, type 2), PurposeKeyAttestationSignature]`
 * - PurposeKeyAttestationData = `[subject Identifier, subject_latest_change_hash, PurposePublicKey,
 *   created_at, expires_at]`
 * - PurposePublicKey = `[0, [bstr32 X25519]]` (secure channel) or `[1, [CredentialVerifyingKey]]`
 */
import { type CborReader, CborWriter } from '@ockam/core';
import { type Identifier, identifierFromBytes, identifierToBytes } from './identifier.js';
import {
  checkTimestamp,
  decodeAll,
  HASH_LENGTH,
  readEnum,
  readSignature,
  readSigningPublicKey,
  type Signature,
  type SignatureAlgorithm,
  writeSignature,
  writeSigningPublicKey,
  X25519_PUBLIC_KEY_LENGTH,
} from './internal/cbor-helpers.js';

/** What a purpose key is for. */
export type Purpose = 'secure-channel' | 'credential-signing';

/** A purpose key's public key: an X25519 key for secure channels, or a credential verifying key. */
export type PurposePublicKey =
  | { readonly purpose: 'secure-channel'; readonly type: 'x25519'; readonly bytes: Uint8Array }
  | { readonly purpose: 'credential-signing'; readonly type: SignatureAlgorithm; readonly bytes: Uint8Array };

export interface PurposeKeyAttestationData {
  readonly subject: Identifier;
  readonly subjectLatestChangeHash: Uint8Array;
  readonly publicKey: PurposePublicKey;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export interface PurposeKeyAttestation {
  /** The CBOR VersionedData bytes (type 2), exactly as signed. */
  readonly data: Uint8Array;
  readonly signature: Signature;
}

export function readPurposePublicKey(r: CborReader): PurposePublicKey {
  const { variant, fields } = readEnum(r, 'PurposePublicKey');
  if (fields < 1) r.fail(`PurposePublicKey variant ${variant} has no field`);
  let key: PurposePublicKey;
  if (variant === 0) {
    key = {
      purpose: 'secure-channel',
      type: 'x25519',
      bytes: r.bytesExact(X25519_PUBLIC_KEY_LENGTH, 'X25519 public key').slice(),
    };
  } else if (variant === 1) {
    const verifying = readSigningPublicKey(r, 'CredentialVerifyingKey');
    key = { purpose: 'credential-signing', type: verifying.type, bytes: verifying.bytes };
  } else {
    return r.fail(`unknown PurposePublicKey variant ${variant}`);
  }
  r.skipRest(fields - 1);
  return key;
}

export function writePurposePublicKey(w: CborWriter, key: PurposePublicKey): void {
  if (key.purpose === 'secure-channel') {
    if (key.bytes.length !== X25519_PUBLIC_KEY_LENGTH)
      throw new RangeError(`an X25519 public key is ${X25519_PUBLIC_KEY_LENGTH} bytes`);
    w.array(2).uint(0).array(1).bytes(key.bytes);
  } else if (key.purpose === 'credential-signing') {
    w.array(2).uint(1).array(1);
    writeSigningPublicKey(w, { type: key.type, bytes: key.bytes });
  } else {
    throw new TypeError(`unknown purpose ${String((key as { purpose: unknown }).purpose)}`);
  }
}

export function readPurposeKeyAttestationData(r: CborReader): PurposeKeyAttestationData {
  const fields = r.arrayOf(5, Number.MAX_SAFE_INTEGER, 'PurposeKeyAttestationData');
  const subject = identifierFromBytes(r.bytesExact(HASH_LENGTH, 'subject'));
  const subjectLatestChangeHash = r.bytesExact(HASH_LENGTH, 'subject_latest_change_hash').slice();
  const publicKey = readPurposePublicKey(r);
  const createdAt = r.uint();
  const expiresAt = r.uint();
  r.skipRest(fields - 5);
  return { subject, subjectLatestChangeHash, publicKey, createdAt, expiresAt };
}

export function writePurposeKeyAttestationData(w: CborWriter, value: PurposeKeyAttestationData): void {
  checkTimestamp(value.createdAt, 'createdAt');
  checkTimestamp(value.expiresAt, 'expiresAt');
  if (value.subjectLatestChangeHash.length !== HASH_LENGTH)
    throw new RangeError(`subjectLatestChangeHash must be ${HASH_LENGTH} bytes`);
  w.array(5).bytes(identifierToBytes(value.subject)).bytes(value.subjectLatestChangeHash);
  writePurposePublicKey(w, value.publicKey);
  w.uint(value.createdAt).uint(value.expiresAt);
}

export function readPurposeKeyAttestation(r: CborReader): PurposeKeyAttestation {
  const fields = r.arrayOf(2, Number.MAX_SAFE_INTEGER, 'PurposeKeyAttestation');
  const data = r.bytes().slice();
  const signature = readSignature(r, 'PurposeKeyAttestationSignature');
  r.skipRest(fields - 2);
  return { data, signature };
}

export function writePurposeKeyAttestation(w: CborWriter, value: PurposeKeyAttestation): void {
  w.array(2).bytes(value.data);
  writeSignature(w, value.signature);
}

/** Encodes a PurposeKeyAttestationData (the payload of a type-2 VersionedData). */
export function encodePurposeKeyAttestationData(value: PurposeKeyAttestationData): Uint8Array {
  const w = new CborWriter(192);
  writePurposeKeyAttestationData(w, value);
  return w.finish();
}

/** Decodes a PurposeKeyAttestationData; throws a DecodeError on malformed input or trailing bytes. */
export function decodePurposeKeyAttestationData(bytes: Uint8Array): PurposeKeyAttestationData {
  return decodeAll(bytes, 'PurposeKeyAttestationData', readPurposeKeyAttestationData);
}

/** Encodes a PurposeKeyAttestation. */
export function encodePurposeKeyAttestation(value: PurposeKeyAttestation): Uint8Array {
  const w = new CborWriter(value.data.length + 96);
  writePurposeKeyAttestation(w, value);
  return w.finish();
}

/** Decodes a PurposeKeyAttestation without verifying it; throws a DecodeError on malformed input. */
export function decodePurposeKeyAttestation(bytes: Uint8Array): PurposeKeyAttestation {
  return decodeAll(bytes, 'PurposeKeyAttestation', readPurposeKeyAttestation);
}
