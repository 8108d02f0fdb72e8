/**
 * The handshake payload of msg2 and msg3 (PROTOCOL.md §3.2): the CBOR array
 * `[ChangeHistory, PurposeKeyAttestation, [CredentialAndPurposeKey…]]`. The three parts are kept
 * as their CBOR encodings; `@ockam/identity` decodes and verifies them.
 *
 * @example
 * ```ts
 * import { encodeIdentityAndCredentials, decodeIdentityAndCredentials } from '@ockam/secure-channel/codec';
 * const bytes = encodeIdentityAndCredentials({ changeHistory, purposeKeyAttestation, credentials: [] });
 * decodeIdentityAndCredentials(bytes).changeHistory; // the same CBOR bytes
 * ```
 */
import { CborReader, CborWriter } from '@ockam/core';

export interface IdentityAndCredentials {
  /** CBOR of the change history (an array of changes): the exported identity. */
  readonly changeHistory: Uint8Array;
  /** CBOR of the PurposeKeyAttestation of the Noise static key. */
  readonly purposeKeyAttestation: Uint8Array;
  /** CBOR of each CredentialAndPurposeKey (0 or 1 in practice). */
  readonly credentials: readonly Uint8Array[];
}

const WHAT = 'identity and credentials';

/**
 * Credentials a handshake payload or a credential refresh may carry (8): each one costs a
 * signature check where credentials are verified, and Ockam sends 0 or 1 (PROTOCOL.md §3.2).
 */
export const MAX_PEER_CREDENTIALS = 8;

export function encodeIdentityAndCredentials(value: IdentityAndCredentials): Uint8Array {
  let size = value.changeHistory.length + value.purposeKeyAttestation.length + 16;
  for (const c of value.credentials) size += c.length;
  const w = new CborWriter(size);
  w.array(3).raw(value.changeHistory).raw(value.purposeKeyAttestation).array(value.credentials.length);
  for (const c of value.credentials) w.raw(c);
  return w.finish();
}

function arrayItem(r: CborReader, name: string): Uint8Array {
  const t = r.peekType();
  if (t !== 'array') r.fail(`${name} must be a CBOR array, found ${t ?? 'nothing'}`);
  return r.rawItem().slice();
}

/**
 * Decodes strictly (well-formed CBOR, right shapes, no trailing bytes, at most `maxCredentials`
 * credentials, default `MAX_PEER_CREDENTIALS`); extra trailing fields are skipped.
 */
export function decodeIdentityAndCredentials(
  bytes: Uint8Array,
  options: { maxCredentials?: number } = {},
): IdentityAndCredentials {
  const r = new CborReader(bytes, WHAT);
  const n = r.array();
  if (n < 3) r.fail(`expected 3 fields, found ${n}`);
  const changeHistory = arrayItem(r, 'change history');
  const purposeKeyAttestation = arrayItem(r, 'purpose key attestation');
  const count = r.arrayOf(0, options.maxCredentials ?? MAX_PEER_CREDENTIALS, 'credentials');
  const credentials: Uint8Array[] = [];
  for (let i = 0; i < count; i++) credentials.push(arrayItem(r, 'credential'));
  r.skipRest(n - 3);
  r.end();
  return { changeHistory, purposeKeyAttestation, credentials };
}
