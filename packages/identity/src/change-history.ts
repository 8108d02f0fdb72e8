/**
 * Change histories (PROTOCOL.md §4.1): the CBOR structures, without verification (see
 * `identity.ts` for that).
 *
 * - ChangeHistory = `[Change…]`
 * - Change = `[data bstr (VersionedData, type 1), ChangeSignature, previous_signature?]`
 * - ChangeData = `[previous_change ChangeHash|null, PrimaryPublicKey, revoke_all_purpose_keys,
 *   attestations_valid_from, attestations_valid_until]`
 */
import { type CborReader, CborWriter } from '@ockam/core';
import {
  checkTimestamp,
  decodeAll,
  HASH_LENGTH,
  readSignature,
  readSigningPublicKey,
  type Signature,
  type SigningPublicKey,
  writeSignature,
  writeSigningPublicKey,
} from './internal/cbor-helpers.js';

/** The primary public key of a change: Ed25519 (32 bytes) or P-256 (65 bytes uncompressed). */
export type PrimaryPublicKey = SigningPublicKey;
/** A change signature (raw Ed25519 or ECDSA r‖s, 64 bytes). */
export type ChangeSignature = Signature;

export interface ChangeData {
  /** SHA-256 of the previous change's data, or null for the first change. */
  readonly previousChange: Uint8Array | null;
  readonly primaryPublicKey: PrimaryPublicKey;
  readonly revokeAllPurposeKeys: boolean;
  /** Unix seconds. */
  readonly attestationsValidFrom: number;
  /** Unix seconds. */
  readonly attestationsValidUntil: number;
}

export interface Change {
  /** The CBOR VersionedData bytes, exactly as signed and hashed. */
  readonly data: Uint8Array;
  readonly signature: ChangeSignature;
  /** The signature by the previous primary key; absent on the first change. */
  readonly previousSignature?: ChangeSignature;
}

export function readChangeData(r: CborReader): ChangeData {
  const fields = r.arrayOf(5, Number.MAX_SAFE_INTEGER, 'ChangeData');
  const previousChange = r.nullable() ? null : r.bytesExact(HASH_LENGTH, 'previous_change').slice();
  const primaryPublicKey = readSigningPublicKey(r, 'PrimaryPublicKey');
  const revokeAllPurposeKeys = r.bool();
  const attestationsValidFrom = r.uint();
  const attestationsValidUntil = r.uint();
  r.skipRest(fields - 5);
  return {
    previousChange,
    primaryPublicKey,
    revokeAllPurposeKeys,
    attestationsValidFrom,
    attestationsValidUntil,
  };
}

export function writeChangeData(w: CborWriter, value: ChangeData): void {
  checkTimestamp(value.attestationsValidFrom, 'attestationsValidFrom');
  checkTimestamp(value.attestationsValidUntil, 'attestationsValidUntil');
  w.array(5);
  if (value.previousChange === null) w.null();
  else {
    if (value.previousChange.length !== HASH_LENGTH)
      throw new RangeError(`previousChange must be ${HASH_LENGTH} bytes`);
    w.bytes(value.previousChange);
  }
  writeSigningPublicKey(w, value.primaryPublicKey);
  w.bool(value.revokeAllPurposeKeys).uint(value.attestationsValidFrom).uint(value.attestationsValidUntil);
}

export function readChange(r: CborReader): Change {
  const fields = r.arrayOf(2, Number.MAX_SAFE_INTEGER, 'Change');
  const data = r.bytes().slice();
  const signature = readSignature(r, 'ChangeSignature');
  let previousSignature: ChangeSignature | undefined;
  // minicbor writes an absent optional as nothing when trailing, as null otherwise.
  if (fields >= 3 && !r.nullable()) previousSignature = readSignature(r, 'previous ChangeSignature');
  r.skipRest(Math.max(0, fields - 3));
  return previousSignature === undefined ? { data, signature } : { data, signature, previousSignature };
}

export function writeChange(w: CborWriter, value: Change): void {
  w.array(value.previousSignature === undefined ? 2 : 3).bytes(value.data);
  writeSignature(w, value.signature);
  if (value.previousSignature !== undefined) writeSignature(w, value.previousSignature);
}

export function readChangeHistory(r: CborReader): Change[] {
  const n = r.array();
  const changes: Change[] = [];
  for (let i = 0; i < n; i++) changes.push(readChange(r));
  return changes;
}

export function writeChangeHistory(w: CborWriter, changes: readonly Change[]): void {
  w.array(changes.length);
  for (const change of changes) writeChange(w, change);
}

/** Encodes a ChangeData (the payload of a type-1 VersionedData). */
export function encodeChangeData(value: ChangeData): Uint8Array {
  const w = new CborWriter(128);
  writeChangeData(w, value);
  return w.finish();
}

/** Decodes a ChangeData; throws a DecodeError on malformed input or trailing bytes. */
export function decodeChangeData(bytes: Uint8Array): ChangeData {
  return decodeAll(bytes, 'ChangeData', readChangeData);
}

/** Encodes one Change. */
export function encodeChange(value: Change): Uint8Array {
  const w = new CborWriter(256);
  writeChange(w, value);
  return w.finish();
}

/** Decodes one Change; throws a DecodeError on malformed input or trailing bytes. */
export function decodeChange(bytes: Uint8Array): Change {
  return decodeAll(bytes, 'Change', readChange);
}

/** Encodes a ChangeHistory: the identity export format, before hex. */
export function encodeChangeHistory(changes: readonly Change[]): Uint8Array {
  const w = new CborWriter(256 * Math.max(1, changes.length));
  writeChangeHistory(w, changes);
  return w.finish();
}

/** Decodes a ChangeHistory without verifying it; throws a DecodeError on malformed input. */
export function decodeChangeHistory(bytes: Uint8Array): Change[] {
  return decodeAll(bytes, 'ChangeHistory', readChangeHistory);
}
