/**
 * A secure channel through a relay (Ockam Rust's get_started `bob.rs` and `alice.rs`, which meet
 * at a relay on an Ockam node): bob opens no port; he registers a relay at a node both he and
 * alice can reach, and alice's channel to bob runs through it, end to end. The relay node only
 * forwards bytes it cannot read.
 */
import { createNode } from '@ockam/node';

const relay = await createNode({ name: 'relay' });

// Bob: no TCP listener (he only dials out), a worker `greeter`, and a relay named `bob` at the relay node.
const bob = await createNode({ name: 'bob', tcp: { listen: false } });
bob.startWorker(
  'greeter',
  (ctx, m) =>
    ctx.send(m.returnRoute, new TextEncoder().encode(`Hello, ${new TextDecoder().decode(m.payload)}!`)),
  { expose: true },
);
await bob.createRelay({ name: 'bob', at: relay.multiaddr });

// Alice: a secure channel to bob through the relay, admitting only bob's identity at the other end.
const alice = await createNode({ name: 'alice', tcp: { listen: false } });
const channel = await alice.createSecureChannel(`${relay.multiaddr}/service/forward_to_bob`, {
  authorized: [bob.identifier],
});
const reply = await channel.request('greeter', new TextEncoder().encode('alice'));
console.log(`through the relay, bob answered: ${new TextDecoder().decode(reply.payload)}`);

for (const node of [alice, bob, relay]) await node.stop();
