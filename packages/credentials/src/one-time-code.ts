/**
 * One-time codes of enrollment tokens (PROTOCOL.md §5.2): 32 random bytes, CBOR map `{1: bstr32}`
 * on the wire, 64 hex characters as text.
 */
import { CborReader, CborWriter, DecodeError, fromHex, randomBytes, toHex } from '@ockam/core';

export const ONE_TIME_CODE_LENGTH = 32;

/** 32 fresh random bytes. */
export function createOneTimeCode(): Uint8Array {
  return randomBytes(ONE_TIME_CODE_LENGTH);
}

export function encodeOneTimeCode(code: Uint8Array): Uint8Array {
  if (code.length !== ONE_TIME_CODE_LENGTH)
    throw new RangeError(`a one-time code is ${ONE_TIME_CODE_LENGTH} bytes`);
  return new CborWriter(40).map(1).uint(1).bytes(code).finish();
}

/** Decodes `{1: bstr32}` strictly (unknown keys are skipped, as minicbor does). */
export function decodeOneTimeCode(bytes: Uint8Array): Uint8Array {
  const r = new CborReader(bytes, 'OneTimeCode');
  const n = r.map();
  let code: Uint8Array | undefined;
  for (let i = 0; i < n; i++) {
    if (r.peekType() !== 'uint') r.fail('keys must be unsigned integers');
    const key = r.uint();
    if (key === 1) {
      if (code !== undefined) r.fail('duplicate key 1');
      code = r.bytesExact(ONE_TIME_CODE_LENGTH, 'code').slice();
    } else r.skip();
  }
  r.end();
  if (code === undefined) throw new DecodeError('OneTimeCode', 'missing field 1');
  return code;
}

/** 64 lowercase hex characters. */
export function oneTimeCodeToText(code: Uint8Array): string {
  if (code.length !== ONE_TIME_CODE_LENGTH)
    throw new RangeError(`a one-time code is ${ONE_TIME_CODE_LENGTH} bytes`);
  return toHex(code);
}

/** Parses 64 hex characters; throws a DecodeError otherwise. */
export function oneTimeCodeFromText(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length !== ONE_TIME_CODE_LENGTH * 2)
    throw new DecodeError('one-time code', `expected ${ONE_TIME_CODE_LENGTH * 2} hex characters`);
  return fromHex(text, 'one-time code');
}
