/**
 * Errors of the broker transports: an `OckamError` with origin `transport` and a kind (`invalid`
 * name or size, `io` failure to reach the broker, `not-found` listener, `shutdown`).
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { await kafka.listen('bad topic!'); } catch (e) {
 *   if (OckamError.isKind(e, 'invalid', 'transport')) console.error(e.message);
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class BrokerTransportError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('transport', kind, message, options);
  }
}
