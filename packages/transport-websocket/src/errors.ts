/**
 * Errors of the WebSocket transport: an `OckamError` with origin `transport` and a kind saying what
 * went wrong (`invalid` address, `io` failure to connect, `protocol` violation by a peer,
 * `timeout`, `cancelled`, `shutdown`, `unsupported` on a platform without a WebSocket server).
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { await ws.connect('ws://127.0.0.1:1'); } catch (e) {
 *   if (OckamError.isKind(e, 'io', 'transport')) console.error(e.message);
 * }
 * ```
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class WebSocketTransportError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('transport', kind, message, options);
  }
}
