/**
 * The UDP datagram (PROTOCOL.md §2.2, `ockam_transport_udp/src/messages/transport_message.rs`):
 * one fragment of a routing message, the minicbor array
 * `[version u8 = 1, routing_number u16, offset u32, is_last bool, payload bstr]`.
 *
 * With at most 493 payload bytes the encoding never exceeds 508 bytes, the UDP payload every IPv4
 * path must carry (RFC 1122: 576-byte datagrams minus IP and UDP headers).
 *
 * @example
 * ```ts
 * const d = encodeUdpTransportMessage({ version: 1, routingNumber: 7, offset: 0, isLast: true, payload: new Uint8Array([1]) });
 * // 85 01 07 00 f5 41 01
 * decodeUdpTransportMessage(d).routingNumber; // 7
 * ```
 */
import { CborReader, CborWriter } from '@ockam/core';

export const UDP_PROTOCOL_VERSION = 1;
/** Largest datagram we send or accept. */
export const MAX_ON_THE_WIRE_SIZE = 508;
/** Largest fragment payload: keeps every encoded datagram within `MAX_ON_THE_WIRE_SIZE`. */
export const MAX_PAYLOAD_SIZE = 493;

export interface UdpTransportMessage {
  readonly version: number;
  /** u16, see `compareRoutingNumbers`. */
  readonly routingNumber: number;
  /** u32: where this fragment starts in the routing message. */
  readonly offset: number;
  readonly isLast: boolean;
  /** When decoded: a view into the datagram; copy it to keep it. */
  readonly payload: Uint8Array;
}

export function encodeUdpTransportMessage(m: UdpTransportMessage): Uint8Array {
  if (m.payload.length > MAX_PAYLOAD_SIZE)
    throw new RangeError(`UDP fragment payload of ${m.payload.length} bytes exceeds ${MAX_PAYLOAD_SIZE}`);
  const w = new CborWriter(m.payload.length + 16);
  w.array(5).uint(m.version).uint(m.routingNumber).uint(m.offset).bool(m.isLast).bytes(m.payload);
  return w.finish();
}

/**
 * Decodes one datagram strictly: size first, then an array of at least 5 fields (minicbor ignores
 * unknown trailing fields), each within its Rust type's range, and nothing after the array.
 */
export function decodeUdpTransportMessage(bytes: Uint8Array): UdpTransportMessage {
  const r = new CborReader(bytes, 'UDP transport message');
  if (bytes.length > MAX_ON_THE_WIRE_SIZE)
    r.fail(`datagram of ${bytes.length} bytes exceeds ${MAX_ON_THE_WIRE_SIZE}`);
  const n = r.array();
  if (n < 5) r.fail(`expected at least 5 fields, found ${n}`);
  const version = r.uintMax(0xff, 'version');
  const routingNumber = r.uintMax(0xffff, 'routing number');
  const offset = r.uintMax(0xffffffff, 'offset');
  const isLast = r.bool();
  const payload = r.bytes();
  r.skipRest(n - 5);
  r.end();
  return { version, routingNumber, offset, isLast, payload };
}
