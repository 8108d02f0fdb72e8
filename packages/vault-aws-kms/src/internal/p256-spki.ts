/**
 * KMS GetPublicKey returns a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7); Ockam's identities carry
 * a P-256 key as 65 bytes of uncompressed SEC1. node:crypto parses the DER and checks the point is
 * on the curve; we only check sizes first and that the curve is P-256.
 */
import { createPublicKey } from 'node:crypto';
import { VaultError } from '@ockam/vault';

/** A P-256 SPKI is 91 bytes; anything much longer is not one. */
const MAX_SPKI_BYTES = 256;

/** The 65-byte uncompressed point of a P-256 SPKI, or a VaultError('protocol') saying why not. */
export function p256PublicKeyFromSpki(der: Uint8Array, what: string): Uint8Array {
  if (der.length === 0 || der.length > MAX_SPKI_BYTES)
    throw new VaultError('protocol', `${what}: a public key of ${der.length} bytes is not a P-256 SPKI`);
  let jwk: { x?: string; y?: string };
  try {
    const key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
    if (curve !== 'prime256v1')
      throw new VaultError(
        'protocol',
        `${what}: the public key is ${key.asymmetricKeyType}${curve ? ` on ${curve}` : ''}, not P-256`,
      );
    jwk = key.export({ format: 'jwk' });
  } catch (e) {
    if (e instanceof VaultError) throw e;
    throw new VaultError('protocol', `${what}: the public key is not a valid SPKI`, { cause: e });
  }
  const x = Buffer.from(jwk.x ?? '', 'base64url');
  const y = Buffer.from(jwk.y ?? '', 'base64url');
  if (x.length !== 32 || y.length !== 32)
    throw new VaultError('protocol', `${what}: the P-256 point does not have 32-byte coordinates`);
  const point = new Uint8Array(65);
  point[0] = 0x04;
  point.set(x, 1);
  point.set(y, 33);
  return point;
}
