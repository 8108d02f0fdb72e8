/**
 * `@ockam/transport-websocket`: Ockam's WebSocket transport (PROTOCOL.md §2.4) — one legacy BARE
 * transport message per binary WebSocket message — for Node.js (on `ws`: listeners and outgoing
 * connections) and browsers (`@ockam/transport-websocket/browser`, or the `browser` export
 * condition: outgoing connections with the platform's WebSocket).
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { WebSocketTransport } from '@ockam/transport-websocket';
 * const node = new Node();
 * node.registerTransport(new WebSocketTransport(node));
 * const reply = await node.client().request(['3#127.0.0.1:4000', 'echo'], new Uint8Array([1]));
 * ```
 */
export { WebSocketTransport } from './node-websocket-transport.js';
export * from './portable.js';
export { NodeWebSocket, wsServerFactory } from './ws-server.js';
