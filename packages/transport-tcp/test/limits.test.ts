import { LocalMessage } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, type TcpTransportOptions } from '../src/index.js';
import { echoServer, RawClient, type TestNode, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(limits: TcpTransportOptions['limits']) {
  const s = await echoServer('server', { limits });
  cleanups.push(() => s.stop());
  return s;
}

async function raw(port: number): Promise<RawClient> {
  const r = await RawClient.connect(port);
  cleanups.push(() => r.destroy());
  return r;
}

/** A client node that echoes through `port` and gets its answer. */
async function echoes(client: TestNode, port: number): Promise<boolean> {
  const reply = await client.node
    .client()
    .request([`1#127.0.0.1:${port}`, 'echo'], Uint8Array.of(1, 2, 3), { timeoutMs: 5_000 });
  return reply.payload.length === 3;
}

function echoFrame(): Uint8Array {
  return encodeFrame(new LocalMessage(['echo'], ['app'], Uint8Array.of(9)));
}

/** A frame header declaring `length` bytes, after the version byte. */
function header(length: number): Uint8Array {
  const h = new Uint8Array(5);
  h[0] = 1;
  new DataView(h.buffer).setUint32(1, length);
  return h;
}

const lines = (s: TestNode, limit: string) => s.lines.filter((l) => l.fields.limit === limit);

describe('tcp transport limits', () => {
  it('closes a connection over maxConnections at once, logs it once and keeps serving the others', async () => {
    const s = await server({ maxConnections: 3 });
    const client = testNode('client');
    cleanups.push(() => client.stop());
    expect(await echoes(client, s.port)).toBe(true);
    const held = [await raw(s.port), await raw(s.port)];
    await waitFor(() => s.listener.connections().length === 3, 'three connections');
    const refused = await Promise.all(Array.from({ length: 5 }, () => raw(s.port)));
    for (const r of refused) await r.waitClosed();
    expect(s.listener.connections()).toHaveLength(3);
    expect(s.tcp.inboundStats().refused).toBe(5);
    expect(lines(s, 'max-connections')).toHaveLength(1);
    expect(lines(s, 'max-connections')[0]!.message).toBe('tcp connection refused');
    expect(await echoes(client, s.port)).toBe(true);
    // A slot freed is a slot for the next one.
    held[0]!.destroy();
    await waitFor(() => s.listener.connections().length === 2, 'a slot freed');
    const next = await raw(s.port);
    next.write(Uint8Array.of(1));
    next.write(echoFrame());
    await next.waitForBytes(1 + 4);
    expect(next.isClosed).toBe(false);
  });

  it('closes a connection that never sends its protocol version byte', async () => {
    const s = await server({ handshakeTimeoutMs: 200 });
    const silent = await raw(s.port);
    await silent.waitClosed();
    expect(lines(s, 'handshake-timeout')).toHaveLength(1);
    expect(s.tcp.inboundStats().closed['handshake-timeout']).toBe(1);
  });

  it('closes a connection whose frame trickles in for longer than frameTimeoutMs', async () => {
    const s = await server({ frameTimeoutMs: 300 });
    const slow = await raw(s.port);
    slow.write(header(1000));
    const timer = setInterval(() => slow.socket.writable && slow.socket.write(Uint8Array.of(0x80)), 20);
    cleanups.push(() => clearInterval(timer));
    await slow.waitClosed();
    const [line] = lines(s, 'frame-timeout');
    expect(line?.fields.reason).toBe('a frame was not complete within 300 ms (frameTimeoutMs)');
    expect(s.tcp.inboundStats().budgetedBytes).toBe(0);
  });

  it('closes an accepted connection that delivers no message, but not one that did', async () => {
    const s = await server({ firstMessageTimeoutMs: 300 });
    const talker = await raw(s.port);
    talker.write(Uint8Array.of(1));
    talker.write(echoFrame());
    await talker.waitForBytes(1 + 4);
    const heartbeats = await raw(s.port);
    heartbeats.write(Uint8Array.of(1));
    // Empty onward routes are heartbeats: they keep nothing open.
    heartbeats.write(encodeFrame(new LocalMessage([], [], new Uint8Array(0))));
    const silent = await raw(s.port);
    silent.write(Uint8Array.of(1));
    await silent.waitClosed();
    await heartbeats.waitClosed();
    expect(lines(s, 'first-message-timeout')).toHaveLength(1);
    expect(s.tcp.inboundStats().closed['first-message-timeout']).toBe(2);
    expect(talker.isClosed).toBe(false);
  });

  it('never times out an outgoing connection for silence', async () => {
    const target = await server({});
    const client = testNode('client', { limits: { firstMessageTimeoutMs: 100 } });
    cleanups.push(() => client.stop());
    const c = await client.tcp.connect(`127.0.0.1:${target.port}`);
    // A clock: a server that closes a silent connection after 300 ms.
    const clock = await server({ firstMessageTimeoutMs: 300 });
    const silent = await raw(clock.port);
    silent.write(Uint8Array.of(1));
    await silent.waitClosed();
    expect(c.isOpen).toBe(true);
    expect(c.stats().messagesIn).toBe(0);
  });

  it('shares one budget between connections and closes the one that cannot get more', async () => {
    const s = await server({ maxBufferedBytes: 1024 * 1024, connectionAllowanceBytes: 64 * 1024 });
    const client = testNode('client');
    cleanups.push(() => client.stop());
    const first = await raw(s.port);
    first.write(header(4 * 1024 * 1024));
    first.write(new Uint8Array(700 * 1024));
    await waitFor(() => s.tcp.bufferedBytes() >= 700 * 1024, 'the first frame buffered');
    const second = await raw(s.port);
    second.write(header(4 * 1024 * 1024));
    second.write(new Uint8Array(700 * 1024));
    await second.waitClosed();
    expect(first.isClosed).toBe(false);
    const [line] = lines(s, 'buffer-budget');
    expect(line?.fields.reason).toMatch(/1048576-byte budget .* is spent/);
    // Small messages fit in each connection's allowance: still served while the budget is spent.
    expect(await echoes(client, s.port)).toBe(true);
    first.destroy();
    await waitFor(() => s.tcp.inboundStats().budgetedBytes === 0, 'the budget given back');
    expect(s.tcp.bufferedBytes()).toBe(0);
  });

  it('charges each read held, so a frame trickled in tiny writes cannot hold more than its share', async () => {
    const s = await server({ maxBufferedBytes: 256 * 1024, connectionAllowanceBytes: 64 * 1024 });
    const trickle = await raw(s.port);
    trickle.socket.setNoDelay(true);
    trickle.write(header(1024 * 1024));
    // 512 one-byte reads hold 512 bytes of frame, and cost 512 KiB or so of memory.
    for (let i = 0; i < 2_000 && !trickle.isClosed; i++) {
      trickle.socket.write(Uint8Array.of(0));
      await new Promise((r) => setImmediate(r));
    }
    await trickle.waitClosed();
    expect(lines(s, 'buffer-budget')).toHaveLength(1);
  });
});
