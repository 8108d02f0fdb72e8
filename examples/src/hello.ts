/**
 * Hello: one node, one worker, one message and its reply (Ockam Rust's get_started `hello.rs`
 * and `02-worker.rs`). A worker is a function that gets messages at an address; it replies along
 * the message's return route.
 */
import { createNode } from '@ockam/node';

const node = await createNode({ tcp: { listen: false } });
node.startWorker('echoer', (ctx, message) => ctx.send(message.returnRoute, message.payload));

const reply = await node.request('echoer', new TextEncoder().encode('Hello Ockam!'));
console.log(`App received: ${new TextDecoder().decode(reply.payload)}`);
await node.stop();
