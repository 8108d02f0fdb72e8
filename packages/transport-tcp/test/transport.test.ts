import {
  Address,
  decodeTransportMessage,
  LocalMessage,
  OckamError,
  type RoutedMessage,
  startEcho,
  TCP,
  toHex,
} from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { TcpCloseInfo, TcpConnection } from '../src/index.js';
import { echoServer, RawClient, sleep, type TestNode, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function track<T extends { stop(): Promise<void> }>(t: T): T {
  cleanups.push(() => t.stop());
  return t;
}

const SPEC_FRAME = '00000017 83 81 82 00 44 6563686f 81 82 00 43 617070 46 0568656c6c6f';

describe('tcp transport', () => {
  it('answers the example frame of PROTOCOL.md §2.1 from a raw socket with exact bytes', async () => {
    const server = track(await echoServer());
    const raw = await RawClient.connect(server.port);
    cleanups.push(() => raw.destroy());
    raw.write(`01 ${SPEC_FRAME}`);
    const got = await raw.waitForBytes(1 + 4 + 0x17);
    // Version byte, then echo's reply: onward ["app"] (the sender popped itself), return ["echo"].
    expect(toHex(got)).toBe(
      '01' + '00000017 83 81 82 00 43 617070 81 82 00 44 6563686f 46 0568656c6c6f'.replace(/ /g, ''),
    );
    const reply = decodeTransportMessage(got.subarray(5));
    expect(reply.onwardRoute.toString()).toBe('0#app');
    expect(reply.returnRoute.toString()).toBe('0#echo');
  });

  it('pushes the paired sender onto the return route of what it receives', async () => {
    const server = track(await echoServer());
    let seen: LocalMessage | undefined;
    server.node.startWorker('probe', { handleMessage: (_ctx, m: RoutedMessage) => void (seen = m.message) });
    server.node.flowControls.addConsumer('probe', server.listener.flowControlId);
    const raw = await RawClient.connect(server.port);
    cleanups.push(() => raw.destroy());
    raw.write('01 00000018 83 81 82 00 45 70726f6265 81 82 00 43 617070 46 0568656c6c6f');
    await waitFor(() => seen !== undefined, 'probe message');
    const [accepted] = server.listener.connections();
    expect(seen!.returnRoute.toString()).toBe(`0#${accepted!.senderAddress.value} => 0#app`);
    expect(seen!.localInfo.flowControlId).toBe(accepted!.flowControlId);
  });

  it('round-trips between two nodes, resolving 1#host:port in a route', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const c = client.node.client();
    const reply = await c.request([`1#127.0.0.1:${server.port}`, 'echo'], new Uint8Array([1, 2, 3]));
    expect([...reply.payload]).toEqual([1, 2, 3]);
    const [conn] = client.tcp.connections();
    expect(reply.returnRoute.toString()).toBe(`0#${conn!.senderAddress.value} => 0#echo`);
    expect(conn!.mode).toBe('outgoing');
    expect(server.tcp.connections()[0]!.mode).toBe('incoming');
  });

  it('reuses one connection per peer, even for concurrent resolves', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const hop = new Address(TCP, `127.0.0.1:${server.port}`);
    const [a, b] = await Promise.all([client.tcp.resolve(hop), client.tcp.resolve(hop)]);
    expect(a.equals(b)).toBe(true);
    expect((await client.tcp.resolve(hop)).equals(a)).toBe(true);
    expect(client.tcp.connections()).toHaveLength(1);
  });

  it('round-trips 16 MiB payload-sized messages and many small ones in order', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const c = client.node.client({ capacity: 1024 });
    const route = await client.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'echo']);
    const big = new Uint8Array(16 * 1024 * 1024 - 200).map((_, i) => i & 0xff);
    await c.send(route, big);
    const r = await c.receive();
    expect(r.payload.length).toBe(big.length);
    expect(r.payload[12345]).toBe(12345 & 0xff);
    for (let i = 0; i < 500; i++) await c.send(route, new Uint8Array([i & 0xff, i >> 8]));
    for (let i = 0; i < 500; i++) expect([...(await c.receive()).payload]).toEqual([i & 0xff, i >> 8]);
  });

  it('keeps the order of small (batched) and large (unbatched) messages sent back to back', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const c = client.node.client({ capacity: 256 });
    const route = await client.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'echo']);
    const sizes = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? 100_000 + i : i));
    await Promise.all(sizes.map((n) => c.send(route, new Uint8Array(n))));
    for (const n of sizes) expect((await c.receive()).payload.length).toBe(n);
  });

  it('sends a message made of parts (small and large, batched with others) byte for byte', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const c = client.node.client({ capacity: 256 });
    const route = await client.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'echo']);
    const piece = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);
    const shapes = [[8, 40_000, 16], [5000], [3, 0, 4096, 1, 70_000, 9], [12, 20], [8, 4096, 4096, 16]];
    const sent = shapes.map((sizes, k) => sizes.map((n, j) => piece(n, k * 10 + j)));
    // Sent back to back, so that they share a batch (and a writev) with their neighbours.
    await Promise.all(
      sent.map((parts) => client.node.route(c.address, LocalMessage.fromParts(route, [c.address], parts))),
    );
    for (const parts of sent) {
      const expected = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        expected.set(p, o);
        o += p.length;
      }
      expect((await c.receive()).payload).toEqual(expected);
    }
  });

  it('gives a payload back to its owner only once written: overwriting it then changes nothing sent', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const c = client.node.client({ capacity: 512 });
    const route = await client.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'echo']);
    const piece = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 13 + seed) & 0xff);
    // Copied into the batch (small), written by reference (≥ 4 KiB), and a frame of its own (with
    // a tracing context, so not written by reference).
    const shapes = [[100], [8, 48_000, 16], [5000, 3], [8, 70_000, 16], [20, 300_000]];
    let released = 0;
    const expected: Uint8Array[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const parts = shapes[i % shapes.length]!.map((n, j) => piece(n, i + j));
      expected.push(new Uint8Array(Buffer.concat(parts)));
      const tracing = i % 10 === 9 ? '{"traceparent":"00-x"}' : undefined;
      const m = LocalMessage.fromParts(route, [c.address], parts, undefined, tracing).withRelease(() => {
        released++;
        for (const p of parts) p.fill(0xaa); // the owner reuses its memory at once
      });
      sends.push(client.node.route(c.address, m));
    }
    await Promise.all(sends);
    for (let i = 0; i < expected.length; i++) {
      const got = (await c.receive({ timeoutMs: 10_000 })).payload;
      expect(Buffer.compare(got, expected[i]!), `message ${i}`).toBe(0);
    }
    expect(released).toBe(200);
  });

  it('routes a→b→c when b exposes its connection to c to its own listener', async () => {
    const c = track(await echoServer('c'));
    const b = track(await echoServer('b'));
    const a = track(testNode('a'));
    const bToC = await b.tcp.connect(`127.0.0.1:${c.port}`, { exposeTo: [b.listener.flowControlId] });
    const client = a.node.client();
    const reply = await client.request(
      [`1#127.0.0.1:${b.port}`, bToC.senderAddress, 'echo'],
      new Uint8Array([42]),
    );
    expect([...reply.payload]).toEqual([42]);
    expect(reply.returnRoute.length).toBe(3);
  });

  it('drops a→b→c when b did not expose its connection to c', async () => {
    const c = track(await echoServer('c'));
    const b = track(await echoServer('b'));
    const a = track(testNode('a'));
    const bToC = await b.tcp.connect(`127.0.0.1:${c.port}`);
    const client = a.node.client();
    await expect(
      client.request([`1#127.0.0.1:${b.port}`, bToC.senderAddress, 'echo'], new Uint8Array([42]), {
        timeoutMs: 300,
      }),
    ).rejects.toSatisfy((e) => OckamError.isKind(e, 'timeout'));
    expect(
      b.lines.some(
        (l) => l.message === 'flow control dropped a message' && l.fields.to === bToC.senderAddress.value,
      ),
    ).toBe(true);
  });

  it('drops a message from a client to a worker not exposed to the listener, and keeps the connection', async () => {
    const server = track(await echoServer());
    const secret: LocalMessage[] = [];
    server.node.startWorker('secret', { handleMessage: (_ctx, m) => void secret.push(m.message) });
    const client = track(testNode('client'));
    const c = client.node.client();
    const route = await client.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'secret']);
    await c.send(route, new Uint8Array([1]));
    await waitFor(
      () =>
        server.lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'secret'),
      'drop log',
    );
    expect(secret).toEqual([]);
    const reply = await c.request([`1#127.0.0.1:${server.port}`, 'echo'], new Uint8Array([2]));
    expect([...reply.payload]).toEqual([2]);
  });

  it('keeps the peer of an outgoing connection away from local workers it was not given', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const privateMessages: LocalMessage[] = [];
    client.node.startWorker('private', { handleMessage: (_ctx, m) => void privateMessages.push(m.message) });
    await client.node.client().request([`1#127.0.0.1:${server.port}`, 'echo'], new Uint8Array([1]));
    // The server turns hostile and sends through its accepted connection to the client's 'private'.
    const accepted = server.tcp.connections()[0]!;
    await server.node.client().send([accepted.senderAddress, 'private'], new Uint8Array([9]));
    await waitFor(
      () =>
        client.lines.some((l) => l.message === 'flow control dropped a message' && l.fields.to === 'private'),
      'drop log',
    );
    expect(privateMessages).toEqual([]);
  });

  it('ignores heartbeats: frames with an empty onward route', async () => {
    const server = track(await echoServer());
    const raw = await RawClient.connect(server.port);
    cleanups.push(() => raw.destroy());
    // [[], [], h'']: no onward route.
    raw.write('01 00000004 83 80 80 40');
    raw.write(SPEC_FRAME);
    const got = await raw.waitForBytes(1 + 4 + 0x17);
    expect(got.length).toBe(28);
    expect(server.tcp.connections()).toHaveLength(1);
  });

  it('reports a connection closed by its peer, and resolve() reconnects', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const closes: TcpCloseInfo[] = [];
    client.tcp.on('close', (_c, info) => closes.push(info));
    const hop = new Address(TCP, `127.0.0.1:${server.port}`);
    const first = await client.tcp.resolve(hop);
    await waitFor(() => server.tcp.connections().length === 1, 'accept');
    await server.tcp.connections()[0]!.close();
    await waitFor(() => closes.length === 1, 'close event');
    expect(closes[0]).toMatchObject({ cause: 'peer', reason: 'closed by peer' });
    expect(client.tcp.connections()).toEqual([]);
    expect(client.node.has(first)).toBe(false);
    const second = await client.tcp.resolve(hop);
    expect(second.equals(first)).toBe(false);
    const reply = await client.node.client().request([second, 'echo'], new Uint8Array([3]));
    expect([...reply.payload]).toEqual([3]);
  });

  it('closes gracefully: bytes written before close() reach the peer', async () => {
    const received: number[] = [];
    const server = track(await echoServer());
    server.node.startWorker('sink', {
      handleMessage: (_ctx, m) => void received.push(m.message.payload.length),
    });
    server.node.flowControls.addConsumer('sink', server.listener.flowControlId);
    const client = track(testNode('client'));
    const conn = await client.tcp.connect(`127.0.0.1:${server.port}`);
    const c = client.node.client();
    for (let i = 0; i < 20; i++) await c.send([conn.senderAddress, 'sink'], new Uint8Array(100_000));
    await sleep(50);
    const info = await conn.close();
    expect(info.cause).toBe('local');
    await waitFor(() => received.length === 20, 'all messages', 5_000);
  });

  it('stops a connection when its sender worker is stopped', async () => {
    const server = track(await echoServer());
    const client = track(testNode('client'));
    const conn = await client.tcp.connect(`127.0.0.1:${server.port}`);
    await client.node.stopWorker(conn.senderAddress);
    expect(await conn.closed).toMatchObject({ cause: 'local' });
    expect(client.node.has(conn.receiverAddress)).toBe(false);
    await waitFor(() => server.tcp.connections().length === 0, 'server side closed');
  });

  it('fails to connect with a typed error, and honours an abort signal', async () => {
    const client = track(testNode('client'));
    const server = track(await echoServer());
    const port = server.port;
    await server.listener.close();
    await expect(client.tcp.connect(`127.0.0.1:${port}`)).rejects.toSatisfy((e) =>
      OckamError.isKind(e, 'io', 'transport'),
    );
    const ac = new AbortController();
    ac.abort();
    await expect(client.tcp.connect('127.0.0.1:9', { signal: ac.signal })).rejects.toSatisfy((e) =>
      OckamError.isKind(e, 'cancelled'),
    );
    await expect(client.tcp.listen('127.0.0.1:0', { signal: ac.signal })).rejects.toSatisfy((e) =>
      OckamError.isKind(e, 'cancelled'),
    );
    expect(client.tcp.connections()).toEqual([]);
  });

  it('stops everything and leaves nothing behind: addresses, flow controls, sockets, timers', async () => {
    // Sockets and timers alive now, by kind. Earlier tests' handles may still be closing, so the
    // check below is that none of this test's outlive it: no kind ends above its count here.
    const handles = (): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) {
        if (/TCP|Timeout/.test(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
      }
      return counts;
    };
    const baseHandles = handles();
    const leaked = (): string[] =>
      [...handles()].filter(([kind, n]) => n > (baseHandles.get(kind) ?? 0)).map(([kind]) => kind);
    const server = testNode('server');
    const client = testNode('client');
    const baseline = (t: TestNode) => ({
      addresses: t.node.addresses().length,
      flow: t.node.flowControls.size,
    });
    startEcho(server.node);
    const before = [baseline(server), baseline(client)];
    const listener = await server.tcp.listen('127.0.0.1:0');
    server.node.flowControls.addConsumer('echo', listener.flowControlId);
    const closed: TcpConnection[] = [];
    server.tcp.on('close', (c) => closed.push(c));
    const c = client.node.client();
    await c.request([`1#127.0.0.1:${listener.address.port}`, 'echo'], new Uint8Array([1]));
    await client.tcp.connect(`127.0.0.1:${listener.address.port}`, { exposeTo: ['some-id'] });
    await c.stop();
    await waitFor(() => server.tcp.connections().length === 2, 'accepts');
    await server.tcp.stop();
    await client.tcp.stop();
    expect(closed).toHaveLength(2);
    expect(server.tcp.connections()).toEqual([]);
    expect(server.tcp.listeners()).toEqual([]);
    expect(client.tcp.connections()).toEqual([]);
    expect([baseline(server), baseline(client)]).toEqual(before);
    await waitFor(() => leaked().length === 0, 'sockets and timers released', 5_000).catch(() => {});
    expect(leaked()).toEqual([]);
    await expect(client.tcp.connect(`127.0.0.1:${listener.address.port}`)).rejects.toSatisfy((e) =>
      OckamError.isKind(e, 'shutdown'),
    );
    await server.stop();
    await client.stop();
  });

  it('closes a connection whose peer is silent for the idle timeout', async () => {
    const server = track(await echoServer('server', { idleTimeoutMs: 100 }));
    const raw = await RawClient.connect(server.port);
    cleanups.push(() => raw.destroy());
    await raw.waitClosed(2_000);
    expect(server.lines.some((l) => l.level === 'warn' && l.fields.cause === 'timeout')).toBe(true);
  });
});
