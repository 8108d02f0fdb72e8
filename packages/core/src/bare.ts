/**
 * BARE encodings that Ockam uses (PROTOCOL.md §0): LEB128 unsigned varints, length-prefixed strings
 * and byte vectors. `ctx.send(route, "hello")` in Ockam Rust puts `05 68 65 6c 6c 6f` on the wire.
 *
 * @example
 * ```ts
 * import { encodeBareString, decodeBareString } from '@ockam/core';
 * encodeBareString('hello'); // Uint8Array [5, 104, 101, 108, 108, 111]
 * decodeBareString(new Uint8Array([5, 104, 101, 108, 108, 111])); // 'hello'
 * ```
 */
import { DecodeError } from './errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Bytes needed for the uvarint of `n`. */
export function uvarintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Writes the uvarint of a non-negative safe integer at `offset`; returns the new offset. */
export function writeUvarint(out: Uint8Array, offset: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`uvarint out of range: ${n}`);
  while (n >= 0x80) {
    out[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[offset++] = n;
  return offset;
}

export function encodeUvarint(n: number): Uint8Array {
  const out = new Uint8Array(uvarintLength(n));
  writeUvarint(out, 0, n);
  return out;
}

/**
 * Reads a uvarint at `offset`. Returns [value, newOffset]. Rejects more than 10 bytes (the u64
 * limit in Ockam's `bare.rs`), values beyond 2^53 − 1, and truncation.
 */
export function readUvarint(bytes: Uint8Array, offset: number, what = 'uvarint'): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (offset >= bytes.length) throw new DecodeError(what, 'truncated varint');
    const b = bytes[offset++]!;
    value += (b & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) throw new DecodeError(what, 'varint exceeds 2^53 - 1');
    if ((b & 0x80) === 0) return [value, offset];
    scale *= 128;
  }
  throw new DecodeError(what, 'varint longer than 10 bytes');
}

/** A BARE `Vec<u8>`: uvarint length then the bytes. */
export function encodeBareBytes(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(uvarintLength(data.length) + data.length);
  out.set(data, writeUvarint(out, 0, data.length));
  return out;
}

/** A BARE `String`: uvarint byte length then UTF-8. */
export function encodeBareString(s: string): Uint8Array {
  return encodeBareBytes(enc.encode(s));
}

/** Reads a BARE `Vec<u8>` at `offset`: returns [bytes view, newOffset]. */
export function readBareBytes(bytes: Uint8Array, offset: number, what = 'BARE bytes'): [Uint8Array, number] {
  const [len, start] = readUvarint(bytes, offset, what);
  if (len > bytes.length - start) {
    throw new DecodeError(
      what,
      `declared length ${len} exceeds the ${bytes.length - start} bytes that remain`,
    );
  }
  return [bytes.subarray(start, start + len), start + len];
}

/** Decodes a complete BARE `Vec<u8>` (no trailing bytes). */
export function decodeBareBytes(bytes: Uint8Array, what = 'BARE bytes'): Uint8Array {
  const [out, end] = readBareBytes(bytes, 0, what);
  if (end !== bytes.length) throw new DecodeError(what, `${bytes.length - end} trailing bytes`);
  return out;
}

/** Decodes a complete BARE `String` (no trailing bytes, valid UTF-8). */
export function decodeBareString(bytes: Uint8Array, what = 'BARE string'): string {
  const raw = decodeBareBytes(bytes, what);
  try {
    return dec.decode(raw);
  } catch (cause) {
    throw new DecodeError(what, 'invalid UTF-8', { cause });
  }
}
