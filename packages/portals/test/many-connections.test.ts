import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet } from '../src/index.js';
import { connectTo, echoTarget, listeningNode, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Writes `data`, resolves with the echo once as many bytes came back. */
function echoRoundTrip(socket: Socket, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      n += c.length;
      if (n >= data.length) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

describe('many connections', () => {
  it('carry 1,000 simultaneous client connections through one portal, each echoing its own data', async () => {
    const COUNT = 1_000;
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const o = await listeningNode('outlet-node');
    cleanups.push(() => o.node.stop());
    const outlet = createOutlet(o.node, {
      to: `127.0.0.1:${echo.port}`,
      consumerOf: [o.listener.flowControlId],
      lingerMs: 50,
    });
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
      lingerMs: 50,
    });
    cleanups.push(() => inlet.stop());

    global.gc?.();
    const before = process.memoryUsage();
    const clients = await Promise.all(Array.from({ length: COUNT }, () => connectTo(inlet.address.port)));
    cleanups.push(() => {
      for (const c of clients) c.destroy();
    });
    // Every client sends a first message: all 1,000 portal connections are open at once.
    const first = clients.map(() => randomBytes(64));
    const firstReplies = await Promise.all(clients.map((c, n) => echoRoundTrip(c, first[n]!)));
    expect(firstReplies.every((r, n) => r.equals(first[n]!))).toBe(true);
    expect(inlet.connections()).toBe(COUNT);
    expect(outlet.connections()).toBe(COUNT);
    expect(echo.sockets.size).toBe(COUNT);
    global.gc?.();
    const open = process.memoryUsage();
    const perConnection = {
      heap: (open.heapUsed - before.heapUsed) / COUNT,
      rss: (open.rss - before.rss) / COUNT,
    };
    console.log(
      `1,000 portal connections (client, inlet, outlet and target sockets in one process): ` +
        `${(perConnection.heap / 1024).toFixed(1)} KiB heap and ${(perConnection.rss / 1024).toFixed(1)} KiB RSS per connection`,
    );

    // Then 32 KiB each, all at once.
    const second = clients.map(() => randomBytes(32 * 1024));
    const secondReplies = await Promise.all(clients.map((c, n) => echoRoundTrip(c, second[n]!)));
    expect(secondReplies.every((r, n) => r.equals(second[n]!))).toBe(true);

    for (const c of clients) c.end();
    await waitFor(
      () => inlet.connections() === 0 && outlet.connections() === 0,
      'all portals closed',
      10_000,
    );
    await waitFor(() => echo.sockets.size === 0, 'target sockets closed', 10_000);
  }, 60_000);
});
