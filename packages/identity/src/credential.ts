/**
 * Credential CBOR structures (PROTOCOL.md §5.1), for the credentials package to issue and verify:
 *
 * - Credential = `[data bstr (VersionedData, type 3), CredentialSignature]`
 * - CredentialData = `[subject Identifier?, subject_latest_change_hash?, Attributes, created_at, expires_at]`
 * - Attributes = `[schema u64, map<bstr, bstr>]`, keys in byte order (Rust BTreeMap)
 * - CredentialAndPurposeKey = `[Credential, PurposeKeyAttestation]` (exported as hex)
 */
import { type CborReader, CborWriter, fromUtf8, utf8 } from '@ockam/core';
import { type Identifier, identifierFromBytes, identifierToBytes } from './identifier.js';
import {
  checkTimestamp,
  decodeAll,
  HASH_LENGTH,
  readSignature,
  type Signature,
  writeSignature,
} from './internal/cbor-helpers.js';
import {
  type PurposeKeyAttestation,
  readPurposeKeyAttestation,
  writePurposeKeyAttestation,
} from './purpose-key-attestation.js';

/** Ockam's schema for project membership credentials. */
export const PROJECT_MEMBER_SCHEMA = 1;

/** A credential's attributes: a schema and byte-string pairs, kept in byte order of the keys. */
export interface Attributes {
  readonly schema: number;
  readonly entries: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
}

export interface CredentialData {
  readonly subject?: Identifier;
  readonly subjectLatestChangeHash?: Uint8Array;
  readonly attributes: Attributes;
  /** Unix seconds. */
  readonly createdAt: number;
  /** Unix seconds. */
  readonly expiresAt: number;
}

export interface Credential {
  /** The CBOR VersionedData bytes (type 3), exactly as signed. */
  readonly data: Uint8Array;
  readonly signature: Signature;
}

export interface CredentialAndPurposeKey {
  readonly credential: Credential;
  /** The issuer's credential-signing purpose key attestation. */
  readonly purposeKeyAttestation: PurposeKeyAttestation;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Attributes from string pairs (UTF-8), sorted as Rust's BTreeMap sorts them. */
export function attributesFromStrings(schema: number, values: Record<string, string>): Attributes {
  const entries = Object.entries(values).map(([k, v]) => [utf8(k), utf8(v)] as const);
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  return { schema, entries };
}

/** Attributes as strings (keys and values decoded as UTF-8, invalid sequences replaced). */
export function attributesToStrings(attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of attributes.entries) out[fromUtf8(k)] = fromUtf8(v);
  return out;
}

export function readAttributes(r: CborReader): Attributes {
  const fields = r.arrayOf(2, Number.MAX_SAFE_INTEGER, 'Attributes');
  const schema = r.uint();
  const n = r.map();
  const entries: Array<readonly [Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < n; i++) entries.push([r.bytes().slice(), r.bytes().slice()] as const);
  entries.sort((a, b) => compareBytes(a[0], b[0]));
  for (let i = 1; i < entries.length; i++) {
    if (compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) r.fail('duplicate attribute key');
  }
  r.skipRest(fields - 2);
  return { schema, entries };
}

export function writeAttributes(w: CborWriter, value: Attributes): void {
  checkTimestamp(value.schema, 'schema');
  const entries = [...value.entries].sort((a, b) => compareBytes(a[0], b[0]));
  for (let i = 1; i < entries.length; i++) {
    if (compareBytes(entries[i - 1]![0], entries[i]![0]) === 0)
      throw new RangeError('duplicate attribute key');
  }
  w.array(2).uint(value.schema).map(entries.length);
  for (const [k, v] of entries) w.bytes(k).bytes(v);
}

export function readCredentialData(r: CborReader): CredentialData {
  const fields = r.arrayOf(5, Number.MAX_SAFE_INTEGER, 'CredentialData');
  const subject = r.nullable() ? undefined : identifierFromBytes(r.bytesExact(HASH_LENGTH, 'subject'));
  const subjectLatestChangeHash = r.nullable()
    ? undefined
    : r.bytesExact(HASH_LENGTH, 'subject_latest_change_hash').slice();
  const attributes = readAttributes(r);
  const createdAt = r.uint();
  const expiresAt = r.uint();
  r.skipRest(fields - 5);
  return {
    ...(subject === undefined ? {} : { subject }),
    ...(subjectLatestChangeHash === undefined ? {} : { subjectLatestChangeHash }),
    attributes,
    createdAt,
    expiresAt,
  };
}

export function writeCredentialData(w: CborWriter, value: CredentialData): void {
  checkTimestamp(value.createdAt, 'createdAt');
  checkTimestamp(value.expiresAt, 'expiresAt');
  w.array(5);
  // Optional fields in the middle of a minicbor array are written as null (PROTOCOL.md §0).
  if (value.subject === undefined) w.null();
  else w.bytes(identifierToBytes(value.subject));
  if (value.subjectLatestChangeHash === undefined) w.null();
  else {
    if (value.subjectLatestChangeHash.length !== HASH_LENGTH)
      throw new RangeError(`subjectLatestChangeHash must be ${HASH_LENGTH} bytes`);
    w.bytes(value.subjectLatestChangeHash);
  }
  writeAttributes(w, value.attributes);
  w.uint(value.createdAt).uint(value.expiresAt);
}

export function readCredential(r: CborReader): Credential {
  const fields = r.arrayOf(2, Number.MAX_SAFE_INTEGER, 'Credential');
  const data = r.bytes().slice();
  const signature = readSignature(r, 'CredentialSignature');
  r.skipRest(fields - 2);
  return { data, signature };
}

export function writeCredential(w: CborWriter, value: Credential): void {
  w.array(2).bytes(value.data);
  writeSignature(w, value.signature);
}

export function readCredentialAndPurposeKey(r: CborReader): CredentialAndPurposeKey {
  const fields = r.arrayOf(2, Number.MAX_SAFE_INTEGER, 'CredentialAndPurposeKey');
  const credential = readCredential(r);
  const purposeKeyAttestation = readPurposeKeyAttestation(r);
  r.skipRest(fields - 2);
  return { credential, purposeKeyAttestation };
}

export function writeCredentialAndPurposeKey(w: CborWriter, value: CredentialAndPurposeKey): void {
  w.array(2);
  writeCredential(w, value.credential);
  writePurposeKeyAttestation(w, value.purposeKeyAttestation);
}

function encodeWith<T>(write: (w: CborWriter, v: T) => void, value: T): Uint8Array {
  const w = new CborWriter(512);
  write(w, value);
  return w.finish();
}

/** Encodes Attributes. */
export const encodeAttributes = (value: Attributes): Uint8Array => encodeWith(writeAttributes, value);
/** Decodes Attributes; throws a DecodeError on malformed input, duplicate keys or trailing bytes. */
export const decodeAttributes = (bytes: Uint8Array): Attributes =>
  decodeAll(bytes, 'Attributes', readAttributes);
/** Encodes a CredentialData (the payload of a type-3 VersionedData). */
export const encodeCredentialData = (value: CredentialData): Uint8Array =>
  encodeWith(writeCredentialData, value);
/** Decodes a CredentialData. */
export const decodeCredentialData = (bytes: Uint8Array): CredentialData =>
  decodeAll(bytes, 'CredentialData', readCredentialData);
/** Encodes a Credential. */
export const encodeCredential = (value: Credential): Uint8Array => encodeWith(writeCredential, value);
/** Decodes a Credential without verifying it. */
export const decodeCredential = (bytes: Uint8Array): Credential =>
  decodeAll(bytes, 'Credential', readCredential);
/** Encodes a CredentialAndPurposeKey (export with toHex). */
export const encodeCredentialAndPurposeKey = (value: CredentialAndPurposeKey): Uint8Array =>
  encodeWith(writeCredentialAndPurposeKey, value);
/** Decodes a CredentialAndPurposeKey without verifying it. */
export const decodeCredentialAndPurposeKey = (bytes: Uint8Array): CredentialAndPurposeKey =>
  decodeAll(bytes, 'CredentialAndPurposeKey', readCredentialAndPurposeKey);
