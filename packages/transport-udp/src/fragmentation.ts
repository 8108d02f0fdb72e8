/**
 * Cutting a routing message into datagrams (PROTOCOL.md §2.2, `workers/sender.rs`): consecutive
 * slices of at most 493 bytes, each sent as a `UdpTransportMessage` with the message's routing
 * number, its offset, and `is_last` on the final slice.
 *
 * @example
 * ```ts
 * import { LocalMessage, encodeTransportMessage } from '@ockam/core';
 * const bytes = encodeTransportMessage(new LocalMessage(['echo'], ['app'], new Uint8Array(1000)));
 * fragmentRoutingMessage(bytes, 42).length; // 3 datagrams, each ≤ 508 bytes
 * ```
 */
import { MAX_MESSAGE_SIZE } from '@ockam/core';
import { encodeUdpTransportMessage, MAX_PAYLOAD_SIZE, UDP_PROTOCOL_VERSION } from './transport-message.js';

/** Encodes the datagrams that carry `routingMessage` (the CBOR `UdpRoutingMessage`). */
export function fragmentRoutingMessage(routingMessage: Uint8Array, routingNumber: number): Uint8Array[] {
  if (routingMessage.length > MAX_MESSAGE_SIZE)
    throw new RangeError(`Routing message of ${routingMessage.length} bytes exceeds ${MAX_MESSAGE_SIZE}`);
  if (!Number.isInteger(routingNumber) || routingNumber < 0 || routingNumber > 0xffff)
    throw new RangeError(`Routing number must be a u16, got ${routingNumber}`);
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < routingMessage.length; offset += MAX_PAYLOAD_SIZE) {
    const end = Math.min(offset + MAX_PAYLOAD_SIZE, routingMessage.length);
    out.push(
      encodeUdpTransportMessage({
        version: UDP_PROTOCOL_VERSION,
        routingNumber,
        offset,
        isLast: end === routingMessage.length,
        payload: routingMessage.subarray(offset, end),
      }),
    );
  }
  return out;
}
