import { randomBytes } from 'node:crypto';
import { Node, noopLogger, Route } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createOutlet } from '../src/index.js';
import {
  capturingLogger,
  collect,
  connectTo,
  echoTarget,
  httpGetBody,
  httpTarget,
  listeningNode,
  sha256,
  testNode,
} from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('tcp portals', () => {
  it('carry an HTTP request and response through an inlet and an outlet on one node', async () => {
    const http = await httpTarget('hello through the portal');
    cleanups.push(() => http.stop());
    const { logger } = capturingLogger();
    const node = new Node({ name: 'one', logger });
    cleanups.push(() => node.stop());
    const outlet = createOutlet(node, { lingerMs: 20, to: { host: '127.0.0.1', port: http.port } });
    const inlet = await createInlet(node, { lingerMs: 20, bind: '127.0.0.1:0', route: ['outlet'] });
    cleanups.push(
      () => outlet.stop(),
      () => inlet.stop(),
    );
    expect(inlet.status).toBe('up');
    expect((await httpGetBody(inlet.address.port)).toString()).toBe('hello through the portal');
  });

  it('send full 48 KiB payloads from a bulk stream (tails carried into the next read), and a lone byte at once', async () => {
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const { logger } = capturingLogger();
    const node = new Node({ name: 'one', logger });
    cleanups.push(() => node.stop());
    // A hop between inlet and outlet that records the size of every Payload the inlet sends.
    const sizes: number[] = [];
    node.startWorker('count', {
      handleMessage: (ctx, { message }) => {
        if (message.payload[0] === 3 && message.returnRoute.addresses[0]?.value.startsWith('inlet_portal_'))
          sizes.push(message.payloadLength);
        return ctx.forward(message.stepForward(ctx.address));
      },
    });
    createOutlet(node, { lingerMs: 20, to: `127.0.0.1:${echo.port}` });
    const inlet = await createInlet(node, { lingerMs: 20, bind: '127.0.0.1:0', route: ['count', 'outlet'] });
    cleanups.push(() => inlet.stop());

    const client = await connectTo(inlet.address.port);
    const lone = new Promise<number>((resolve) => {
      const start = performance.now();
      client.once('data', () => resolve(performance.now() - start));
    });
    client.write(Uint8Array.of(42));
    expect(await lone).toBeLessThan(500); // a lone byte is not held back waiting for more
    sizes.length = 0;

    const bulk = randomBytes(8 * 1024 * 1024);
    const received = collect(client);
    client.end(bulk);
    const { data } = await received;
    expect(sha256(data)).toBe(sha256(bulk));
    const payloads = sizes.filter((n) => n > 8);
    const full = payloads.filter((n) => n === 48 * 1024 + 4).length;
    // 171 payloads if every one were full; cutting each 64 KiB read on its own would make ~256.
    expect(payloads.length).toBeLessThanOrEqual(190);
    expect(full).toBeGreaterThanOrEqual(150);
  });

  it('carry HTTP between two nodes over TCP, 5 MiB each way', async () => {
    const big = randomBytes(5 * 1024 * 1024);
    const http = await httpTarget(big);
    cleanups.push(() => http.stop());
    const o = await listeningNode('outlet-node');
    cleanups.push(() => o.node.stop());
    createOutlet(o.node, {
      lingerMs: 20,
      to: `127.0.0.1:${http.port}`,
      consumerOf: [o.listener.flowControlId],
    });
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      lingerMs: 20,
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
    });
    cleanups.push(() => inlet.stop());
    expect(sha256(await httpGetBody(inlet.address.port))).toBe(sha256(big));
    // Upload through /echo as well.
    const client = await connectTo(inlet.address.port);
    const upload = randomBytes(5 * 1024 * 1024);
    const received = collect(client);
    client.write(
      `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${upload.length}\r\nconnection: close\r\n\r\n`,
    );
    client.write(upload);
    const { data } = await received;
    const body = data.subarray(data.indexOf('\r\n\r\n') + 4);
    expect(body.length).toBe(upload.length);
    expect(sha256(body)).toBe(sha256(upload));
  });

  it('open one portal connection per client connection, and stop their workers when clients leave', async () => {
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const node = new Node({ name: 'n' });
    cleanups.push(() => node.stop());
    const before = node.addresses().length;
    const outlet = createOutlet(node, { to: { host: '127.0.0.1', port: echo.port }, lingerMs: 20 });
    const inlet = await createInlet(node, { bind: '127.0.0.1:0', route: ['outlet'], lingerMs: 20 });
    const clients = await Promise.all([1, 2, 3].map(() => connectTo(inlet.address.port)));
    const replies = await Promise.all(
      clients.map(async (c, n) => {
        const done = collect(c);
        c.write(`client ${n}`);
        await new Promise((r) => c.once('data', r));
        c.end();
        return (await done).data.toString();
      }),
    );
    expect(replies).toEqual(['client 0', 'client 1', 'client 2']);
    await inlet.stop();
    await outlet.stop();
    expect(inlet.connections()).toBe(0);
    expect(outlet.connections()).toBe(0);
    expect(node.addresses().length).toBe(before);
  });

  it('refuse a Ping from a producer that the outlet is not a consumer of', async () => {
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const o = await listeningNode('outlet-node');
    cleanups.push(() => o.node.stop());
    createOutlet(o.node, { lingerMs: 20, to: `127.0.0.1:${echo.port}` }); // no consumerOf
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      lingerMs: 20,
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
      pongTimeoutMs: 300,
    });
    cleanups.push(() => inlet.stop());
    const client = await connectTo(inlet.address.port);
    const { data } = await collect(client);
    expect(data.length).toBe(0);
    expect(o.lines.some((l) => l.message === 'flow control dropped a message')).toBe(true);
    expect(echo.sockets.size).toBe(0);
  });

  it('apply incoming access control to the outlet', async () => {
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const node = new Node({ logger: noopLogger });
    cleanups.push(() => node.stop());
    createOutlet(node, {
      lingerMs: 20,
      to: `127.0.0.1:${echo.port}`,
      incoming: { isAuthorized: () => false },
    });
    const inlet = await createInlet(node, {
      lingerMs: 20,
      bind: '127.0.0.1:0',
      route: ['outlet'],
      pongTimeoutMs: 200,
    });
    cleanups.push(() => inlet.stop());
    const { data } = await collect(await connectTo(inlet.address.port));
    expect(data.length).toBe(0);
    expect(echo.sockets.size).toBe(0);
  });

  it('answer a Ping that access control refuses with Disconnect, so the inlet closes its client without waiting for a Pong', async () => {
    const echo = await echoTarget();
    cleanups.push(() => echo.stop());
    const o = await listeningNode('outlet-node');
    cleanups.push(() => o.node.stop());
    createOutlet(o.node, {
      lingerMs: 20,
      to: `127.0.0.1:${echo.port}`,
      consumerOf: [o.listener.flowControlId],
      incoming: { isAuthorized: async () => false },
    });
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      lingerMs: 20,
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
      // Far longer than the test may take: only the outlet's answer can close the client.
      pongTimeoutMs: 120_000,
    });
    cleanups.push(() => inlet.stop());
    const { data } = await collect(await connectTo(inlet.address.port));
    expect(data.length).toBe(0);
    expect(echo.sockets.size).toBe(0);
    expect(o.lines.some((l) => l.message === 'tcp outlet refused a Ping: access control denied it')).toBe(
      true,
    );
    const failed = i.lines.find((l) => l.message === 'tcp inlet could not open a portal connection');
    expect(failed?.fields.error).toMatch(/outlet refused the connection/);
  });

  it('close the client promptly when the outlet cannot reach its target', async () => {
    const node = new Node({ logger: noopLogger });
    cleanups.push(() => node.stop());
    createOutlet(node, { lingerMs: 20, to: '127.0.0.1:1' });
    const inlet = await createInlet(node, { lingerMs: 20, bind: '127.0.0.1:0', route: ['outlet'] });
    cleanups.push(() => inlet.stop());
    const started = Date.now();
    await collect(await connectTo(inlet.address.port));
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('keep sessions off a single local hop: the inlet is up without an echo service', async () => {
    const node = new Node({ logger: noopLogger });
    cleanups.push(() => node.stop());
    createOutlet(node, { lingerMs: 20, to: '127.0.0.1:1' });
    const inlet = await createInlet(node, { lingerMs: 20, bind: '127.0.0.1:0', route: Route.of('outlet') });
    cleanups.push(() => inlet.stop());
    expect(inlet.status).toBe('up');
    expect(inlet.session.stats().pingsSent).toBe(0);
  });
});
