import { afterEach, describe, expect, it } from 'vitest';
import { echoServer, sleep, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PAYLOAD = 64 * 1024;
/** receiveBufferBytes (256 KiB) plus a socket chunk plus a frame, rounded up generously. */
const BOUND = 1024 * 1024;

describe('back-pressure', () => {
  it('pauses a fast sender behind a slow receiver and keeps buffers bounded over 200 MB', async () => {
    const server = await echoServer('server');
    cleanups.push(() => server.stop());
    let release!: () => void;
    let gate: Promise<void> | undefined = new Promise((r) => (release = r));
    let handled = 0;
    let handledBytes = 0;
    server.node.startWorker(
      'slow',
      {
        async handleMessage(_ctx, m) {
          if (gate) await gate;
          // Slow but moving: yield to the event loop after every message.
          await new Promise((r) => setImmediate(r));
          handled++;
          handledBytes += m.message.payload.length;
        },
      },
      { capacity: 16 },
    );
    server.node.flowControls.addConsumer('slow', server.listener.flowControlId);

    const client = testNode('client');
    cleanups.push(() => client.stop());
    const conn = await client.tcp.connect(`127.0.0.1:${server.port}`);
    const sender = client.node.client();
    const payload = new Uint8Array(PAYLOAD);
    let sent = 0;
    let maxBuffered = 0;
    let sawPaused = false;
    const sample = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, server.tcp.bufferedBytes(), client.tcp.bufferedBytes());
      if (server.tcp.connections()[0]?.stats().readPaused) sawPaused = true;
    }, 2);
    cleanups.push(() => clearInterval(sample));
    const total = Math.ceil((200 * 1024 * 1024) / PAYLOAD);
    const pushing = (async () => {
      for (; sent < total; sent++) await sender.send([conn.senderAddress, 'slow'], payload);
    })();

    // The receiver takes nothing: the sender must stall with a bounded amount in flight.
    await sleep(300);
    const stalledAt = sent;
    await sleep(200);
    expect(sent).toBe(stalledAt);
    expect(stalledAt * PAYLOAD).toBeLessThan(32 * 1024 * 1024);
    expect(server.tcp.connections()[0]!.stats().readPaused).toBe(true);
    expect(server.tcp.bufferedBytes()).toBeLessThan(BOUND);

    // Let it go: all 200 MB arrive, with buffers bounded all the way.
    gate = undefined;
    release();
    await pushing;
    await waitFor(() => handled === total, 'all messages handled', 20_000);
    expect(handledBytes).toBe(total * PAYLOAD);
    expect(sawPaused).toBe(true);
    expect(maxBuffered).toBeLessThan(BOUND);
  });
});
