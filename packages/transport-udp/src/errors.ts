/**
 * Errors of the UDP transport: an `OckamError` with origin `transport` and a kind saying what went
 * wrong (`invalid` address or route, `io` socket failure, `timeout` waiting for a rendezvous
 * answer or a puncture, `protocol` for an unexpected answer, `cancelled`, `shutdown`).
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { await getMyAddress(bind, rendezvous); } catch (e) {
 *   if (OckamError.isKind(e, 'timeout', 'transport')) console.error('rendezvous unreachable');
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class UdpTransportError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('transport', kind, message, options);
  }
}
