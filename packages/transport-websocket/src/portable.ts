/** Everything both entries export, apart from the transport class itself. */
export { WebSocketTransportError } from './errors.js';
export { decodeWebSocketFrame, encodeWebSocketFrame, MAX_FRAME_SIZE } from './framing.js';
export { toWebSocketAddress, toWebSocketUrl, type WebSocketAddressLike } from './websocket-address.js';
export type {
  WebSocketCloseCause,
  WebSocketCloseInfo,
  WebSocketConnection,
  WebSocketConnectionMode,
  WebSocketConnectionStats,
  WebSocketPeer,
} from './websocket-connection.js';
export {
  CLOSED,
  CLOSING,
  CONNECTING,
  OPEN,
  type WebSocketConstructor,
  type WebSocketLike,
  type WebSocketLikeEvent,
} from './websocket-like.js';
export type {
  WebSocketListener,
  WebSocketServerFactory,
  WebSocketServerHandle,
  WebSocketServerOptions,
  WebSocketUpgradeRequest,
} from './websocket-listener.js';
export {
  DEFAULT_SEND_BUFFER_BYTES,
  REFUSED_UPGRADE_LOG_INTERVAL_MS,
  type WebSocketConnectOptions,
  type WebSocketListenOptions,
  type WebSocketTransportEvents,
  type WebSocketTransportOptions,
} from './websocket-transport.js';
