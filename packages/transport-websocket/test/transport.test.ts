import { createServer } from 'node:http';
import { Address, decodeBareString, encodeBareString, OckamError, startUppercase } from '@ockam/core';
import { TcpTransport } from '@ockam/transport-tcp';
import { describe, expect, it } from 'vitest';
import { WebSocketTransport as PortableWebSocketTransport } from '../src/browser.js';
import { NodeWebSocket } from '../src/index.js';
import { echoServer, testNode, waitFor } from './helpers.js';

describe('WebSocket transport between two nodes on 127.0.0.1', () => {
  it('resolves 3#host:port, echoes, and reuses the connection', async () => {
    const server = await echoServer();
    const client = testNode('client');
    try {
      const c = client.node.client();
      const reply = await c.request([`3#127.0.0.1:${server.port}`, 'echo'], new Uint8Array([1, 2, 3]));
      expect([...reply.payload]).toEqual([1, 2, 3]);
      const again = await client.node
        .client()
        .request([`3#ws://127.0.0.1:${server.port}/`, 'echo'], new Uint8Array([4]));
      expect([...again.payload]).toEqual([4]);
      expect(client.ws.connections()).toHaveLength(1);
      await waitFor(() => server.ws.connections().length === 1, 'accepted connection');
      expect(server.listener.connections()).toHaveLength(1);
      const conn = server.ws.connections()[0]!;
      expect(conn.mode).toBe('incoming');
      expect(conn.spawnerFlowControlId).toBe(server.listener.flowControlId);
      expect(conn.stats().messagesIn).toBe(2);
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('keeps order and carries large payloads up to the frame cap', async () => {
    const server = await echoServer();
    const client = testNode('client');
    try {
      const conn = await client.ws.connect(`ws://127.0.0.1:${server.port}`);
      const c = client.node.client({ capacity: 512 });
      for (let i = 0; i < 300; i++)
        await c.send([conn.senderAddress, 'echo'], Uint8Array.of(i & 255, i >> 8));
      for (let i = 0; i < 300; i++) expect([...(await c.receive()).payload]).toEqual([i & 255, i >> 8]);
      const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i * 7);
      await c.send([conn.senderAddress, 'echo'], big);
      const reply = await c.receive();
      expect(Buffer.compare(Buffer.from(reply.payload), Buffer.from(big))).toBe(0);
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('lets a peer reach only the services exposed to the listener', async () => {
    const server = await echoServer();
    startUppercase(server.node); // not exposed
    const client = testNode('client');
    try {
      const conn = await client.ws.connect(`127.0.0.1:${server.port}`);
      const c = client.node.client();
      await c.send([conn.senderAddress, 'uppercase'], encodeBareString('hi'));
      await waitFor(
        () => server.lines.some((l) => l.message === 'flow control dropped a message'),
        'flow-control drop',
      );
      await expect(c.receive({ timeoutMs: 200 })).rejects.toThrow(/No reply/);
      server.node.flowControls.addConsumer('uppercase', server.listener.flowControlId);
      const reply = await client.node
        .client()
        .request([conn.senderAddress, 'uppercase'], encodeBareString('hi'));
      expect(decodeBareString(reply.payload)).toBe('HI');
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('does not let an accepted peer route replies into a client that did not send through it', async () => {
    const server = await echoServer();
    const client = testNode('client');
    try {
      await client.ws.connect(`127.0.0.1:${server.port}`);
      const bystander = client.node.client();
      await waitFor(() => server.ws.connections().length === 1, 'accepted');
      // The server pushes a message at the client's bystander through the accepted connection.
      const serverSide = server.ws.connections()[0]!;
      await server.node.client().send([serverSide.senderAddress, bystander.address], new Uint8Array([9]));
      await waitFor(() => client.lines.some((l) => l.message === 'flow control dropped a message'), 'drop');
      await expect(bystander.receive({ timeoutMs: 100 })).rejects.toThrow();
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('routes WebSocket → TCP across three nodes with exposeTo', async () => {
    // browser-like client --WS--> gateway --TCP--> backend(uppercase)
    const { logger } = (await import('./helpers.js')).capturingLogger();
    const backend = new (await import('@ockam/core')).Node({ name: 'backend', logger });
    const backendTcp = new TcpTransport(backend);
    backend.registerTransport(backendTcp);
    const tcpListener = await backendTcp.listen('127.0.0.1:0');
    startUppercase(backend);
    backend.flowControls.addConsumer('uppercase', tcpListener.flowControlId);

    const gateway = testNode('gateway');
    const gatewayTcp = new TcpTransport(gateway.node);
    gateway.node.registerTransport(gatewayTcp);
    const wsListener = await gateway.ws.listen('127.0.0.1:0');
    const toBackend = await gatewayTcp.connect(`127.0.0.1:${tcpListener.address.port}`, {
      exposeTo: [wsListener.flowControlId],
    });

    const client = testNode('client');
    try {
      const reply = await client.node
        .client()
        .request(
          [`3#127.0.0.1:${wsListener.address.port}`, toBackend.senderAddress, 'uppercase'],
          encodeBareString('multi hop'),
        );
      expect(decodeBareString(reply.payload)).toBe('MULTI HOP');
      expect(reply.returnRoute.addresses.at(-1)?.value).toBe('uppercase');
    } finally {
      await client.stop();
      await gateway.stop();
      await backend.stop();
    }
  });

  it('works with the portable (browser) class given ws as its WebSocket', async () => {
    const server = await echoServer();
    const client = testNode('client');
    const portable = new PortableWebSocketTransport(client.node, { WebSocket: NodeWebSocket });
    try {
      expect(portable.canListen).toBe(false);
      await expect(portable.listen('127.0.0.1:0')).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'unsupported', 'transport'),
      );
      const conn = await portable.connect(`ws://127.0.0.1:${server.port}`);
      const reply = await client.node.client().request([conn.senderAddress, 'echo'], new Uint8Array([5]));
      expect([...reply.payload]).toEqual([5]);
    } finally {
      await portable.stop();
      await client.stop();
      await server.stop();
    }
  });

  it('listens on an existing HTTP server, on a path, next to ordinary HTTP', async () => {
    const http = createServer((_req, res) => res.end('page'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const port = (http.address() as { port: number }).port;
    const server = testNode('server');
    const client = testNode('client');
    try {
      const listener = await server.ws.listen(undefined, { server: http, path: '/ockam' });
      expect(listener.url).toBe(`ws://127.0.0.1:${port}/ockam`);
      (await import('@ockam/core')).startEcho(server.node);
      server.node.flowControls.addConsumer('echo', listener.flowControlId);
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('page');
      const reply = await client.node
        .client()
        .request([`3#ws://127.0.0.1:${port}/ockam`, 'echo'], new Uint8Array([6]));
      expect([...reply.payload]).toEqual([6]);
      await expect(client.ws.connect(`ws://127.0.0.1:${port}/other`)).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'io', 'transport'),
      );
    } finally {
      await client.stop();
      await server.stop();
      await new Promise((r) => http.close(r));
    }
  });

  it('reports connection failures, timeouts and cancellation as typed errors', async () => {
    const client = testNode('client');
    try {
      const http = createServer();
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
      const freePort = (http.address() as { port: number }).port;
      await new Promise((r) => http.close(r));
      await expect(client.ws.connect(`127.0.0.1:${freePort}`)).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'io', 'transport'),
      );
      // A TCP server that never answers the upgrade.
      const sockets = new Set<import('node:net').Socket>();
      const silent = (await import('node:net')).createServer((s) => void sockets.add(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
      const silentPort = (silent.address() as { port: number }).port;
      await expect(client.ws.connect(`127.0.0.1:${silentPort}`, { timeoutMs: 100 })).rejects.toSatisfy((e) =>
        OckamError.isKind(e, 'timeout', 'transport'),
      );
      const ac = new AbortController();
      const p = client.ws.connect(`127.0.0.1:${silentPort}`, { signal: ac.signal });
      ac.abort();
      await expect(p).rejects.toSatisfy((e) => OckamError.isKind(e, 'cancelled'));
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
      await expect(client.ws.resolve(Address.parse('1#127.0.0.1:1'))).rejects.toThrow(
        /not a WebSocket address/,
      );
    } finally {
      await client.stop();
    }
  });

  it('rejects listen on a port in use with an error naming the address, and listens again after', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    const server = testNode('server');
    try {
      const failure = await server.ws.listen(`127.0.0.1:${port}`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(OckamError.isKind(failure, 'io', 'transport')).toBe(true);
      expect((failure as Error).message).toContain(`127.0.0.1:${port}`);
      expect((failure as Error).message).toContain('EADDRINUSE');
      expect(server.ws.listeners()).toHaveLength(0);
      const listener = await server.ws.listen('127.0.0.1:0');
      expect(server.ws.listeners()).toEqual([listener]);
    } finally {
      await server.stop();
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });

  it('releases every worker, flow-control entry and connection on stop', async () => {
    const server = await echoServer();
    const client = testNode('client');
    await client.node.client().request([`3#127.0.0.1:${server.port}`, 'echo'], new Uint8Array([1]));
    const closes: string[] = [];
    server.ws.on('close', (_c, info) => closes.push(info.cause));
    await client.ws.stop();
    await waitFor(() => server.ws.connections().length === 0, 'server side closed');
    expect(closes).toEqual(['peer']);
    expect(client.ws.connections()).toHaveLength(0);
    await server.ws.stop();
    expect(server.ws.listeners()).toHaveLength(0);
    const fcSize = server.node.flowControls.size;
    expect(fcSize.producers).toBe(0);
    expect(fcSize.spawners).toBe(0);
    await expect(server.ws.listen('127.0.0.1:0')).rejects.toSatisfy((e) =>
      OckamError.isKind(e, 'shutdown', 'transport'),
    );
    await client.stop();
    await server.stop();
    expect(client.node.flowControls.size).toEqual({ producers: 0, spawners: 0, consumers: 0 });
  });

  it('closes a connection when its sender worker is stopped, and the peer sees it', async () => {
    const server = await echoServer();
    const client = testNode('client');
    try {
      const conn = await client.ws.connect(`127.0.0.1:${server.port}`);
      await waitFor(() => server.ws.connections().length === 1, 'accepted');
      const serverConn = server.ws.connections()[0]!;
      await client.node.stopWorker(conn.senderAddress);
      expect((await conn.closed).cause).toBe('local');
      const info = await serverConn.closed;
      expect(info.cause).toBe('peer');
      expect(info.code).toBe(1000);
    } finally {
      await client.stop();
      await server.stop();
    }
  });
});
