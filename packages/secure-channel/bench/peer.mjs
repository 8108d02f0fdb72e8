// Bench peer (a child process of run.mjs): a node with a TCP listener, an Ockam secure-channel
// listener at `api` (a fresh identity, trust everyone) and two services exposed both to plain TCP
// clients and to the listener's channels: `echo` and `sink` (counts; answers one 4-byte count when
// a payload starts with 1, marking the end of a one-way run); and `sink-sealed`, a `sink` that
// first opens payloads the sender sealed with AES-GCM itself (the cipher's cost without a channel). Also a plain TCP server where each
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
// A cost reference only (run.mjs's "cipher alone" column), never a way to protect data: payloads
// the sender AES-GCM-sealed itself with a fixed key and nonce, opened here, then counted like `sink`.
const referenceKey = vault.aeadKey(vault.importSecret(new Uint8Array(32).fill(9)));
const referenceNonce = new Uint8Array(12);
const none = new Uint8Array(0);
let sealedCount = 0;
node.startWorker('sink-sealed', {
  handleMessage(ctx, { message }) {
    sealedCount++;
    const plaintext = vault.aeadDecryptParts(referenceKey, referenceNonce, message.payloadParts, none);
    if (plaintext[0] === 1) {
      const reply = new Uint8Array(4);
      new DataView(reply.buffer).setUint32(0, sealedCount);
      sealedCount = 0;
      return ctx.send(message.returnRoute, reply);
    }
  },
});
node.flowControls.addConsumer('sink-sealed', listener.flowControlId);
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
