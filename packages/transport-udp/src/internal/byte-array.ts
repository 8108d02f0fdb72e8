/**
 * minicbor encodes a plain `Vec<u8>` (no `minicbor::bytes` attribute) as a CBOR array of small
 * unsigned integers, not a byte string (PROTOCOL.md §0). Puncture messages use it for payloads and
 * addresses, so we need both directions, fast: a byte below 24 is one CBOR byte, others are two.
 */
import type { CborReader, CborWriter } from '@ockam/core';

export function writeByteArray(w: CborWriter, bytes: Uint8Array): void {
  w.array(bytes.length);
  let size = 0;
  for (let i = 0; i < bytes.length; i++) size += bytes[i]! < 24 ? 1 : 2;
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 24) out[o++] = b;
    else {
      out[o++] = 0x18;
      out[o++] = b;
    }
  }
  w.raw(out);
}

/** Reads an array of u8 values; `maxLength` bounds it before anything is allocated. */
export function readByteArray(r: CborReader, maxLength: number, name: string): Uint8Array {
  const n = r.array();
  if (n > maxLength) r.fail(`${name} of ${n} bytes exceeds ${maxLength}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.uintMax(0xff, `${name} byte`);
  return out;
}
