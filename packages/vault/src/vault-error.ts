import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

/**
 * An error raised by a vault: an unknown handle, a failed AEAD authentication, a low-order X25519
 * point, an unreadable key store. Recognise it with `OckamError.isKind(e, 'invalid', 'vault')`.
 */
export class VaultError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('vault', kind, message, options);
  }
}
