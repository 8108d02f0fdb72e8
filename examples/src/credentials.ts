/**
 * Credentials and a policy (Ockam Rust's get_started `06-credentials-exchange-*.rs`): an authority
 * node issues credentials with attributes; a server node trusts it and lets only members with
 * `cluster = green` use its echo service; each client presents its credential in the secure
 * channel handshake. The green client is answered; the blue one's request is dropped by the
 * server's policy, and its request fails loudly when no reply comes.
 */
import { createNode, type OckamNode } from '@ockam/node';

const authority = await createNode({ tcp: { listen: false } });
const trust = { authority: authority.exportIdentity() };
const server = await createNode({ trust });
await server.setPolicy({ resourceName: 'echo' }, '(= subject.cluster "green")');

async function client(cluster: string): Promise<OckamNode> {
  const node = await createNode({ tcp: { listen: false }, trust });
  node.presentCredential(await authority.issueCredential(node.identifier, { cluster }));
  return node;
}

const green = await client('green');
const blue = await client('blue');
const echo = `${server.multiaddr}/secure/api/service/echo`;
const hello = new TextEncoder().encode('Hello Ockam!');
const reply = await green.request(echo, hello);
console.log(`green was answered: ${new TextDecoder().decode(reply.payload)}`);
await blue
  .request(echo, hello, { timeoutMs: 2_000 })
  .catch((e: Error) => console.log(`blue was refused: ${e.message}`));

for (const node of [green, blue, server, authority]) await node.stop();
