/**
 * @ockam/secure-channel: Ockam secure channels — the Noise handshake engine (any Noise pattern
 * with 25519 / AESGCM or ChaChaPoly / SHA256, and Ockam's XX variant), the data-phase
 * encryptor and decryptor with rekeying and the replay window, and the plaintext codec.
 */

export type {
  CredentialsHook,
  PeerVerifier,
  SecureChannelIdentity,
  VerifiedPeer,
} from './channel-identity.js';
export { Decryptor, type DecryptorOptions } from './decryptor.js';
export {
  Encryptor,
  type EncryptorOptions,
  KEY_RENEWAL_INTERVAL,
  NONCE_PREFIX_LENGTH,
  TAG_LENGTH,
} from './encryptor.js';
export { SecureChannelError } from './errors.js';
export {
  DEFAULT_MAX_PEER_IDENTITY_CHANGES,
  type IdentityVerifierOptions,
  identityVerifier,
  type SecureChannelIdentityOptions,
  secureChannelIdentity,
} from './identity-verifier.js';
export type { FrameLease } from './internal/frame-pool.js';
export {
  KEY_EXCHANGE_OVERHEAD,
  type KeyExchangeAccepted,
  KeyExchangeDecryptor,
  KeyExchangeEncryptor,
  type KeyExchangeInitiated,
} from './key-exchange.js';
export { CipherState } from './noise-cipher-state.js';
export {
  DHLEN,
  type HandshakeOptions,
  HandshakeState,
  type HandshakeVault,
  NOISE_MAX_MESSAGE_SIZE,
  type TransportCipherStates,
} from './noise-handshake-state.js';
export {
  HANDSHAKE_PATTERN_NAMES,
  type HandshakePattern,
  handshakePattern,
  type MessageToken,
  type PreMessageToken,
} from './noise-pattern.js';
export { type NoiseProtocol, noiseProtocol, OCKAM_PROTOCOL_NAME } from './noise-protocol.js';
export { HASHLEN, SymmetricState } from './noise-symmetric-state.js';
export {
  type NoiseVector,
  type NoiseVectorResult,
  parseNoiseVectors,
  runNoiseVector,
} from './noise-vector.js';
export {
  createKeyExchangeChannel,
  createSecureChannel,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type SecureChannel,
  type SecureChannelOptions,
} from './secure-channel.js';
export {
  createSecureChannelListener,
  DEFAULT_CHANNEL_IDLE_TIMEOUT_MS,
  DEFAULT_LISTENER_ADDRESS,
  DEFAULT_LOG_INTERVAL_MS,
  DEFAULT_MAX_CHANNELS,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION,
  DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS,
  type SecureChannelListener,
  type SecureChannelListenerOptions,
} from './secure-channel-listener.js';
export {
  and,
  or,
  type TrustContext,
  type TrustPolicy,
  trustEveryone,
  trustIdentifier,
  trustMultiIdentifiers,
} from './trust-policy.js';
