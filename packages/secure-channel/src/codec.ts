/**
 * `@ockam/secure-channel/codec`: the messages a secure channel carries once decrypted (payload,
 * close, credential refresh) and the identity-and-credentials payload of its handshake, in their
 * CBOR encodings. Channels and listeners encode and decode these themselves; the codecs are here for
 * tests, fuzzers and attack tooling that speak the wire protocol directly.
 *
 * @example
 * ```ts
 * import { decodeSecureChannelMessage, encodeSecureChannelMessage } from '@ockam/secure-channel/codec';
 * const bytes = encodeSecureChannelMessage({ kind: 'close' });
 * decodeSecureChannelMessage(bytes); // { kind: 'close' }
 * ```
 */
export {
  decodeIdentityAndCredentials,
  encodeIdentityAndCredentials,
  type IdentityAndCredentials,
  MAX_PEER_CREDENTIALS,
} from './identity-and-credentials.js';
export {
  type CloseMessage,
  decodeSecureChannelMessage,
  encodeSecureChannelMessage,
  type PayloadMessage,
  type RefreshCredentialsMessage,
  type SecureChannelMessage,
} from './secure-channel-message.js';
