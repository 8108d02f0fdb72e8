import { decodeBareString, encodeBareString, Node, startEcho } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener, trustIdentifier } from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';

const node = new Node({ name: 'n1' });
const vault = createVault('node');
const alice = await createIdentity(vault);
const bob = await createIdentity(vault);

// Bob listens at `api` and exposes `echo` to the channels the listener accepts.
const listener = await createSecureChannelListener(node, {
  identity: bob,
  vault,
  trustPolicy: trustIdentifier(alice.identifier),
});
startEcho(node);
node.flowControls.addConsumer('echo', listener.flowControlId);

// Alice opens a channel to Bob's listener (here on the same node; across TCP the route would be
// ['1#127.0.0.1:4000', 'api']) and only accepts Bob.
const channel = await createSecureChannel(node, ['api'], {
  identity: alice,
  vault,
  trustPolicy: trustIdentifier(bob.identifier),
});
const client = node.client();
node.flowControls.addConsumer(client.address, channel.flowControlId);

const reply = await client.request([channel.encryptorAddress, 'echo'], encodeBareString('hello'));
console.log(
  decodeBareString(reply.payload),
  'from',
  reply.localInfo.secureChannelIdentifier === bob.identifier ? 'Bob' : '?',
);

await channel.close();
await node.stop();
