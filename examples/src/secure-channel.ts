// Two nodes, a secure channel over TCP, a reply (after Ockam Rust's get_started 05, in one process).
import { createNode } from '@ockam/node';

const bob = await createNode({ name: 'bob' });
const alice = await createNode({ name: 'alice' });

// A secure channel from alice to bob's listener `api`, over TCP; then a request through it to
// bob's `echo` service.
const channel = await alice.createSecureChannel(bob.multiaddr);
const reply = await channel.request('echo', new TextEncoder().encode('Hello Ockam!'));

console.log(`bob is ${channel.peerIdentifier}`);
console.log(`alice received: ${new TextDecoder().decode(reply.payload)}`);
await alice.stop();
await bob.stop();
