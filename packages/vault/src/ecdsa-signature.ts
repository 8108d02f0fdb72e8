/**
 * ECDSA P-256 signature encodings. Ockam carries raw r‖s (64 bytes, PROTOCOL.md §4.1); remote
 * signers such as AWS KMS return ASN.1 DER (PROTOCOL.md §9), so this converts DER strictly.
 */
import { VaultError } from './vault-error.js';

const SCALAR_LENGTH = 32;

function readInteger(der: Uint8Array, offset: number): { value: Uint8Array; next: number } {
  if (der[offset] !== 0x02) throw new VaultError('invalid', 'DER ECDSA signature: expected an INTEGER');
  const length = der[offset + 1];
  // P-256 integers fit in 33 bytes, so only the short length form is canonical.
  if (length === undefined || length === 0 || length > SCALAR_LENGTH + 1) {
    throw new VaultError('invalid', `DER ECDSA signature: INTEGER length ${String(length)} is out of range`);
  }
  const start = offset + 2;
  const end = start + length;
  if (end > der.length) throw new VaultError('invalid', 'DER ECDSA signature: INTEGER runs past the end');
  const first = der[start]!;
  if (first & 0x80) throw new VaultError('invalid', 'DER ECDSA signature: negative INTEGER');
  if (first === 0 && length > 1 && (der[start + 1]! & 0x80) === 0) {
    throw new VaultError('invalid', 'DER ECDSA signature: INTEGER has a redundant leading zero');
  }
  let value = der.subarray(start, end);
  if (value.length === SCALAR_LENGTH + 1) {
    if (value[0] !== 0) throw new VaultError('invalid', 'DER ECDSA signature: INTEGER exceeds 256 bits');
    value = value.subarray(1);
  }
  return { value, next: end };
}

/**
 * Converts a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3) to the 64-byte r‖s form. Rejects any
 * non-canonical encoding: long-form lengths, redundant zeros, negative integers, trailing bytes.
 */
export function ecdsaDerToRaw(der: Uint8Array): Uint8Array {
  if (der.length < 8 || der[0] !== 0x30)
    throw new VaultError('invalid', 'DER ECDSA signature: expected a SEQUENCE');
  const length = der[1]!;
  if (length & 0x80 || length + 2 !== der.length) {
    throw new VaultError('invalid', 'DER ECDSA signature: SEQUENCE length does not match the input');
  }
  const r = readInteger(der, 2);
  const s = readInteger(der, r.next);
  if (s.next !== der.length) throw new VaultError('invalid', 'DER ECDSA signature: trailing bytes after s');
  const out = new Uint8Array(2 * SCALAR_LENGTH);
  out.set(r.value, SCALAR_LENGTH - r.value.length);
  out.set(s.value, 2 * SCALAR_LENGTH - s.value.length);
  return out;
}

/** Converts a 64-byte r‖s signature to minimal DER. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 2 * SCALAR_LENGTH)
    throw new RangeError(`a raw P-256 signature is 64 bytes, got ${raw.length}`);
  const integer = (scalar: Uint8Array): number[] => {
    let i = 0;
    while (i < scalar.length - 1 && scalar[i] === 0) i++;
    const body = [...scalar.subarray(i)];
    if (body[0]! & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const body = [...integer(raw.subarray(0, SCALAR_LENGTH)), ...integer(raw.subarray(SCALAR_LENGTH))];
  return Uint8Array.from([0x30, body.length, ...body]);
}
