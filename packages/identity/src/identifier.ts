/**
 * Identifiers (PROTOCOL.md §4.2): SHA-256 of the first change's `data` bytes, all 32 bytes.
 * The string form is "I" followed by 64 lowercase hex digits; the CBOR form is a 32-byte bstr.
 */
import { fromHex, toHex } from '@ockam/core';
import { IdentityError } from './identity-error.js';

/** An Ockam identifier string: "I" + 64 lowercase hex digits. */
export type Identifier = string;

/** Length of an identifier and of a change hash in bytes. */
export const IDENTIFIER_LENGTH = 32;

const IDENTIFIER_PATTERN = /^I[0-9a-f]{64}$/;

/** True if `value` is a well-formed identifier string. */
export function isIdentifier(value: unknown): value is Identifier {
  return typeof value === 'string' && IDENTIFIER_PATTERN.test(value);
}

/** Validates an identifier string (upper-case hex is normalised to lower case). */
export function parseIdentifier(value: string): Identifier {
  const normalised =
    typeof value === 'string' && value.length === 65 && value[0] === 'I'
      ? `I${value.slice(1).toLowerCase()}`
      : value;
  if (!isIdentifier(normalised))
    throw new IdentityError('bad-identifier', `not an Ockam identifier: ${String(value).slice(0, 80)}`);
  return normalised;
}

/** The identifier string for 32 identifier bytes. */
export function identifierFromBytes(bytes: Uint8Array): Identifier {
  if (bytes.length !== IDENTIFIER_LENGTH)
    throw new IdentityError(
      'bad-identifier',
      `an identifier is ${IDENTIFIER_LENGTH} bytes, got ${bytes.length}`,
    );
  return `I${toHex(bytes)}`;
}

/** The 32 bytes of an identifier string. */
export function identifierToBytes(identifier: Identifier): Uint8Array {
  return fromHex(parseIdentifier(identifier).slice(1), 'identifier');
}
