// Bench peer: a node with a TCP listener exposing 'echo' (replies with the payload) and 'sink'
// (counts; answers one message when a payload starts with 1, marking the end of a one-way run).
import { Node, startEcho } from '@ockam/core';
import { TcpTransport } from '../dist/index.js';

const node = new Node({ name: 'bench-peer', mailboxCapacity: 256 });
const tcp = new TcpTransport(node);
node.registerTransport(tcp);
const listener = await tcp.listen('127.0.0.1:0');
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
node.flowControls.addConsumer('echo', listener.flowControlId);
node.flowControls.addConsumer('sink', listener.flowControlId);
process.stdout.write(`${JSON.stringify({ port: listener.address.port })}\n`);
process.on('SIGTERM', () => node.stop().then(() => process.exit(0)));
