/**
 * Shared CBOR pieces of the identity models, in minicbor's layout (PROTOCOL.md §0): structs are
 * arrays indexed by field number, enums are `[variant, [fields…]]`, unknown trailing fields are
 * skipped, byte fields are byte strings.
 */
import { CborReader, type CborWriter, DecodeError } from '@ockam/core';

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const P256_PUBLIC_KEY_LENGTH = 65;
export const X25519_PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
export const HASH_LENGTH = 32;

/** Ed25519 or ECDSA P-256: the algorithms of primary keys and credential keys. */
export type SignatureAlgorithm = 'ed25519' | 'p256';

/** A public key of a signing algorithm. */
export interface SigningPublicKey {
  readonly type: SignatureAlgorithm;
  readonly bytes: Uint8Array;
}

/** A signature: `[0, [bstr64]]` for Ed25519 or `[1, [bstr64 r‖s]]` for ECDSA P-256. */
export interface Signature {
  readonly type: SignatureAlgorithm;
  readonly bytes: Uint8Array;
}

const VARIANT_BY_TYPE = { ed25519: 0, p256: 1 } as const;

/** Reads an enum head; returns the variant index and the number of fields. */
export function readEnum(r: CborReader, name: string): { variant: number; fields: number } {
  r.arrayOf(2, 2, name);
  const variant = r.uint();
  const fields = r.array();
  return { variant, fields };
}

function readSingleField<T>(r: CborReader, name: string, readers: Record<number, (r: CborReader) => T>): T {
  const { variant, fields } = readEnum(r, name);
  const read = readers[variant];
  if (read === undefined) r.fail(`unknown ${name} variant ${variant}`);
  if (fields < 1) r.fail(`${name} variant ${variant} has no field`);
  const value = read(r);
  r.skipRest(fields - 1);
  return value;
}

/** PrimaryPublicKey / CredentialVerifyingKey: `[0, [bstr32]]` (Ed25519) or `[1, [bstr65]]` (P-256). */
export function readSigningPublicKey(r: CborReader, name = 'public key'): SigningPublicKey {
  return readSingleField<SigningPublicKey>(r, name, {
    0: (r) => ({
      type: 'ed25519',
      bytes: r.bytesExact(ED25519_PUBLIC_KEY_LENGTH, 'Ed25519 public key').slice(),
    }),
    1: (r) => ({ type: 'p256', bytes: r.bytesExact(P256_PUBLIC_KEY_LENGTH, 'P-256 public key').slice() }),
  });
}

export function writeSigningPublicKey(w: CborWriter, key: SigningPublicKey): void {
  const expected =
    key.type === 'ed25519' ? ED25519_PUBLIC_KEY_LENGTH : key.type === 'p256' ? P256_PUBLIC_KEY_LENGTH : -1;
  if (expected < 0) throw new TypeError(`unsupported public key type ${String(key.type)}`);
  if (key.bytes.length !== expected)
    throw new RangeError(`a ${key.type} public key is ${expected} bytes, got ${key.bytes.length}`);
  w.array(2).uint(VARIANT_BY_TYPE[key.type]).array(1).bytes(key.bytes);
}

/** ChangeSignature / PurposeKeyAttestationSignature / CredentialSignature. */
export function readSignature(r: CborReader, name = 'signature'): Signature {
  return readSingleField<Signature>(r, name, {
    0: (r) => ({ type: 'ed25519', bytes: r.bytesExact(SIGNATURE_LENGTH, 'Ed25519 signature').slice() }),
    1: (r) => ({ type: 'p256', bytes: r.bytesExact(SIGNATURE_LENGTH, 'ECDSA P-256 signature').slice() }),
  });
}

export function writeSignature(w: CborWriter, signature: Signature): void {
  if (signature.type !== 'ed25519' && signature.type !== 'p256')
    throw new TypeError(`unsupported signature type ${String(signature.type)}`);
  if (signature.bytes.length !== SIGNATURE_LENGTH)
    throw new RangeError(`a signature is ${SIGNATURE_LENGTH} bytes, got ${signature.bytes.length}`);
  w.array(2).uint(VARIANT_BY_TYPE[signature.type]).array(1).bytes(signature.bytes);
}

/** A u64 timestamp in Unix seconds (limited to the safe JS integer range). */
export function checkTimestamp(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer number of seconds, got ${value}`);
}

/** Runs a decoder over a whole buffer, requiring that it consumes every byte. */
export function decodeAll<T>(bytes: Uint8Array, what: string, read: (r: CborReader) => T): T {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(what, 'expected a Uint8Array');
  const r = new CborReader(bytes, what);
  const value = read(r);
  r.end();
  return value;
}
