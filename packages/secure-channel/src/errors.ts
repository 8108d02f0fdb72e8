/**
 * Errors raised by secure channels. Every one is an `OckamError` with origin `'channel'`, so
 * `OckamError.isKind(e, 'protocol', 'channel')` works across duplicate package copies.
 *
 * Kinds used here:
 * - `protocol`: a peer broke the protocol (bad MAC, replayed or out-of-window nonce, malformed
 *   handshake message, identity or attestation that does not verify);
 * - `permission`: a trust policy rejected the peer;
 * - `timeout`: the handshake did not finish in time;
 * - `serialization`: a plaintext that is not a valid Ockam secure channel message;
 * - `invalid`: misuse of a handshake or cipher object (for example reading when it is our turn);
 * - `io`: the connection (or channel) a handshake was using closed before it completed;
 * - `resource`: a nonce space that is exhausted;
 * - `unsupported`: a Noise pattern, DH, cipher or hash this package does not implement;
 * - `cancelled`, `shutdown`: the caller aborted, or the channel was closed.
 *
 * @example
 * ```ts
 * import { SecureChannelError } from '@ockam/secure-channel';
 * try { decryptor.decrypt(frame); } catch (e) {
 *   if (SecureChannelError.isKind(e, 'protocol', 'channel')) console.warn(e.message);
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class SecureChannelError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('channel', kind, message, options);
  }
}
