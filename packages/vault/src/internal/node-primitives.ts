/**
 * Primitives on `node:crypto` (OpenSSL): the fast backend, used on the data path.
 *
 * Raw 32-byte Ed25519 secrets become KeyObjects by prefixing the fixed PKCS#8 DER header (RFC 8410
 * §7); X25519 secrets and raw Ed25519/X25519 public keys go through JWK (RFC 8037), which Node
 * imports without OpenSSL's slow DER decoders; P-256 public keys get the fixed SPKI header.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { createRequire } from 'node:module';
import { type AeadAlgorithm, concatBytes, joinBytes, type SigningKeyType } from '@ockam/core';
import type { PreparedAead, PreparedSigningKey, PreparedX25519Key, Primitives } from './primitives.js';

// RFC 8410 §7 PKCS#8 and SPKI headers for Ed25519 (OID 1.3.101.112) and X25519 (1.3.101.110).
const ED25519_PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
// SPKI header for an uncompressed P-256 point (id-ecPublicKey, prime256v1), RFC 5480 §2.
const P256_SPKI = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

const VERIFY_CACHE_LIMIT = 256;

function view(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function toU8(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function base64url(bytes: Uint8Array): string {
  return view(bytes).toString('base64url');
}

function derPrivateKey(header: Buffer, secret: Uint8Array): KeyObject {
  const der = Buffer.concat([header, secret]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/**
 * An X25519 private KeyObject and its raw public key, through JWK rather than PKCS#8 DER: OpenSSL 3
 * decodes DER through its generic decoder chain, about 10× slower than Node's direct raw import
 * behind JWK (measured ~560 µs against ~60 µs), and handshakes make a fresh ephemeral key every
 * time. Node imports an OKP JWK private key from `d` alone and derives the public key itself; `x`
 * is required by the JWK shape but not used, so the real public key is read back from the key.
 * Like the KeyObject itself, the base64url string of the secret cannot be wiped; it is dropped at
 * once and left to the collector.
 */
function x25519PrivateKey(secret: Uint8Array): { privateKey: KeyObject; publicKey: Uint8Array } {
  const d = base64url(secret);
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: d }, format: 'jwk' });
  const x = privateKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new RangeError('cannot derive the X25519 public key');
  return { privateKey, publicKey: new Uint8Array(Buffer.from(x, 'base64url')) };
}

function rawPublicFromPrivate(key: KeyObject): Uint8Array {
  // The SPKI of an Ed25519/X25519 key ends with the 32-byte raw key.
  const spki =
    key.type === 'private'
      ? createPublicKey(key).export({ format: 'der', type: 'spki' })
      : key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** Public KeyObjects parsed from raw bytes, kept for repeated verification of the same keys. */
const publicKeyCache = new Map<string, KeyObject | null>();

function publicKeyObject(type: SigningKeyType | 'x25519', raw: Uint8Array): KeyObject | null {
  const header = type === 'ed25519' ? ED25519_SPKI : type === 'p256' ? P256_SPKI : X25519_SPKI;
  const expected = type === 'p256' ? 65 : 32;
  if (raw.length !== expected) return null;
  const cacheKey = type + view(raw).toString('hex');
  const cached = publicKeyCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let key: KeyObject | null;
  try {
    // 32-byte OKP keys through JWK: Node imports them directly, ~8× faster than SPKI DER decoding,
    // and a handshake verifies the peer's fresh ephemeral key every time.
    key =
      type === 'p256'
        ? createPublicKey({ key: Buffer.concat([header, raw]), format: 'der', type: 'spki' })
        : createPublicKey({
            key: { kty: 'OKP', crv: type === 'ed25519' ? 'Ed25519' : 'X25519', x: base64url(raw) },
            format: 'jwk',
          });
  } catch {
    key = null;
  }
  if (publicKeyCache.size >= VERIFY_CACHE_LIMIT) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(cacheKey, key);
  return key;
}

function ed25519Key(secret: Uint8Array): PreparedSigningKey {
  const key = derPrivateKey(ED25519_PKCS8, secret);
  return {
    publicKey: rawPublicFromPrivate(key),
    sign: (message) => toU8(nodeSign(null, message, key)),
  };
}

function p256Key(secret: Uint8Array): PreparedSigningKey {
  // ECDH.setPrivateKey validates the scalar (1 ≤ d < n) and derives the public point.
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(view(secret));
  const publicKey = toU8(ecdh.getPublicKey(null, 'uncompressed'));
  const key = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: base64url(secret),
      x: base64url(publicKey.subarray(1, 33)),
      y: base64url(publicKey.subarray(33, 65)),
    },
    format: 'jwk',
  });
  return {
    publicKey,
    sign: (message) => toU8(nodeSign('sha256', message, { key, dsaEncoding: 'ieee-p1363' })),
  };
}

const AES_BY_KEY_LENGTH: Record<number, string> = { 16: 'aes-128-gcm', 24: 'aes-192-gcm', 32: 'aes-256-gcm' };

/** The optional native AEAD (native/aead.c), when it was built; see `nativeAeadStatus`. */
interface NativeAead {
  create(algorithm: 0 | 1, key: Uint8Array): object;
  seal(
    handle: object,
    nonce: Uint8Array,
    plaintext: Uint8Array | readonly Uint8Array[],
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
  open(
    handle: object,
    nonce: Uint8Array,
    ciphertextAndTag: Uint8Array | readonly Uint8Array[],
    aad: Uint8Array,
    out: Uint8Array,
  ): boolean;
  destroy(handle: object): void;
}

const NATIVE_PATH = '../../build/Release/ockam_aead.node';
/** The most parts the addon's `seal` and `open` take (MAX_PARTS in native/aead.c). */
const MAX_NATIVE_PARTS = 64;

/** `parts`, joined when there are more than the addon takes (a frame a peer wrote in dribbles). */
function withinPartLimit(parts: readonly Uint8Array[]): readonly Uint8Array[] {
  return parts.length > MAX_NATIVE_PARTS ? [concatBytes(...parts)] : parts;
}

function loadNativeAead(): { native?: NativeAead; reason: string } {
  if (process.env.OCKAM_VAULT_NATIVE_AEAD === '0') return { reason: 'disabled by OCKAM_VAULT_NATIVE_AEAD=0' };
  try {
    return { native: createRequire(import.meta.url)(NATIVE_PATH) as NativeAead, reason: 'loaded' };
  } catch (e) {
    return { reason: `not built (${e instanceof Error ? e.message.split('\n')[0] : String(e)})` };
  }
}

const NATIVE = loadNativeAead();

/**
 * Whether AEAD runs on the native addon (built by `scripts/build-native.mjs` at install and
 * build time) or on node:crypto, and why. Both give the same bytes; the addon is about twice as
 * fast on 48 KiB frames and allocates nothing per message.
 */
export function nativeAeadStatus(): { readonly loaded: boolean; readonly reason: string } {
  return { loaded: NATIVE.native !== undefined, reason: NATIVE.reason };
}

/** A buffer of its own memory (never Buffer's pool), not zero-filled: the caller writes every byte. */
function allocate(size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

/**
 * AEAD on the native addon: one prepared OpenSSL context per direction for the key's lifetime;
 * nonces other than 96 bits (only Wycheproof uses them) go to node:crypto.
 */
function nativeAead(native: NativeAead, algorithm: AeadAlgorithm, raw: Uint8Array): PreparedAead {
  // Prepared only if a nonce other than 96 bits ever comes (never on the data path).
  let slow: PreparedAead | undefined;
  const fallback = (): PreparedAead => (slow ??= nodeCryptoAead(algorithm, raw));
  let handle: object | undefined = native.create(algorithm === 'chacha20-poly1305' ? 1 : 0, raw);
  const live = (): object => {
    if (handle === undefined) throw new RangeError('AEAD key was deleted');
    return handle;
  };
  return {
    encrypt(nonce, plaintext, aad) {
      if (nonce.length !== 12) return fallback().encrypt(nonce, plaintext, aad);
      const out = allocate(plaintext.length + 16);
      native.seal(live(), nonce, plaintext, aad, out, 0);
      return out;
    },
    encryptParts(nonce, parts, aad) {
      if (nonce.length !== 12) return fallback().encryptParts!(nonce, parts, aad);
      let length = 16;
      for (const part of parts) length += part.length;
      const out = allocate(length);
      native.seal(live(), nonce, withinPartLimit(parts), aad, out, 0);
      return [out];
    },
    encryptPartsInto(nonce, parts, aad, out) {
      if (nonce.length !== 12) return fallback().encryptPartsInto!(nonce, parts, aad, out);
      native.seal(live(), nonce, withinPartLimit(parts), aad, out, 0);
    },
    decrypt(nonce, ciphertextAndTag, aad) {
      if (nonce.length !== 12) return fallback().decrypt(nonce, ciphertextAndTag, aad);
      if (ciphertextAndTag.length < 16) return undefined;
      const out = allocate(ciphertextAndTag.length - 16);
      return native.open(live(), nonce, ciphertextAndTag, aad, out) ? out : undefined;
    },
    decryptInto(nonce, ciphertextAndTag, aad, out) {
      if (nonce.length !== 12 || ciphertextAndTag.length < 16) return false;
      return native.open(live(), nonce, ciphertextAndTag, aad, out);
    },
    decryptParts(nonce, parts, aad) {
      if (nonce.length !== 12) return this.decrypt(nonce, joinBytes(parts), aad);
      let length = 0;
      for (const part of parts) length += part.length;
      if (length < 16) return undefined;
      const out = allocate(length - 16);
      return native.open(live(), nonce, withinPartLimit(parts), aad, out) ? out : undefined;
    },
    dispose() {
      if (handle !== undefined) native.destroy(handle);
      handle = undefined;
    },
  };
}

function aead(algorithm: AeadAlgorithm, raw: Uint8Array): PreparedAead {
  const native = NATIVE.native;
  return native !== undefined ? nativeAead(native, algorithm, raw) : nodeCryptoAead(algorithm, raw);
}

function nodeCryptoAead(algorithm: AeadAlgorithm, raw: Uint8Array): PreparedAead {
  const cipherName =
    algorithm === 'chacha20-poly1305'
      ? raw.length === 32
        ? 'chacha20-poly1305'
        : undefined
      : AES_BY_KEY_LENGTH[raw.length];
  if (cipherName === undefined) throw new RangeError(`${algorithm} does not take a ${raw.length}-byte key`);
  // The raw key is a view on the vault's own copy, so deleting the key wipes what OpenSSL reads.
  // (A KeyObject measured no faster and cannot be wiped.)
  const key = view(raw);
  const options = { authTagLength: 16 } as const;
  return {
    encrypt(nonce, plaintext, aad) {
      const cipher = createCipheriv(cipherName as 'aes-256-gcm', key, nonce, options);
      // Ockam's data phase uses an empty AAD; skipping the call saves a native round trip.
      if (aad.length > 0) cipher.setAAD(aad);
      const body = cipher.update(plaintext);
      cipher.final();
      const tag = cipher.getAuthTag();
      // One output buffer, ciphertext ‖ tag, not zero-filled first (every byte is written here)
      // and not from Buffer's shared pool (callers keep it); a plain Uint8Array view, as elsewhere.
      const out = Buffer.allocUnsafeSlow(body.length + 16);
      body.copy(out, 0);
      tag.copy(out, body.length);
      return toU8(out);
    },
    encryptParts(nonce, parts, aad) {
      const cipher = createCipheriv(cipherName as 'aes-256-gcm', key, nonce, options);
      if (aad.length > 0) cipher.setAAD(aad);
      // Both ciphers are stream ciphers: each part's ciphertext is exactly as long as the part, and
      // OpenSSL's output buffer is handed on as it is (no copy, no frame to assemble).
      const out: Uint8Array[] = [];
      for (const part of parts) if (part.length > 0) out.push(toU8(cipher.update(part)));
      cipher.final();
      out.push(toU8(cipher.getAuthTag()));
      return out;
    },
    encryptPartsInto(nonce, parts, aad, out) {
      let at = 0;
      for (const piece of this.encryptParts!(nonce, parts, aad)) {
        out.set(piece, at);
        at += piece.length;
      }
    },
    decrypt(nonce, ciphertextAndTag, aad) {
      if (ciphertextAndTag.length < 16) return undefined;
      const split = ciphertextAndTag.length - 16;
      try {
        const decipher = createDecipheriv(cipherName as 'aes-256-gcm', key, nonce, options);
        if (aad.length > 0) decipher.setAAD(aad);
        decipher.setAuthTag(ciphertextAndTag.subarray(split));
        const body = decipher.update(ciphertextAndTag.subarray(0, split));
        decipher.final();
        return toU8(body);
      } catch {
        return undefined;
      }
    },
  };
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return toU8(createHmac('sha256', key).update(data).digest());
}

/** RFC 5869 with HMAC-SHA256; Noise's HKDF (Noise spec §4.3) is this with an empty info. */
function hkdfSha256(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * 32)
    throw new RangeError(`HKDF-SHA256 cannot produce ${length} bytes`);
  const prk = createHmac('sha256', salt).update(ikm).digest();
  const out = new Uint8Array(length);
  let previous: Buffer = Buffer.alloc(0);
  const counter = new Uint8Array(1);
  for (let offset = 0, i = 1; offset < length; i++, offset += 32) {
    counter[0] = i;
    const block = createHmac('sha256', prk).update(previous).update(info).update(counter).digest();
    out.set(block.subarray(0, Math.min(32, length - offset)), offset);
    previous.fill(0);
    previous = block;
  }
  previous.fill(0);
  prk.fill(0);
  return out;
}

function x25519Key(secret: Uint8Array): PreparedX25519Key {
  const { privateKey, publicKey } = x25519PrivateKey(secret);
  return {
    publicKey,
    dh(peer) {
      const publicKey = publicKeyObject('x25519', peer);
      if (publicKey === null) throw new RangeError('invalid X25519 public key');
      return toU8(diffieHellman({ privateKey, publicKey }));
    },
  };
}

export const nodePrimitives: Primitives = {
  name: 'node',
  sha256: (data) => toU8(createHash('sha256').update(data).digest()),
  hmacSha256,
  hkdfSha256,
  signingKey: (type, secret) => (type === 'ed25519' ? ed25519Key(secret) : p256Key(secret)),
  verify(type, publicKey, message, signature) {
    if (signature.length !== 64) return false;
    const key = publicKeyObject(type, publicKey);
    if (key === null) return false;
    try {
      return type === 'ed25519'
        ? nodeVerify(null, message, key, signature)
        : nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  },
  x25519Key,
  aead,
};

/** The node backend with AEAD on node:crypto even where the native addon is loaded (tests compare). */
export const nodeCryptoPrimitives: Primitives = {
  ...nodePrimitives,
  name: 'node:crypto',
  aead: nodeCryptoAead,
};
