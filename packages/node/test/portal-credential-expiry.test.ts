/**
 * A portal's open TCP connections end when a credential they rely on expires, as in Ockam: the
 * outlet's side drops a connection whose inlet's credential expired, and the inlet's side drops
 * one whose outlet's credential expired, even while data flows only towards that side (a
 * download) and the peer never sends again. Nodes in memory, real TCP sockets.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type OckamNode } from '../src/index.js';
import { exchange } from './tcp-echo.js';

/** A TCP server that streams bytes to every client until the client goes (a long download). */
async function streamingServer(): Promise<{ server: Server; port: number }> {
  const chunk = Buffer.alloc(16 * 1024, 7);
  const server = createServer((s: Socket) => {
    s.on('error', () => {});
    const timer = setInterval(() => s.write(chunk), 20);
    s.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Downloads through `port` until the connection ends (the backend never ends it); the bytes received. */
function download(port: number): Promise<{ bytes: number; ended: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let bytes = 0;
    s.on('data', (d) => (bytes += d.length));
    s.on('error', () => {});
    s.on('close', () => resolve({ bytes, ended: true }));
  });
}

describe('portal connections end when a credential they rely on expires', () => {
  let authority: OckamNode;
  let backend: { server: Server; port: number };
  const nodes: OckamNode[] = [];
  /** A node that trusts the authority and presents a credential valid `ttlSeconds`. */
  const member = async (ttlSeconds: number, listen: boolean) => {
    const n = await createNode({
      ...(listen ? {} : { tcp: { listen: false as const } }),
      trust: { authority: authority.exportIdentity() },
    });
    nodes.push(n);
    n.presentCredential(await authority.issueCredential(n.identifier, {}, { ttlSeconds }));
    return n;
  };
  /** An outlet on `server` to the streaming backend, and an inlet on `client` to it; the inlet's port. */
  const portal = async (client: OckamNode, server: OckamNode) => {
    await server.createOutlet({ address: 'stream', to: `127.0.0.1:${backend.port}` });
    const inlet = await client.createInlet({
      name: 'stream',
      from: '127.0.0.1:0',
      to: `${server.multiaddr}/secure/api/service/stream`,
    });
    return Number(inlet.bound.split(':').at(-1));
  };

  beforeAll(async () => {
    authority = await createNode({ tcp: { listen: false } });
    nodes.push(authority);
    backend = await streamingServer();
  });
  afterAll(async () => {
    backend.server.close();
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it("the outlet's side drops a download when the inlet's credential expires, and refuses the next connection", async () => {
    const server = await member(3600, true);
    const client = await member(4, false);
    const port = await portal(client, server);
    const got = await download(port);
    // Data flowed, then the connection ended (the backend never stops on its own).
    expect(got.ended).toBe(true);
    expect(got.bytes).toBeGreaterThan(0);
    // A new connection gets nothing: the outlet refuses the expired peer.
    expect(await exchange(port, 'hello')).toBe('');
  }, 60_000);

  it("the inlet's side drops a download when the outlet's credential expires, and refuses the next connection", async () => {
    const server = await member(4, true);
    const client = await member(3600, false);
    const port = await portal(client, server);
    const got = await download(port);
    expect(got.ended).toBe(true);
    expect(got.bytes).toBeGreaterThan(0);
    // A new connection is refused by the inlet's own side as soon as the outlet answers.
    expect(await exchange(port, 'hello')).toBe('');
  }, 60_000);
});
