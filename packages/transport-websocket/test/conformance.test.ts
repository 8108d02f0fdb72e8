import { streamTransportConformance } from '@ockam/core/testing';
import WebSocket from 'ws';
import { MAX_FRAME_SIZE, WebSocketTransport } from '../src/index.js';

streamTransportConformance({
  name: 'websocket',
  create: (node, options) => new WebSocketTransport(node, options),
  listen: async (ws) => {
    const listener = await ws.listen('127.0.0.1:0');
    return { listener, hop: `3#127.0.0.1:${listener.address.port}` };
  },
  largePayloadBytes: 4 * 1024 * 1024,
  // Through a raw `ws` client: one binary message of 16 MiB + 1.
  refuseOversized: (hop, _server, timeoutMs) =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${hop.slice(2)}/`);
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error('the oversized message was not refused'));
      }, timeoutMs);
      socket.on('error', () => {});
      socket.once('open', () => socket.send(new Uint8Array(MAX_FRAME_SIZE + 1)));
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    }),
  backPressure: 'pause',
  resourceKinds: /TCP/,
});
