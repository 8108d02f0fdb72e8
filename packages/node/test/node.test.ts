import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { utf8 } from '@ockam/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type OckamNode } from '../src/index.js';
import { startNode } from '../src/node.js';
import { echoServer, exchange } from './tcp-echo.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe('two nodes in one process', () => {
  let alice: OckamNode;
  let bob: OckamNode;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([createNode({ name: 'alice' }), createNode({ name: 'bob' })]);
  });
  afterAll(async () => {
    await Promise.all([alice?.stop(), bob?.stop()]);
  });

  it('opens a secure channel over TCP and gets a reply through it, with no flow control wired by hand', async () => {
    const channel = await alice.createSecureChannel(bob.multiaddr);
    expect(channel.peerIdentifier).toBe(bob.identifier);
    const reply = await channel.request('echo', utf8('hello'));
    expect(text(reply.payload)).toBe('hello');
    expect(alice.secureChannels().map((c) => c.address)).toContain(channel.address);
    await channel.close();
    expect(alice.secureChannels().map((c) => c.address)).not.toContain(channel.address);
  });

  it('requests along a multiaddr, through a channel it opens and closes again', async () => {
    const reply = await alice.request(`${bob.multiaddr}/secure/api/service/echo`, utf8('ping'));
    expect(text(reply.payload)).toBe('ping');
    expect(alice.secureChannels()).toEqual([]);
  });

  it('lets an exposed worker answer a peer through a channel, and keeps an unexposed one private', async () => {
    bob.startWorker('greeter', (ctx, m) => ctx.send(m.returnRoute, utf8(`hi ${text(m.payload)}`)), {
      expose: true,
    });
    let reached = 0;
    bob.startWorker('private', () => void reached++);
    const channel = await alice.createSecureChannel(bob.multiaddr, { authorized: [bob.identifier] });
    expect(text((await channel.request('greeter', utf8('alice'))).payload)).toBe('hi alice');
    await expect(channel.request('private', utf8('x'), { timeoutMs: 300 })).rejects.toThrow(/No reply/);
    expect(reached).toBe(0);
    // One-way messages too, and the client used for them does not stay behind.
    const inbox: string[] = [];
    bob.startWorker('inbox', (_ctx, m) => void inbox.push(text(m.payload)), { expose: true });
    const workers = alice.workers().length;
    await channel.send('inbox', utf8('note'));
    await expect.poll(() => inbox).toEqual(['note']);
    expect(alice.workers()).toHaveLength(workers);
    expect(bob.workers()).toEqual(expect.arrayContaining(['api', 'echo', 'greeter', 'private', 'uppercase']));
    await channel.close();
  });

  it('refuses a channel to a peer that is not the authorized identity', async () => {
    await expect(
      alice.createSecureChannel(bob.multiaddr, { authorized: [alice.identifier], timeoutMs: 5_000 }),
    ).rejects.toThrow();
  });

  it('reports its status', () => {
    const s = alice.status();
    expect(s).toMatchObject({ name: 'alice', identifier: alice.identifier, services: ['echo', 'uppercase'] });
    expect(s.tcpListenerAddress).toBe(alice.tcpListenerAddress);
    expect(alice.metrics().map((m) => m.name)).toContain('ockam_secure_channels_open');
  });
});

describe('portals, relays and policies', () => {
  let alice: OckamNode;
  let bob: OckamNode;
  let carol: OckamNode;
  let relay: OckamNode;
  let echo: { server: Server; port: number };
  beforeAll(async () => {
    echo = await echoServer();
    [alice, bob, carol, relay] = await Promise.all([
      createNode({ name: 'alice' }),
      createNode({ name: 'bob' }),
      createNode({ name: 'carol' }),
      createNode({ name: 'relay' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([alice, bob, carol, relay].map((n) => n?.stop()));
    echo?.server.close();
  });

  it('carries TCP from an inlet to an outlet and a real server, through a secure channel', async () => {
    await bob.createOutlet({ address: 'outlet', to: `127.0.0.1:${echo.port}` });
    const inlet = await alice.createInlet({
      name: 'web',
      from: '127.0.0.1:0',
      to: `${bob.multiaddr}/secure/api/service/outlet`,
    });
    const port = Number(inlet.bound.split(':').pop());
    await expect.poll(() => alice.inlet('web').status, { timeout: 20_000 }).toBe('up');
    expect(await exchange(port, 'one')).toBe('echo:one');
    expect(bob.outlets().map((o) => o.address)).toEqual(['outlet']);
    await alice.deleteInlet('web');
    expect(alice.inlets()).toEqual([]);
  });

  it('reaches a node through a relay at another node, with the relay node outside the channel', async () => {
    const r = await bob.createRelay({ name: 'bob', at: relay.multiaddr });
    expect(r.name).toBe('bob');
    await expect.poll(() => relay.servedRelays(), { timeout: 20_000 }).toContain('forward_to_bob');
    const reply = await alice.request(
      `${relay.multiaddr}/service/forward_to_bob/secure/api/service/echo`,
      utf8('via relay'),
      { authorized: [bob.identifier] },
    );
    expect(text(reply.payload)).toBe('via relay');
  });

  it("applies an outlet's policy: the allowed identity gets through, another is refused", async () => {
    await bob.createOutlet({
      address: 'strict',
      to: `127.0.0.1:${echo.port}`,
      allow: `(= subject.identifier "${alice.identifier}")`,
    });
    expect(await bob.policy({ resourceName: 'strict' })).toContain(alice.identifier);
    const open = async (node: OckamNode, name: string) => {
      const i = await node.createInlet({
        name,
        from: '127.0.0.1:0',
        to: `${bob.multiaddr}/secure/api/service/strict`,
        connectionWaitMs: 0,
      });
      await expect.poll(() => node.inlet(name).status, { timeout: 20_000 }).toBe('up');
      return Number(i.bound.split(':').pop());
    };
    expect(await exchange(await open(alice, 'allowed'), 'a')).toBe('echo:a');
    expect(await exchange(await open(carol, 'refused'), 'c')).toBe('');
    // The policy is the node's: relaxing it lets carol in at her next connection.
    await bob.setPolicy({ resourceName: 'strict' }, `(= subject.identifier "${carol.identifier}")`);
    expect((await bob.policies()).resources.map((p) => p.resourceName)).toContain('strict');
    expect(await exchange(Number(carol.inlet('refused').bound.split(':').pop()), 'c')).toBe('echo:c');
    expect(await bob.deletePolicy({ resourceName: 'strict' })).toBe(true);
  });
});

/** Sockets, servers and UDP sockets this process holds (Node's own count). */
function handles(): Record<string, number> {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, UDPWrap: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in counts) counts[r]!++;
  return counts;
}

/** Which of `before`'s counts are exceeded now: what was started and not released. */
function leaks(before: Record<string, number>): string[] {
  const now = handles();
  return Object.keys(before).filter((k) => now[k]! > before[k]!);
}

/** A node name no earlier run used, so its temporary home can be looked for. */
const fresh = (name: string) => `${name}-${Math.random().toString(16).slice(2, 8)}`;

/** Temporary homes (what nodes without state once made) left behind by nodes named `name`. */
const leftHomes = (name: string) => readdirSync(tmpdir()).filter((d) => d.startsWith(`ockam-node-${name}-`));

describe('start and stop release exactly what was started', () => {
  const full = (name: string, beforeStartStep?: (s: string) => void) =>
    startNode(
      { name, websocket: { listen: '127.0.0.1:0' }, udp: { rendezvousService: '127.0.0.1:0' } },
      beforeStartStep ? { beforeStartStep } : {},
    );

  it('stop() closes every listener and socket', async () => {
    const STOPPER = fresh('stopper');
    const before = handles();
    const node = await full(STOPPER);
    expect(handles().TCPServerWrap).toBeGreaterThan(before.TCPServerWrap!);
    expect(handles().UDPWrap).toBeGreaterThan(before.UDPWrap!);
    await node.stop();
    await node.stop(); // idempotent
    await expect.poll(() => leaks(before), { timeout: 10_000 }).toEqual([]);
    expect(leftHomes(STOPPER)).toEqual([]);
  });

  it('a failure at any start step releases what the steps before it started', async () => {
    const steps: string[] = [];
    await (await full('steps', (s) => void steps.push(s))).stop();
    expect(steps).toEqual(expect.arrayContaining(['tcp-listener', 'websocket-listener', 'udp', 'portals']));
    const before = handles();
    for (const failing of steps) {
      const name = fresh(`fail-${failing}`);
      await expect(
        full(name, (s) => {
          if (s === failing) throw new Error(`injected at ${s}`);
        }),
      ).rejects.toThrow(`injected at ${failing}`);
      await expect.poll(() => leaks(before), { timeout: 10_000 }).toEqual([]);
      expect(leftHomes(name)).toEqual([]);
    }
  });

  it('a port in use fails the start and leaves nothing behind', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const before = handles();
    const TAKEN = fresh('taken');
    try {
      await expect(createNode({ name: TAKEN, tcp: { listen: `127.0.0.1:${port}` } })).rejects.toThrow();
      await expect.poll(() => leaks(before), { timeout: 10_000 }).toEqual([]);
      expect(leftHomes(TAKEN)).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('a bad WebSocket address fails the start after the TCP listener, and closes it', async () => {
    const BADWS = fresh('badws');
    const before = handles();
    await expect(createNode({ name: BADWS, websocket: { listen: 'not an address' } })).rejects.toThrow(
      /Cannot listen for WebSockets on not an address/,
    );
    await expect.poll(() => leaks(before), { timeout: 10_000 }).toEqual([]);
    expect(leftHomes(BADWS)).toEqual([]);
  });

  it('without home or state, keeps its identity in memory and writes no file', async () => {
    const MEMORY = fresh('memory');
    const node = await createNode({ name: MEMORY });
    const other = await createNode({ name: MEMORY, identity: 'second' });
    expect(node.state).toBeUndefined();
    expect(node.identifier).toMatch(/^I[0-9a-f]{64}$/);
    expect(other.identifier).not.toBe(node.identifier);
    expect(leftHomes(MEMORY)).toEqual([]);
    // A node in memory knows no project: a `/project/` multiaddr fails at once, naming why.
    await expect(node.request('/project/default/service/echo', utf8('x'))).rejects.toThrow(/knows none/);
    await Promise.all([node.stop(), other.stop()]);
  });

  it('keeps the state it was given open, and the home it was given on disk', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'ocknode-home-'));
    try {
      const node = await createNode({ name: 'homed', home: dir });
      const identifier = node.identifier;
      await node.stop();
      expect(existsSync(join(dir, 'database.sqlite3'))).toBe(true);
      // The same home gives the same default identity the next time.
      const again = await createNode({ name: 'homed', home: dir });
      expect(again.identifier).toBe(identifier);
      await again.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
