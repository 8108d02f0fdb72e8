/**
 * Noise protocol names (Noise spec §8): `Noise_<pattern>_<dh>_<cipher>_<hash>`, plus Ockam's
 * own name for its XX variant (PROTOCOL.md §3.1).
 *
 * Implemented: DH `25519`; ciphers `AESGCM` and `ChaChaPoly`; hash `SHA256`. Anything else is
 * an `unsupported` SecureChannelError, so callers (and the vector runner) can tell "not
 * implemented" from "wrong".
 *
 * @example
 * ```ts
 * import { noiseProtocol, OCKAM_PROTOCOL_NAME } from '@ockam/secure-channel';
 * noiseProtocol('Noise_XX_25519_ChaChaPoly_SHA256').cipher; // 'chacha20-poly1305'
 * noiseProtocol(OCKAM_PROTOCOL_NAME).reversedSplit;         // true
 * ```
 */
import type { AeadAlgorithm } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import { type HandshakePattern, handshakePattern } from './noise-pattern.js';

/** Ockam's protocol name: exactly 32 bytes, so it is used as h and ck directly. */
export const OCKAM_PROTOCOL_NAME = 'OCKAM_XX_25519_AES256_GCM_SHA256';

export interface NoiseProtocol {
  /** The protocol name as given; its ASCII bytes initialise the symmetric state. */
  readonly name: string;
  readonly pattern: HandshakePattern;
  readonly dh: '25519';
  readonly cipher: AeadAlgorithm;
  readonly hash: 'SHA256';
  /**
   * Ockam's variant assigns the split keys the other way round: the initiator encrypts with the
   * second key and decrypts with the first (PROTOCOL.md §3.1, "Split").
   */
  readonly reversedSplit: boolean;
}

const CIPHERS: Record<string, AeadAlgorithm> = { AESGCM: 'aes-256-gcm', ChaChaPoly: 'chacha20-poly1305' };

function unsupported(name: string, what: string): never {
  throw new SecureChannelError('unsupported', `Unsupported Noise protocol ${JSON.stringify(name)}: ${what}`);
}

/** Parses a protocol name; throws `unsupported` for anything this package does not implement. */
export function noiseProtocol(name: string): NoiseProtocol {
  if (name === OCKAM_PROTOCOL_NAME) {
    return Object.freeze({
      name,
      pattern: handshakePattern('XX'),
      dh: '25519',
      cipher: 'aes-256-gcm',
      hash: 'SHA256',
      reversedSplit: true,
    });
  }
  const parts = name.split('_');
  if (parts.length !== 5 || parts[0] !== 'Noise')
    unsupported(name, 'not of the form Noise_PATTERN_DH_CIPHER_HASH');
  const [, patternName, dh, cipherName, hash] = parts as [string, string, string, string, string];
  const pattern = handshakePattern(patternName);
  if (dh !== '25519') unsupported(name, `DH function ${dh}`);
  const cipher = CIPHERS[cipherName];
  if (cipher === undefined) unsupported(name, `cipher ${cipherName}`);
  if (hash !== 'SHA256') unsupported(name, `hash ${hash}`);
  return Object.freeze({ name, pattern, dh: '25519', cipher, hash: 'SHA256', reversedSplit: false });
}
