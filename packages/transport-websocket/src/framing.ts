/**
 * Ockam WebSocket framing (PROTOCOL.md §2.4, §1.2): every binary WebSocket message carries exactly
 * one legacy BARE `TransportMessage`
 * `version u8 | onward route | return route | payload | tracing flag [+ string]`.
 *
 * - we emit version 1 (as Ockam's `into_transport_message` does) and accept versions 1 and 2;
 * - the onward route on the wire no longer holds the sender's own address (§1.3);
 * - a message with an empty onward route is a heartbeat and is ignored by the receiver;
 * - messages are capped at `MAX_FRAME_SIZE` (16 MiB, the cap Ockam's tungstenite uses for one
 *   frame); larger ones are refused before they are decoded.
 *
 * @example
 * ```ts
 * import { LocalMessage } from '@ockam/core';
 * import { decodeWebSocketFrame, encodeWebSocketFrame } from '@ockam/transport-websocket';
 * const frame = encodeWebSocketFrame(new LocalMessage(['echo'], ['app'], Uint8Array.of(1)));
 * // 01 01 00 04 6563686f 01 00 03 617070 01 01 00
 * decodeWebSocketFrame(frame).onwardRoute.toString(); // '0#echo'
 * ```
 */
import { decodeLegacyTransportMessage, encodeLegacyTransportMessage, type LocalMessage } from '@ockam/core';
import { WebSocketTransportError } from './errors.js';

/** Largest WebSocket message we send or accept: 16 MiB. */
export const MAX_FRAME_SIZE = 16 * 1024 * 1024;

/** Encodes one message as the payload of one binary WebSocket message (the route is sent as is). */
export function encodeWebSocketFrame(message: LocalMessage, maxFrameSize = MAX_FRAME_SIZE): Uint8Array {
  const frame = encodeLegacyTransportMessage(message);
  if (frame.length > maxFrameSize) {
    throw new WebSocketTransportError(
      'invalid',
      `Cannot encode WebSocket frame: length ${frame.length} exceeds ${maxFrameSize}`,
    );
  }
  return frame;
}

/**
 * Decodes one binary WebSocket message. Throws a `WebSocketTransportError` (`protocol`) on an
 * oversized frame, an unknown version or malformed bytes; never returns a partial message.
 */
export function decodeWebSocketFrame(frame: Uint8Array, maxFrameSize = MAX_FRAME_SIZE): LocalMessage {
  if (frame.length > maxFrameSize) {
    throw new WebSocketTransportError(
      'protocol',
      `Cannot decode WebSocket frame: length ${frame.length} exceeds ${maxFrameSize}`,
    );
  }
  try {
    return decodeLegacyTransportMessage(frame, 'WebSocket transport message');
  } catch (e) {
    throw new WebSocketTransportError('protocol', e instanceof Error ? e.message : String(e), { cause: e });
  }
}
