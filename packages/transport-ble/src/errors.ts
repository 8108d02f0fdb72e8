/**
 * Errors of the BLE transport: an `OckamError` with origin `transport` and a kind saying what went
 * wrong (`invalid` message or MTU, `not-found` peripheral, `io` radio failure, `timeout`,
 * `cancelled`, `shutdown`, `unsupported` when the optional BLE library is not installed).
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { await ble.connect('ockam_ble_1'); } catch (e) {
 *   if (OckamError.isKind(e, 'not-found', 'transport')) console.error(e.message);
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class BleTransportError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('transport', kind, message, options);
  }
}
