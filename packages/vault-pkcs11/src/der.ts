/**
 * The few DER shapes a PKCS#11 token hands back for an EC key. Token bytes are untrusted: every
 * length is checked against the one exact size the key type allows before anything is copied.
 */
import { VaultError } from '@ockam/vault';

/** CKA_EC_PARAMS for Ed25519: the OID 1.3.101.112 (RFC 8410), as PKCS#11 3.0 prefers it. */
export const ED25519_PARAMS = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70);
/** CKA_EC_PARAMS for P-256: the OID 1.2.840.10045.3.1.7 (prime256v1 / secp256r1). */
export const P256_PARAMS = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);

const OCTET_STRING = 0x04;

/**
 * The public key in a CKA_EC_POINT value: a DER OCTET STRING wrapping the point (what PKCS#11
 * specifies), or the bare point (what some tokens return). `size` is 32 for Ed25519 and 65 for
 * uncompressed P-256; anything else is refused.
 */
export function parseEcPoint(value: Uint8Array, size: 32 | 65): Uint8Array {
  // size < 128, so the DER length is a single byte.
  if (value.length === size + 2 && value[0] === OCTET_STRING && value[1] === size) {
    const point = value.slice(2);
    if (size === 65 && point[0] !== 0x04)
      throw new VaultError(
        'invalid',
        'The token returned a P-256 public key that is not an uncompressed point',
      );
    return point;
  }
  if (value.length === size && (size === 32 || value[0] === 0x04)) return value.slice();
  throw new VaultError(
    'invalid',
    `The token returned a ${size === 32 ? 'Ed25519' : 'P-256'} public key of unexpected form (${value.length} bytes)`,
  );
}
