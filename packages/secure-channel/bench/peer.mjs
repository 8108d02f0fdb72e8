// Bench peer (a child process of run.mjs): a node with a TCP listener, an Ockam secure-channel
// listener at `api` (a fresh identity, trust everyone) and two services exposed both to plain TCP
// clients and to the listener's channels: `echo` and `sink` (counts; answers one 4-byte count when
// a payload starts with 1, marking the end of a one-way run). Also a plain TCP server where each
// accepted socket runs @chainsafe/libp2p-noise's responder handshake. Prints one JSON line.
import { createServer } from 'node:net';
import { Node, startEcho } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { createSecureChannelListener } from '../dist/index.js';
import { HANDSHAKE_ONLY, noiseEndpoint, socketDuplex } from './libp2p-noise.mjs';

const node = new Node({ name: 'bench-peer', mailboxCapacity: 256 });
const tcp = new TcpTransport(node);
node.registerTransport(tcp);
const listener = await tcp.listen('127.0.0.1:0');
const vault = createVault('node');
const identity = await createIdentity(vault);
const channels = await createSecureChannelListener(node, {
  identity,
  vault,
  consumerOf: [listener.flowControlId],
});
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
for (const id of [listener.flowControlId, channels.flowControlId]) {
  node.flowControls.addConsumer('echo', id);
  node.flowControls.addConsumer('sink', id);
}

const libp2p = await noiseEndpoint();
const noiseServer = createServer((socket) => {
  socket.on('error', () => {});
  libp2p.encrypter.secureInbound(socketDuplex(socket), HANDSHAKE_ONLY).catch(() => socket.destroy());
});
await new Promise((resolve) => noiseServer.listen(0, '127.0.0.1', resolve));

process.stdout.write(
  `${JSON.stringify({
    port: listener.address.port,
    identifier: identity.identifier,
    noisePort: noiseServer.address().port,
    noisePeerId: libp2p.peerId.toString(),
  })}\n`,
);
process.on('SIGTERM', () => {
  noiseServer.close();
  for (const c of channels.channels) void c.close();
  node.stop().then(() => process.exit(0));
});
