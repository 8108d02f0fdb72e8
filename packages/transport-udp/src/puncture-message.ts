/**
 * Puncture messages (PROTOCOL.md §2.2 steps 2–4, `puncture/negotiation/message.rs` and
 * `puncture/puncture/message.rs`), plain CBOR payloads. Two traps from minicbor (§0):
 *
 * - enum variants are `[index, [fields…]]`, so `Ping` is `82 00 80` and `Payload` is
 *   `[2, [onward, return, payload]]`;
 * - the plain `Vec<u8>` fields (`Payload.payload`, `…_remote_address`) are CBOR arrays of small
 *   integers, not byte strings.
 *
 * Negotiation messages are structs: `Initiate` is `[initiator_udp_public_address: text,
 * initiator_remote_address: [u8…]]` and `Acknowledge` has the same shape for the responder.
 *
 * @example
 * ```ts
 * encodePunctureMessage({ type: 'ping' }); // 82 00 80
 * encodeNegotiationMessage({ udpPublicAddress: '203.0.113.7:40123', remoteAddress: 'a1' }); // 82 71 … 82 18 61 01
 * ```
 */
import {
  CborReader,
  CborWriter,
  DecodeError,
  MAX_ADDRESS_LENGTH,
  MAX_MESSAGE_SIZE,
  type Route,
  readCborRoute,
  utf8,
  writeCborRoute,
} from '@ockam/core';
import { readByteArray, writeByteArray } from './internal/byte-array.js';

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });

export type PunctureMessage =
  | { readonly type: 'ping' }
  | { readonly type: 'pong' }
  | {
      readonly type: 'payload';
      readonly onwardRoute: Route;
      readonly returnRoute: Route;
      readonly payload: Uint8Array;
    };

export function encodePunctureMessage(message: PunctureMessage): Uint8Array {
  switch (message.type) {
    case 'ping':
      return Uint8Array.of(0x82, 0x00, 0x80);
    case 'pong':
      return Uint8Array.of(0x82, 0x01, 0x80);
    case 'payload': {
      const w = new CborWriter(message.payload.length * 2 + 128);
      w.array(2).uint(2).array(3);
      writeCborRoute(w, message.onwardRoute);
      writeCborRoute(w, message.returnRoute);
      writeByteArray(w, message.payload);
      return w.finish();
    }
    default:
      throw new TypeError(`Unknown puncture message ${(message as { type: string }).type}`);
  }
}

export function decodePunctureMessage(bytes: Uint8Array): PunctureMessage {
  const r = new CborReader(bytes, 'puncture message');
  r.arrayOf(2, 2, 'enum');
  const index = r.uint();
  const n = r.array();
  let result: PunctureMessage;
  switch (index) {
    case 0:
    case 1:
      r.skipRest(n);
      result = { type: index === 0 ? 'ping' : 'pong' };
      break;
    case 2: {
      if (n < 3) r.fail(`Payload needs 3 fields, found ${n}`);
      const onwardRoute = readCborRoute(r);
      const returnRoute = readCborRoute(r);
      const payload = readByteArray(r, MAX_MESSAGE_SIZE, 'payload');
      r.skipRest(n - 3);
      result = { type: 'payload', onwardRoute, returnRoute, payload };
      break;
    }
    default:
      return r.fail(`unknown variant ${index}`);
  }
  r.end();
  return result;
}

/**
 * `UdpPunctureNegotiationMessageInitiate` (from the initiator) and `…Acknowledge` (from the
 * responder) carry the same two fields: the sender's public UDP address as the rendezvous saw it,
 * and the LOCAL address of its puncture worker, which the peer's pings and payloads go to.
 */
export interface NegotiationMessage {
  readonly udpPublicAddress: string;
  /** A LOCAL address value (Ockam sends its bytes: `Address::to_vec`). */
  readonly remoteAddress: string;
}

export function encodeNegotiationMessage(message: NegotiationMessage): Uint8Array {
  const w = new CborWriter(128);
  w.array(2).text(message.udpPublicAddress);
  writeByteArray(w, utf8(message.remoteAddress));
  return w.finish();
}

export function decodeNegotiationMessage(
  bytes: Uint8Array,
  what = 'puncture negotiation message',
): NegotiationMessage {
  const r = new CborReader(bytes, what);
  const n = r.array();
  if (n < 2) r.fail(`expected at least 2 fields, found ${n}`);
  const udpPublicAddress = r.text();
  if (udpPublicAddress.length > 256) r.fail(`UDP address of ${udpPublicAddress.length} characters`);
  const raw = readByteArray(r, MAX_ADDRESS_LENGTH, 'remote address');
  r.skipRest(n - 2);
  r.end();
  let remoteAddress: string;
  try {
    remoteAddress = utf8Fatal.decode(raw);
  } catch (cause) {
    throw new DecodeError(what, 'remote address is not valid UTF-8', { cause });
  }
  return { udpPublicAddress, remoteAddress };
}
