/**
 * The WebSocket transport for Node.js: the same class as the browser entry's, with `ws` as its
 * `WebSocket` and as its server, so that it can `listen` as well as `connect`.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { WebSocketTransport } from '@ockam/transport-websocket';
 * const server = new Node({ name: 'server' });
 * const ws = new WebSocketTransport(server);
 * server.registerTransport(ws);
 * const listener = await ws.listen('127.0.0.1:0');
 * startEcho(server);
 * server.flowControls.addConsumer('echo', listener.flowControlId);
 * ```
 */
import type { Node } from '@ockam/core';
import {
  WebSocketTransport as PortableWebSocketTransport,
  type WebSocketTransportOptions,
} from './websocket-transport.js';
import { NodeWebSocket, wsServerFactory } from './ws-server.js';

export class WebSocketTransport extends PortableWebSocketTransport {
  constructor(node: Node, options: WebSocketTransportOptions = {}) {
    super(node, { WebSocket: NodeWebSocket, serverFactory: wsServerFactory, ...options });
  }
}
