/**
 * Errors of `@ockam/portals`. A `PortalError` is an `OckamError`: recognise it across package
 * copies with `OckamError.is(e)` and branch on `e.kind`.
 *
 * - origin `transport`: the portal protocol or a TCP socket failed (`protocol`, `io`, `timeout`);
 * - origin `application`: a relay or inlet could not be set up (`not-found`, `permission`,
 *   `shutdown`, `cancelled`).
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { decodePortalMessage(bytes); } catch (e) {
 *   if (OckamError.isKind(e, 'serialization', 'transport')) console.warn(e.message);
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class PortalError extends OckamError {
  constructor(
    kind: ErrorKind,
    message: string,
    options?: OckamErrorOptions & { origin?: 'transport' | 'application' },
  ) {
    super(options?.origin ?? 'transport', kind, message, options);
  }
}
