/**
 * `@ockam/portals/codec`: the portal messages (ping, pong, payload, disconnect) inlets and outlets
 * exchange, in their BARE encoding. Inlets and outlets encode and decode these themselves; the codec
 * is here for tests, fuzzers and tooling that speak the wire protocol directly.
 *
 * @example
 * ```ts
 * import { decodePortalMessage, encodePortalMessage } from '@ockam/portals/codec';
 * decodePortalMessage(encodePortalMessage({ kind: 'ping' })); // { kind: 'ping' }
 * ```
 */
export {
  decodePortalMessage,
  encodePayload,
  encodePayloadParts,
  encodePortalMessage,
  MAX_DECODED_PAYLOAD_SIZE,
  MAX_PAYLOAD_SIZE,
  type PortalMessage,
} from './portal-message.js';
