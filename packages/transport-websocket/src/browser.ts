/**
 * `@ockam/transport-websocket/browser` (also what bundlers pick for `@ockam/transport-websocket`
 * under the `browser` condition): the WebSocket transport with no `node:` imports and no `ws`.
 * It connects with the platform's `WebSocket` and cannot listen.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { WebSocketTransport } from '@ockam/transport-websocket/browser';
 * const node = new Node({ name: 'browser' });
 * const ws = new WebSocketTransport(node); // globalThis.WebSocket
 * node.registerTransport(ws);
 * const connection = await ws.connect('ws://127.0.0.1:4000');
 * ```
 */
export * from './portable.js';
export { WebSocketTransport } from './websocket-transport.js';
