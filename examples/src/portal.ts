/**
 * A TCP portal (Ockam Rust's `tcp_inlet_and_outlet` examples): a TCP server next to bob, an
 * outlet on bob to it, an inlet on alice that listens on a local port. A TCP client connects to
 * alice's inlet and talks to bob's server, through a secure channel.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer } from 'node:net';
import { createNode } from '@ockam/node';

// A TCP server that answers each line it reads: the service the portal makes reachable.
const server = createServer((socket) => socket.on('data', (d) => socket.end(`server got: ${d}`)));
await once(server.listen(0, '127.0.0.1'), 'listening');
const serverPort = (server.address() as AddressInfo).port;

const bob = await createNode({ name: 'bob' });
await bob.createOutlet({ address: 'web', to: `127.0.0.1:${serverPort}` });

const alice = await createNode({ name: 'alice', tcp: { listen: false } });
const inlet = await alice.createInlet({
  name: 'web',
  from: '127.0.0.1:0',
  to: `${bob.multiaddr}/secure/api/service/web`,
});
console.log(`inlet listens on ${inlet.bound}`);

// Any TCP client: here Node's own, to the inlet's port.
const [host, port] = [inlet.bound.split(':')[0]!, Number(inlet.bound.split(':').pop())];
const client = connect(port, host);
client.end('hello through the portal');
let answer = '';
for await (const chunk of client) answer += chunk;
console.log(answer);

await alice.stop();
await bob.stop();
server.close();
