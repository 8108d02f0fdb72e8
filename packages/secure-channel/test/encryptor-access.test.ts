/**
 * Issue 14, finding 1, at the channel: an encryptor encrypts, as said by its node's identity,
 * only plaintext from the workers its channel was made for. A message that came in from the
 * network (it has an origin, PROTOCOL.md §1.5) reaches the encryptor only from producers it was
 * made a consumer of, through any forwarding worker; what local workers build always may.
 */
import { type LocalMessage, type Node, startEcho, utf8 } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecureChannel } from '../src/secure-channel.js';
import { createSecureChannelListener } from '../src/secure-channel-listener.js';
import { trustEveryone } from '../src/trust-policy.js';
import { tcpNode, until } from './tampering-hop.js';

const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

async function setup() {
  const [a, b, peer] = await Promise.all([tcpNode('alice'), tcpNode('bob'), tcpNode('peer')]);
  nodes.push(a.node, b.node, peer.node);
  const [vaultA, vaultB] = [createVault('node'), createVault('node')];
  const [alice, bob] = await Promise.all([createIdentity(vaultA), createIdentity(vaultB)]);
  const listener = await createSecureChannelListener(b.node, {
    identity: bob,
    vault: vaultB,
    trustPolicy: trustEveryone,
    consumerOf: [b.listener.flowControlId],
  });
  // What B's recorder receives through the channel: the far side of the attack.
  const recorded: string[] = [];
  b.node.startWorker('recorder', {
    handleMessage: (_c, { message }) => void recorded.push(new TextDecoder().decode(message.payload)),
  });
  b.node.flowControls.addConsumer('recorder', listener.flowControlId);
  const channel = await createSecureChannel(a.node, [b.route, 'api'], {
    identity: alice,
    vault: vaultA,
    trustPolicy: trustEveryone,
  });
  // On A, a forwarding worker exposed to A's TCP listener, as `hop` is when a node enables it.
  a.node.startWorker('forward', {
    handleMessage: (ctx, { message }) => ctx.forward(message.stepForward(ctx.address)),
  });
  a.node.flowControls.addConsumer('forward', a.listener.flowControlId);
  startEcho(a.node);
  a.node.flowControls.addConsumer('echo', a.listener.flowControlId);
  // A network peer of A, on its own node and connection.
  const client = peer.node.client();
  const connection = await peer.tcp.connect(a.route.slice(2));
  peer.node.flowControls.addConsumer(client.address, connection.flowControlId);
  const fromPeer = (onward: string[], text: string) =>
    client.send([connection.senderAddress, ...onward], utf8(text));
  return { a, b, channel, recorded, client, fromPeer };
}

describe('a secure channel encryptor', () => {
  it('refuses plaintext a network peer forwards to it, directly or through a forwarding worker', async () => {
    const t = await setup();
    const enc = t.channel.encryptorAddress.value;
    await t.fromPeer([enc, 'recorder'], 'direct');
    await t.fromPeer(['forward', enc, 'recorder'], 'forwarded');
    // Behind the attacks on the same connection, an echo through the same forwarder.
    await t.fromPeer(['forward', 'echo'], 'canary');
    const reply: LocalMessage = await t.client.receive({ timeoutMs: 5_000 });
    expect(new TextDecoder().decode(reply.payload)).toBe('canary');
    // A's own client still reaches B through the channel, behind the attacks.
    const own = t.a.node.client();
    await own.send([enc, 'recorder'], utf8('from a local worker'));
    await until(() => t.recorded.length > 0, 'the local message to reach B');
    expect(t.recorded).toEqual(['from a local worker']);
    const refusals = t.a.lines.filter(
      (l) => l.message === 'flow control dropped a message' && l.fields.to === enc,
    );
    expect(refusals).toHaveLength(1);
  });

  it('accepts it once made a consumer of that peer, as a relay makes its next hop one', async () => {
    const t = await setup();
    const enc = t.channel.encryptorAddress.value;
    t.a.node.flowControls.addConsumer(enc, t.a.listener.flowControlId);
    await t.fromPeer(['forward', enc, 'recorder'], 'relayed on purpose');
    await until(() => t.recorded.length > 0, 'the relayed message to reach B');
    expect(t.recorded).toEqual(['relayed on purpose']);
  });
});
