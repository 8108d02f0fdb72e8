/**
 * `@ockam/transport-tcp`: Ockam's TCP transport (PROTOCOL.md §2.1), wire-compatible with
 * `ockam_transport_tcp`: a version byte, then u32-length-prefixed CBOR transport messages.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { TcpTransport } from '@ockam/transport-tcp';
 * const node = new Node();
 * const tcp = new TcpTransport(node);
 * node.registerTransport(tcp);
 * const reply = await node.client().request(['1#127.0.0.1:4000', 'echo'], new Uint8Array([1]));
 * ```
 */
export { TransportError } from './errors.js';
export {
  encodeFrame,
  FRAME_HEADER_LENGTH,
  FrameDecoder,
  type FrameDecoderOptions,
  TCP_PROTOCOL_VERSION,
} from './framing.js';
export type {
  TcpCloseCause,
  TcpCloseInfo,
  TcpConnection,
  TcpConnectionMode,
  TcpConnectionStats,
  TcpPeer,
} from './tcp-connection.js';
export type { TcpListener } from './tcp-listener.js';
export {
  DEFAULT_KEEPALIVE_MS,
  type TcpAddressLike,
  type TcpConnectOptions,
  type TcpListenOptions,
  TcpTransport,
  type TcpTransportEvents,
  type TcpTransportOptions,
} from './tcp-transport.js';
