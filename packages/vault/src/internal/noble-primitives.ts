/**
 * Primitives on @noble/* (pure JavaScript): runs in browsers and any runtime, and serves as the
 * differential oracle for the node backend in tests. No `node:` imports here.
 */
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { PreparedAead, Primitives } from './primitives.js';

function aead(algorithm: 'aes-256-gcm' | 'chacha20-poly1305', key: Uint8Array): PreparedAead {
  if (algorithm === 'chacha20-poly1305' ? key.length !== 32 : ![16, 24, 32].includes(key.length)) {
    throw new RangeError(`${algorithm} does not take a ${key.length}-byte key`);
  }
  const make = algorithm === 'chacha20-poly1305' ? chacha20poly1305 : gcm;
  return {
    encrypt: (nonce, plaintext, aad) => make(key, nonce, aad).encrypt(plaintext),
    decrypt(nonce, ciphertextAndTag, aad) {
      try {
        return make(key, nonce, aad).decrypt(ciphertextAndTag);
      } catch {
        return undefined;
      }
    },
  };
}

export const noblePrimitives: Primitives = {
  name: 'noble',
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256(salt, ikm, info, length) {
    if (!Number.isInteger(length) || length < 0 || length > 255 * 32)
      throw new RangeError(`HKDF-SHA256 cannot produce ${length} bytes`);
    return hkdf(sha256, ikm, salt, info, length);
  },
  signingKey(type, secret) {
    // No copies: `secret` is the vault's own buffer, so wiping it on delete wipes the key here too.
    if (type === 'ed25519') {
      const seed = secret;
      return { publicKey: ed25519.getPublicKey(seed), sign: (message) => ed25519.sign(message, seed) };
    }
    const scalar = secret;
    // getPublicKey validates 1 ≤ d < n; P-256 public keys are 65-byte uncompressed SEC1 (PROTOCOL.md §4.1).
    const publicKey = p256.getPublicKey(scalar, false);
    return { publicKey, sign: (message) => p256.sign(message, scalar, { prehash: true }) };
  },
  verify(type, publicKey, message, signature) {
    if (signature.length !== 64) return false;
    try {
      if (type === 'ed25519') {
        // RFC 8032 strict decoding (not ZIP-215), matching OpenSSL.
        return publicKey.length === 32 && ed25519.verify(signature, message, publicKey, { zip215: false });
      }
      // High-S signatures are valid ECDSA (as in OpenSSL and RustCrypto's p256): lowS false.
      return (
        publicKey.length === 65 && p256.verify(signature, message, publicKey, { prehash: true, lowS: false })
      );
    } catch {
      return false;
    }
  },
  x25519Key(secret) {
    const scalar = secret;
    return {
      publicKey: x25519.getPublicKey(scalar),
      dh(peer) {
        if (peer.length !== 32) throw new RangeError('invalid X25519 public key');
        return x25519.getSharedSecret(scalar, peer);
      },
    };
  },
  aead,
};
