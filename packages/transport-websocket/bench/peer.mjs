// Bench peer: one node with a WebSocket listener and a TCP listener, both exposing 'echo' (replies
// with the payload) and 'sink' (counts; answers when a payload starts with 1, ending a one-way run).
import { Node, startEcho } from '@ockam/core';
import { TcpTransport } from '@ockam/transport-tcp';
import { WebSocketTransport } from '../dist/index.js';

const node = new Node({ name: 'bench-peer', mailboxCapacity: 256 });
const ws = new WebSocketTransport(node);
const tcp = new TcpTransport(node);
node.registerTransport(ws);
node.registerTransport(tcp);
const wsListener = await ws.listen('127.0.0.1:0');
const tcpListener = await tcp.listen('127.0.0.1:0');
startEcho(node);
let count = 0;
node.startWorker('sink', {
  handleMessage(ctx, { message }) {
    count++;
    if (message.payload[0] === 1) {
      const reply = new Uint8Array(4);
      new DataView(reply.buffer).setUint32(0, count);
      count = 0;
      return ctx.send(message.returnRoute, reply);
    }
  },
});
for (const id of [wsListener.flowControlId, tcpListener.flowControlId]) {
  node.flowControls.addConsumer('echo', id);
  node.flowControls.addConsumer('sink', id);
}
process.stdout.write(`${JSON.stringify({ ws: wsListener.address.port, tcp: tcpListener.address.port })}\n`);
process.on('SIGTERM', () => node.stop().then(() => process.exit(0)));
