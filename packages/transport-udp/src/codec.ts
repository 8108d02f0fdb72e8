/**
 * `@ockam/transport-udp/codec`: what the UDP transport puts in datagrams (transport messages and
 * their fragmentation and reassembly, routing numbers), the puncture and negotiation messages, and
 * the rendezvous request and response. `UdpTransport`, `startPuncture` and the rendezvous functions
 * do this encoding; these are for tests, fuzzers and tooling that speak the wire protocol directly.
 *
 * @example
 * ```ts
 * import { decodeUdpTransportMessage, fragmentRoutingMessage } from '@ockam/transport-udp/codec';
 * for (const datagram of fragmentRoutingMessage(routingMessageBytes, 0)) {
 *   decodeUdpTransportMessage(datagram); // { version, routingNumber, offset, isLast, payload }
 * }
 * ```
 */
export { fragmentRoutingMessage } from './fragmentation.js';
export {
  decodeNegotiationMessage,
  decodePunctureMessage,
  encodeNegotiationMessage,
  encodePunctureMessage,
  type NegotiationMessage,
  type PunctureMessage,
} from './puncture-message.js';
export {
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_MAX_PENDING_PEERS,
  Reassembler,
  type ReassemblerOptions,
  type ReassemblyCounters,
} from './reassembler.js';
export {
  decodeRendezvousRequest,
  decodeRendezvousResponse,
  encodeRendezvousRequest,
  encodeRendezvousResponse,
  type RendezvousRequest,
  type RendezvousResponse,
} from './rendezvous-message.js';
export { compareRoutingNumbers, nextRoutingNumber, randomRoutingNumber } from './routing-number.js';
export {
  decodeUdpTransportMessage,
  encodeUdpTransportMessage,
  MAX_ON_THE_WIRE_SIZE,
  MAX_PAYLOAD_SIZE,
  UDP_PROTOCOL_VERSION,
  type UdpTransportMessage,
} from './transport-message.js';
