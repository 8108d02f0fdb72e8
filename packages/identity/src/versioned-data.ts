/**
 * VersionedData (PROTOCOL.md §4.1): `[version u8 = 1, data_type u8, data bstr]`, the signed
 * envelope of changes, purpose key attestations and credentials.
 */
import { type CborReader, CborWriter } from '@ockam/core';
import { decodeAll } from './internal/cbor-helpers.js';

/** The only VersionedData version in use. */
export const VERSIONED_DATA_VERSION = 1;
/** `data_type` of a ChangeData. */
export const CHANGE_DATA_TYPE = 1;
/** `data_type` of a PurposeKeyAttestationData. */
export const PURPOSE_KEY_DATA_TYPE = 2;
/** `data_type` of a CredentialData. */
export const CREDENTIAL_DATA_TYPE = 3;

export interface VersionedData {
  readonly version: number;
  readonly dataType: number;
  readonly data: Uint8Array;
}

export function readVersionedData(r: CborReader): VersionedData {
  const fields = r.arrayOf(3, Number.MAX_SAFE_INTEGER, 'VersionedData');
  const version = r.uintMax(0xff, 'version');
  const dataType = r.uintMax(0xff, 'data_type');
  const data = r.bytes().slice();
  r.skipRest(fields - 3);
  return { version, dataType, data };
}

export function writeVersionedData(w: CborWriter, value: VersionedData): void {
  w.array(3).uint(value.version).uint(value.dataType).bytes(value.data);
}

/** Encodes a VersionedData. */
export function encodeVersionedData(value: VersionedData): Uint8Array {
  const w = new CborWriter(value.data.length + 16);
  writeVersionedData(w, value);
  return w.finish();
}

/** Decodes a VersionedData; throws a DecodeError on malformed input or trailing bytes. */
export function decodeVersionedData(bytes: Uint8Array): VersionedData {
  return decodeAll(bytes, 'VersionedData', readVersionedData);
}
