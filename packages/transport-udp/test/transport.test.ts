import { createSocket } from 'node:dgram';
import { Address, encodeTransportMessage, LocalMessage, startEcho, UDP } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { fragmentRoutingMessage } from '../src/codec.js';
import { getMyAddress, pingRendezvous, rendezvousRoute, startRendezvousService } from '../src/index.js';
import { pattern, sleep, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoServer() {
  const t = testNode('server');
  cleanups.push(() => t.stop());
  const bind = await t.udp.bind('127.0.0.1:0');
  startEcho(t.node);
  t.node.flowControls.addConsumer('echo', bind.flowControlId);
  return { ...t, bind, hop: `2#127.0.0.1:${bind.localAddress.port}` };
}

describe('udp transport on loopback', () => {
  it('two binds exchange large routed messages both ways, with the return route Ockam builds', async () => {
    const server = await echoServer();
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const bind = await client.udp.bind('127.0.0.1:0');
    const c = client.node.client({ capacity: 64 });
    const route = [
      bind.senderAddress,
      new Address(UDP, `127.0.0.1:${server.bind.localAddress.port}`),
      Address.local('echo'),
    ];
    const sizes = [0, 1, 493, 494, 64 * 1024, 1024 * 1024];
    for (const n of sizes) await c.send(route, pattern(n, n));
    for (const n of sizes) {
      const reply = await c.receive({ timeoutMs: 5_000 });
      expect(Buffer.compare(reply.payload, pattern(n, n))).toBe(0);
      // The reply came through our bind: [our sender, 2#server, client] was its return route on the server.
      expect(reply.returnRoute.addresses[0]!.equals(bind.senderAddress)).toBe(true);
      expect(reply.returnRoute.addresses[1]!.toString()).toBe(`2#127.0.0.1:${server.bind.localAddress.port}`);
    }
    const s = server.bind.stats();
    expect(s).toMatchObject({ messagesIn: sizes.length, gaps: 0, late: 0, malformed: 0, queueFull: 0 });
    expect(s.datagramsIn).toBeGreaterThan((1024 * 1024) / 493);
    expect(bind.stats().messagesOut).toBe(sizes.length);
  });

  it('resolves 2#host:port hops to one one-peer bind per peer, and drops datagrams from anyone else', async () => {
    const server = await echoServer();
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const reply = await client.node
      .client()
      .request([server.hop, 'echo'], pattern(5000), { timeoutMs: 3_000 });
    expect(reply.payload).toEqual(pattern(5000));
    const again = await client.node.resolveRoute([server.hop.replace('127.0.0.1', 'localhost'), 'echo']);
    expect(client.udp.binds()).toHaveLength(2); // host names resolve, and are keyed by their text
    const first = await client.udp.resolve(Address.parse(server.hop));
    expect(first.equals(client.udp.binds()[0]!.senderAddress)).toBe(true);
    expect(again.next().isLocal).toBe(true);
    const bind = client.udp.binds()[0]!;
    expect(bind.peer).toBe(`127.0.0.1:${server.bind.localAddress.port}`);
    // A stranger's datagram reaches the one-peer bind's socket and is dropped.
    const stranger = createSocket('udp4');
    await new Promise<void>((r) =>
      stranger.send(Uint8Array.of(1), bind.localAddress.port, '127.0.0.1', () => r()),
    );
    stranger.close();
    await waitFor(() => bind.stats().wrongPeer === 1, 'wrongPeer');
  });

  it('only delivers to services exposed to the bind (flow control), and lets replies reach the sender', async () => {
    const server = testNode('server');
    cleanups.push(() => server.stop());
    const bind = await server.udp.bind('127.0.0.1:0');
    startEcho(server.node); // not exposed
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const c = client.node.client();
    await c.send(
      await client.node.resolveRoute([`2#127.0.0.1:${bind.localAddress.port}`, 'echo']),
      pattern(10),
    );
    await waitFor(
      () => server.lines.some((l) => l.message === 'flow control dropped a message'),
      'flow control drop',
    );
    await expect(c.receive({ timeoutMs: 200 })).rejects.toThrow(/No reply/);
  });

  it('survives hostile datagrams: garbage, wrong versions, forged fragments, messages to nobody', async () => {
    const server = await echoServer();
    const raw = createSocket('udp4');
    cleanups.push(() => raw.close());
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
    const send = (d: Uint8Array): Promise<void> =>
      new Promise((r) => raw.send(d, server.bind.localAddress.port, '127.0.0.1', () => r()));
    await send(new Uint8Array(0));
    await send(new Uint8Array(600)); // oversized
    await send(Uint8Array.of(0x9f, 0xff)); // not a transport message
    await send(fragmentRoutingMessage(Uint8Array.of(1, 2, 3), 1)[0]!); // fragment of non-CBOR
    const toNobody = encodeTransportMessage(new LocalMessage(['nobody'], ['x'], Uint8Array.of(1)));
    await send(fragmentRoutingMessage(toNobody, 2)[0]!);
    const empty = encodeTransportMessage(new LocalMessage([], [], Uint8Array.of()));
    await send(fragmentRoutingMessage(empty, 3)[0]!);
    await waitFor(() => server.bind.stats().datagramsIn === 6, 'datagrams');
    await waitFor(() => server.bind.stats().routingFailed === 1, 'routing failure');
    expect(server.bind.stats()).toMatchObject({
      oversized: 1,
      malformed: 2,
      undecodable: 1,
      empty: 1,
      routingFailed: 1,
    });
    // Still serving.
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const reply = await client.node
      .client()
      .request([server.hop, 'echo'], pattern(3000), { timeoutMs: 3_000 });
    expect(reply.payload).toEqual(pattern(3000));
  });

  it('refuses to send where it cannot and says why', async () => {
    const t = testNode('n');
    cleanups.push(() => t.stop());
    const bind = await t.udp.bind('127.0.0.1:0');
    const c = t.node.client();
    await c.send([bind.senderAddress, 'echo'], pattern(1)); // no UDP hop
    await c.send([bind.senderAddress, '2#127.0.0.1:0', 'echo'], pattern(1));
    await waitFor(() => bind.stats().sendDropped === 2, 'drops');
    expect(t.lines.filter((l) => l.message === 'udp message dropped').map((l) => l.fields.reason)).toEqual([
      'the route has no UDP address after the sender',
      'will not send to port 0',
    ]);
    await expect(t.udp.bind('not an address')).rejects.toThrow(/Invalid UDP address/);
    await expect(t.udp.bind('[::1]:0')).rejects.toThrow(/only IPv4/);
  });

  it('releases every socket and worker on stop, and the port can be bound again', async () => {
    const t = testNode('n');
    const bind = await t.udp.bind('127.0.0.1:0');
    const port = bind.localAddress.port;
    const workersBefore = t.node.addresses().length;
    expect(workersBefore).toBe(2);
    await t.udp.unbind(bind.senderAddress);
    expect(bind.isOpen).toBe(false);
    expect(t.node.addresses()).toEqual([]);
    expect(t.node.flowControls.size.producers).toBe(0);
    const again = await t.udp.bind(`127.0.0.1:${port}`);
    expect(again.localAddress.port).toBe(port);
    // Stopping the sender worker directly (Ockam's unbind) closes the bind too.
    await t.node.stopWorker(again.senderAddress);
    await again.closed;
    await t.node.stop();
    await expect(t.udp.bind('127.0.0.1:0')).rejects.toThrow(/stopped/);
  });
});

describe('rendezvous on loopback', () => {
  it('tells a bind the address its datagrams come from, and answers pings', async () => {
    const server = testNode('rendezvous');
    cleanups.push(() => server.stop());
    const sbind = await server.udp.bind('127.0.0.1:0');
    const service = startRendezvousService(server.node, { exposeTo: [sbind.flowControlId] });
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const bind = await client.udp.bind('127.0.0.1:0');
    const route = rendezvousRoute(`127.0.0.1:${sbind.localAddress.port}`);
    expect(await getMyAddress(bind, route)).toBe(`127.0.0.1:${bind.localAddress.port}`);
    await pingRendezvous(bind, route);
    expect(service.answered).toBe(2);
  });

  it('stays silent over a non-UDP route and the client times out', async () => {
    const t = testNode('n');
    cleanups.push(() => t.stop());
    startRendezvousService(t.node);
    const bind = await t.udp.bind('127.0.0.1:0');
    // A route that never reaches a UDP rendezvous: nobody answers within the timeout.
    const silent = await t.udp.bind('127.0.0.1:0');
    const started = Date.now();
    await expect(
      getMyAddress(bind, rendezvousRoute(`127.0.0.1:${silent.localAddress.port}`), { timeoutMs: 300 }),
    ).rejects.toThrow(/did not answer within 300 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
    const c = t.node.client();
    await c.send(['rendezvous'], Uint8Array.of(0x82, 0x01, 0x80));
    await waitFor(() => t.lines.some((l) => l.message.includes('no UDP hop')), 'warning');
    await sleep(10);
  });

  it('logs a flood of malformed requests from the network once', async () => {
    const server = testNode('rendezvous');
    cleanups.push(() => server.stop());
    const sbind = await server.udp.bind('127.0.0.1:0');
    const service = startRendezvousService(server.node, { exposeTo: [sbind.flowControlId] });
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const bind = await client.udp.bind('127.0.0.1:0');
    const c = client.node.client();
    client.node.flowControls.addConsumer(c.address, bind.flowControlId);
    const route = [bind.senderAddress, `2#127.0.0.1:${sbind.localAddress.port}`, 'rendezvous'];
    for (let i = 0; i < 50; i++) await c.send(route, Uint8Array.of(0xff));
    // A good request after the flood is answered: the flood has been handled by then.
    expect(await getMyAddress(bind, rendezvousRoute(`127.0.0.1:${sbind.localAddress.port}`))).toBe(
      `127.0.0.1:${bind.localAddress.port}`,
    );
    expect(service.answered).toBe(1);
    expect(server.lines.filter((l) => l.message === 'rendezvous request dropped')).toHaveLength(1);
  });
});
