/**
 * 96-bit AEAD nonces built from a 64-bit counter (Noise spec §12.3 AESGCM: 32 zero bits then
 * the counter big-endian; §12.2 ChaChaPoly: 32 zero bits then the counter little-endian).
 */
import type { AeadAlgorithm, AeadKeyHandle, SecureChannelVault } from '@ockam/core';

/** The counter value reserved for REKEY (Noise spec §4.2): 2^64 − 1. */
export const MAX_NONCE = 0xffffffffffffffffn;

const TWO_32 = 0x1_0000_0000;

/** Writes counter `n` (a safe integer) into the last 8 bytes of the 12-byte `out`. */
export function writeNonce(out: Uint8Array, view: DataView, algorithm: AeadAlgorithm, n: number): void {
  const hi = Math.floor(n / TWO_32);
  const lo = n >>> 0;
  if (algorithm === 'chacha20-poly1305') {
    view.setUint32(4, lo, true);
    view.setUint32(8, hi, true);
  } else {
    view.setUint32(4, hi, false);
    view.setUint32(8, lo, false);
  }
  out[0] = out[1] = out[2] = out[3] = 0;
}

const REKEY_NONCE = new Uint8Array([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const EMPTY = new Uint8Array(0);

/**
 * Noise REKEY (spec §4.2 and §11.3): k' = the first 32 bytes of ENCRYPT(k, 2^64 − 1, empty ad,
 * 32 zero bytes). The counter is all ones, so the nonce is the same in either byte order. The old
 * key is left to the caller; the 32 bytes that pass through memory are wiped.
 */
export function rekeyAead(vault: SecureChannelVault, key: AeadKeyHandle): AeadKeyHandle {
  const out = vault.aeadEncrypt(key, REKEY_NONCE, new Uint8Array(32), EMPTY);
  // A real copy (not a view, whatever array type the vault returns), wiped once imported.
  const k = new Uint8Array(out.subarray(0, 32));
  out.fill(0);
  const secret = vault.importSecret(k);
  k.fill(0);
  try {
    return vault.aeadKey(secret, key.algorithm);
  } finally {
    vault.deleteSecret(secret);
  }
}
