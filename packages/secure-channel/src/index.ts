/**
 * @ockam/secure-channel: Ockam secure channels — the Noise handshake engine (any Noise pattern
 * with 25519 / AESGCM or ChaChaPoly / SHA256, and Ockam's XX variant), the data-phase
 * encryptor and decryptor with rekeying and the replay window, and the plaintext codec.
 */
export { Decryptor } from './decryptor.js';
export { Encryptor, type EncryptorOptions, KEY_RENEWAL_INTERVAL, NONCE_PREFIX_LENGTH, TAG_LENGTH } from './encryptor.js';
export { SecureChannelError } from './errors.js';
export { CipherState } from './noise-cipher-state.js';
export {
  DHLEN,
  type HandshakeOptions,
  HandshakeState,
  type HandshakeVault,
  NOISE_MAX_MESSAGE_SIZE,
  type TransportCipherStates,
} from './noise-handshake-state.js';
export { HANDSHAKE_PATTERN_NAMES, type HandshakePattern, handshakePattern, type MessageToken, type PreMessageToken } from './noise-pattern.js';
export { type NoiseProtocol, noiseProtocol, OCKAM_PROTOCOL_NAME } from './noise-protocol.js';
export { HASHLEN, SymmetricState } from './noise-symmetric-state.js';
export { type NoiseVector, type NoiseVectorResult, parseNoiseVectors, runNoiseVector } from './noise-vector.js';
export {
  type CloseMessage,
  decodeSecureChannelMessage,
  encodeSecureChannelMessage,
  type PayloadMessage,
  type RefreshCredentialsMessage,
  type SecureChannelMessage,
} from './secure-channel-message.js';
