import { connect as netConnect, type Socket } from 'node:net';
import { LocalMessage } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeWebSocketFrame, type WebSocketTransportOptions } from '../src/index.js';
import { echoServer, RawClient, type TestNode, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(limits: WebSocketTransportOptions['limits']) {
  const s = await echoServer('server', { limits });
  cleanups.push(() => s.stop());
  return s;
}

async function client(port: number): Promise<RawClient> {
  const r = await RawClient.connect(port);
  cleanups.push(() => r.terminate());
  return r;
}

/** A plain TCP connection to the listener, which never upgrades unless told to. */
function tcp(port: number): Promise<Socket & { isClosed?: boolean }> {
  return new Promise((resolve, reject) => {
    const s: Socket & { isClosed?: boolean } = netConnect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.once('close', () => (s.isClosed = true));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => s.destroy());
  });
}

/** The raw TCP socket under a `ws` client: what an attacker writes its own frames to. */
function rawSocket(c: RawClient): Socket {
  return (c.socket as unknown as { _socket: Socket })._socket;
}

/** The head of a masked binary frame declaring `length` payload bytes (RFC 6455 §5.2). */
function frameHead(length: number): Uint8Array {
  const h = new Uint8Array(2 + 8 + 4);
  h[0] = 0x82;
  h[1] = 0x80 | 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h; // mask key 0: the payload goes as it is
}

async function echoes(c: TestNode, port: number): Promise<boolean> {
  const reply = await c.node
    .client()
    .request([`3#127.0.0.1:${port}`, 'echo'], Uint8Array.of(1, 2, 3), { timeoutMs: 5_000 });
  return reply.payload.length === 3;
}

const lines = (s: TestNode, limit: string) => s.lines.filter((l) => l.fields.limit === limit);

describe('websocket transport limits', () => {
  it('counts connections before their upgrade and closes one over maxConnections at once', async () => {
    const s = await server({ maxConnections: 3 });
    const good = testNode('good');
    cleanups.push(() => good.stop());
    expect(await echoes(good, s.port)).toBe(true);
    // Two sockets that never upgrade take the two other slots.
    const idle = [await tcp(s.port), await tcp(s.port)];
    await expect(RawClient.connect(s.port)).rejects.toThrow();
    await expect(RawClient.connect(s.port)).rejects.toThrow();
    expect(s.ws.inboundStats().refused).toBe(2);
    expect(lines(s, 'max-connections')).toHaveLength(1);
    expect(lines(s, 'max-connections')[0]!.message).toBe('websocket connection refused');
    expect(await echoes(good, s.port)).toBe(true);
    // A slot freed is a slot for the next one, once the server has seen the socket go.
    idle[0]!.destroy();
    let next: RawClient | undefined;
    while (next === undefined) next = await client(s.port).catch(() => undefined);
    next.send(encodeWebSocketFrame(new LocalMessage(['echo'], ['app'], Uint8Array.of(9))));
    await waitFor(() => next.received.length === 1, 'an echo on the freed slot');
  });

  it('destroys a connection that does not finish its upgrade in time, and still answers plain HTTP', async () => {
    const s = await server({ handshakeTimeoutMs: 300 });
    const plain = await tcp(s.port);
    let answer = '';
    plain.on('data', (d: Buffer) => (answer += d.toString()));
    plain.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const silent = await tcp(s.port);
    silent.write('GET / HTTP/1.1\r\nUpgrade: websocket\r\n'); // and never the rest
    await waitFor(() => silent.isClosed === true, 'the half-upgraded socket closed');
    expect(answer).toMatch(/^HTTP\/1\.1 426/);
    expect(lines(s, 'handshake-timeout')).toHaveLength(1);
    expect(s.ws.inboundStats().closed['handshake-timeout']).toBeGreaterThanOrEqual(1);
  });

  it('closes a connection whose frame trickles in for longer than frameTimeoutMs', async () => {
    const s = await server({ frameTimeoutMs: 300 });
    const slow = await client(s.port);
    const raw = rawSocket(slow);
    raw.write(frameHead(1000));
    const timer = setInterval(() => raw.writable && raw.write(Uint8Array.of(0)), 20);
    cleanups.push(() => clearInterval(timer));
    const { code } = await slow.waitClosed();
    expect(code).toBe(1008);
    expect(lines(s, 'frame-timeout')[0]?.fields.reason).toBe(
      'a frame was not complete within 300 ms (frameTimeoutMs)',
    );
  });

  it('closes an accepted connection that delivers no message, but not one that did', async () => {
    const s = await server({ firstMessageTimeoutMs: 300 });
    const talker = await client(s.port);
    talker.send(encodeWebSocketFrame(new LocalMessage(['echo'], ['app'], Uint8Array.of(9))));
    await waitFor(() => talker.received.length === 1, 'an echo');
    const heartbeats = await client(s.port);
    heartbeats.send(encodeWebSocketFrame(new LocalMessage([], [], new Uint8Array(0))));
    const silent = await client(s.port);
    await silent.waitClosed();
    await heartbeats.waitClosed();
    expect(lines(s, 'first-message-timeout')).toHaveLength(1);
    expect(s.ws.inboundStats().closed['first-message-timeout']).toBe(2);
    expect(talker.isClosed).toBe(false);
  });

  it('shares one budget between connections and closes the one that cannot get more', async () => {
    const s = await server({ maxBufferedBytes: 1024 * 1024, connectionAllowanceBytes: 64 * 1024 });
    const good = testNode('good');
    cleanups.push(() => good.stop());
    const first = await client(s.port);
    rawSocket(first).write(frameHead(4 * 1024 * 1024));
    rawSocket(first).write(new Uint8Array(700 * 1024));
    await waitFor(() => s.ws.inboundStats().budgetedBytes >= 600 * 1024, 'the first frame budgeted');
    const second = await client(s.port);
    rawSocket(second).write(frameHead(4 * 1024 * 1024));
    rawSocket(second).write(new Uint8Array(700 * 1024));
    const { code } = await second.waitClosed();
    expect(code).toBe(1013);
    expect(first.isClosed).toBe(false);
    expect(lines(s, 'buffer-budget')).toHaveLength(1);
    expect(await echoes(good, s.port)).toBe(true);
    first.terminate();
    await waitFor(() => s.ws.inboundStats().budgetedBytes === 0, 'the budget given back');
  });

  it('charges each read held, so a frame trickled in tiny writes cannot hold more than its share', async () => {
    const s = await server({ maxBufferedBytes: 256 * 1024, connectionAllowanceBytes: 64 * 1024 });
    const trickle = await client(s.port);
    const raw = rawSocket(trickle);
    raw.setNoDelay(true);
    raw.write(frameHead(1024 * 1024));
    for (let i = 0; i < 2_000 && !trickle.isClosed; i++) {
      raw.write(Uint8Array.of(0));
      await new Promise((r) => setImmediate(r));
    }
    await trickle.waitClosed();
    expect(lines(s, 'buffer-budget')).toHaveLength(1);
  });
});
