/**
 * `@ockam/transport-udp`: Ockam's UDP transport (PROTOCOL.md §2.2), wire-compatible with
 * `ockam_transport_udp`: CBOR routing messages cut into ≤ 508-byte datagrams, a rendezvous
 * service, and NAT hole punching with puncture negotiation over an existing route.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { UdpTransport } from '@ockam/transport-udp';
 * const node = new Node();
 * const udp = new UdpTransport(node);
 * node.registerTransport(udp);
 * const reply = await node.client().request(['2#127.0.0.1:4000', 'echo'], new Uint8Array([1]));
 * ```
 */
export { UdpTransportError } from './errors.js';
export {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_PUNCTURE_CLOSE_AFTER_MS,
  startPuncture,
  UdpPuncture,
  type UdpPunctureCloseReason,
  type UdpPunctureEvents,
  type UdpPunctureOptions,
  type UdpPunctureStats,
} from './puncture.js';
export {
  createPunctureFallback,
  PunctureFallback,
  type PunctureFallbackMode,
  type PunctureFallbackOptions,
  type PunctureFallbackStats,
} from './puncture-fallback.js';
export {
  DEFAULT_ACKNOWLEDGE_TIMEOUT_MS,
  DEFAULT_MAX_PUNCTURES,
  type NegotiatePunctureOptions,
  type NegotiationListener,
  type NegotiationListenerOptions,
  negotiatePuncture,
  type PunctureRequest,
  type PunctureTuning,
  startPunctureNegotiationListener,
  UDP_PUNCTURE_NEGOTIATION_LISTENER,
} from './puncture-negotiation.js';
export {
  DEFAULT_RENDEZVOUS_SERVER,
  getMyAddress,
  pingRendezvous,
  RENDEZVOUS_SERVICE,
  RENDEZVOUS_TIMEOUT_MS,
  type RendezvousRequestOptions,
  type RendezvousService,
  rendezvousRoute,
  startRendezvousService,
} from './rendezvous.js';
export type { UdpBind, UdpBindStats } from './udp-bind.js';
export {
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_QUEUED_MESSAGES,
  DEFAULT_RECV_BUFFER_SIZE,
  DEFAULT_SEND_BUFFER_SIZE,
  DEFAULT_SEND_BURST,
  type UdpBindAddressLike,
  type UdpBindOptions,
  UdpTransport,
  type UdpTransportOptions,
} from './udp-transport.js';
