import { createServer, type Server } from 'node:http';
import { LocalMessage, startEcho } from '@ockam/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as WsWebSocket } from 'ws';
import { decodeWebSocketFrame, encodeWebSocketFrame, type WebSocketListener } from '../src/index.js';
import { normalizeOrigin, OriginPolicy } from '../src/internal/origin-policy.js';
import { type TestNode, testNode, waitFor } from './helpers.js';

interface Upgrade {
  status: number;
  socket?: WsWebSocket;
}

/** Opens a WebSocket to `port` with these headers; resolves with 101 and the socket, or the refusal's status. */
function upgrade(port: number, headers: { origin?: string; host?: string } = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const socket = new WsWebSocket(`ws://127.0.0.1:${port}/`, {
      perMessageDeflate: false,
      ...(headers.origin === undefined ? {} : { origin: headers.origin }),
      ...(headers.host === undefined ? {} : { headers: { host: headers.host } }),
    });
    socket.once('open', () => resolve({ status: 101, socket }));
    socket.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

/** Sends one echo request over an accepted socket and waits for its reply. */
async function echoOver(socket: WsWebSocket): Promise<string> {
  const reply = new Promise<string>((resolve) =>
    socket.once('message', (data: Buffer) =>
      resolve(new TextDecoder().decode(decodeWebSocketFrame(data).payload)),
    ),
  );
  socket.send(encodeWebSocketFrame(new LocalMessage(['echo'], ['page'], new TextEncoder().encode('hi'))));
  const text = await reply;
  socket.close();
  return text;
}

async function server(
  name: string,
  options: { allowedOrigins?: readonly string[]; refusedUpgradeLogIntervalMs?: number } = {},
): Promise<TestNode & { listener: WebSocketListener; port: number }> {
  const t = testNode(
    name,
    options.refusedUpgradeLogIntervalMs === undefined
      ? {}
      : { refusedUpgradeLogIntervalMs: options.refusedUpgradeLogIntervalMs },
  );
  const listener = await t.ws.listen(
    '127.0.0.1:0',
    options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {},
  );
  startEcho(t.node);
  t.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { ...t, listener, port: listener.address.port };
}

describe('the origin policy of WebSocket listeners', () => {
  let s: Awaited<ReturnType<typeof server>>;
  beforeAll(async () => {
    s = await server('origins', { allowedOrigins: ['https://App.Example.com:443/'] });
  });
  afterAll(() => s.stop());

  it('refuses an upgrade from a foreign page with 403 and creates no connection', async () => {
    expect((await upgrade(s.port, { origin: 'http://evil.example' })).status).toBe(403);
    expect(s.ws.connections()).toHaveLength(0);
  });

  it('accepts a request without Origin (a program, not a page) and carries an echo', async () => {
    const u = await upgrade(s.port);
    expect(u.status).toBe(101);
    expect(await echoOver(u.socket!)).toBe('hi');
  });

  it('accepts the listener’s own origin by IP literal or localhost', async () => {
    for (const [origin, host] of [
      [`http://127.0.0.1:${s.port}`, undefined],
      [`http://localhost:${s.port}`, `localhost:${s.port}`],
      [`HTTP://LOCALHOST:${s.port}`, `LocalHost:${s.port}`],
    ] as const) {
      const u = await upgrade(s.port, { origin, ...(host ? { host } : {}) });
      expect(u.status, origin).toBe(101);
      expect(await echoOver(u.socket!)).toBe('hi');
    }
  });

  it('refuses same-origin by a DNS name, which rebinding fakes, and near misses', async () => {
    for (const [origin, host] of [
      [`http://evil.example:${s.port}`, `evil.example:${s.port}`],
      [`http://127.0.0.1:${s.port + 1}`, `127.0.0.1:${s.port}`],
      [`http://127.0.0.2:${s.port}`, `127.0.0.1:${s.port}`],
      ['null', undefined],
      ['not an origin', undefined],
      [`http://127.0.0.1:${s.port}`, `user@127.0.0.1:${s.port}`],
      [`ws://127.0.0.1:${s.port}`, undefined],
    ] as const) {
      expect((await upgrade(s.port, { origin, ...(host ? { host } : {}) })).status, origin).toBe(403);
    }
    expect(s.ws.connections()).toHaveLength(0);
  });

  it('accepts listed origins, written in any case and with a default port', async () => {
    const u = await upgrade(s.port, { origin: 'https://app.example.com' });
    expect(u.status).toBe(101);
    expect(await echoOver(u.socket!)).toBe('hi');
    expect((await upgrade(s.port, { origin: 'http://app.example.com' })).status).toBe(403);
  });

  it('accepts an origin added once the listener runs (allowOrigin)', async () => {
    expect((await upgrade(s.port, { origin: 'http://127.0.0.1:9999' })).status).toBe(403);
    s.listener.allowOrigin('http://127.0.0.1:9999');
    const u = await upgrade(s.port, { origin: 'http://127.0.0.1:9999' });
    expect(u.status).toBe(101);
    u.socket!.close();
    expect(() => s.listener.allowOrigin('null')).toThrow(RangeError);
    expect(() => s.listener.allowOrigin('https://a.example/path')).toThrow(RangeError);
  });

  it('logs refusals once per interval, with how many were not logged', async () => {
    const t = await server('quiet');
    try {
      for (let i = 0; i < 25; i++)
        expect((await upgrade(t.port, { origin: 'http://evil.example' })).status).toBe(403);
      const refused = t.lines.filter((l) => l.message === 'websocket upgrade refused');
      expect(refused).toHaveLength(1);
      expect(refused[0]!.fields).toMatchObject({
        origin: 'http://evil.example',
        reason: 'origin not allowed',
      });
    } finally {
      await t.stop();
    }
    const loud = await server('loud', { refusedUpgradeLogIntervalMs: 0 });
    try {
      for (let i = 0; i < 3; i++) await upgrade(loud.port, { origin: 'http://evil.example' });
      await waitFor(() => loud.lines.filter((l) => l.message === 'websocket upgrade refused').length === 3);
    } finally {
      await loud.stop();
    }
  });

  it('refuses to listen with an allowed origin that is not one', async () => {
    const t = testNode('bad');
    try {
      await expect(t.ws.listen('127.0.0.1:0', { allowedOrigins: ['example.com'] })).rejects.toMatchObject({
        kind: 'invalid',
      });
    } finally {
      await t.stop();
    }
  });
});

describe('a listener attached to an HTTP server that serves the page', () => {
  let http: Server;
  let t: TestNode;
  let port: number;
  beforeAll(async () => {
    http = createServer((_req, res) => res.end('page'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    port = (http.address() as { port: number }).port;
    t = testNode('attached');
    const listener = await t.ws.listen('127.0.0.1:0', { server: http, path: '/ockam' });
    startEcho(t.node);
    t.node.flowControls.addConsumer('echo', listener.flowControlId);
  });
  afterAll(async () => {
    await t.stop();
    await new Promise((r) => http.close(r));
  });

  it('accepts its own page and refuses others', async () => {
    const open = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const s = new WsWebSocket(`ws://127.0.0.1:${port}/ockam`, { origin, perMessageDeflate: false });
        s.once('open', () => {
          s.close();
          resolve(101);
        });
        s.once('unexpected-response', (_q, res) => {
          res.resume();
          s.terminate();
          resolve(res.statusCode ?? 0);
        });
        s.once('error', reject);
      });
    expect(await open(`http://127.0.0.1:${port}`)).toBe(101);
    expect(await open('http://evil.example')).toBe(403);
  });
});

describe('OriginPolicy', () => {
  it('normalizes origins as browsers serialize them', () => {
    expect(normalizeOrigin('HTTPS://Example.COM:443')).toBe('https://example.com');
    expect(normalizeOrigin('http://[::1]:8080/')).toBe('http://[::1]:8080');
    expect(normalizeOrigin('chrome-extension://abcdef')).toBe('chrome-extension://abcdef');
    expect(() => normalizeOrigin('https://example.com/x')).toThrow(RangeError);
    expect(() => normalizeOrigin('https://u:p@example.com')).toThrow(RangeError);
  });

  it('never throws on hostile Origin and Host headers, and refuses every malformed one', () => {
    const policy = new OriginPolicy(['https://app.example.com']);
    const peer = { host: '127.0.0.1', port: 1 };
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string()), (origin, host) => {
        const reason = policy.refusal({ origin: origin ?? undefined, host: host ?? undefined, peer });
        if (origin === null) expect(reason).toBeUndefined();
        else if (!/^[a-z][a-z0-9+.-]*:/i.test(origin)) expect(reason).toBeDefined();
      }),
    );
  });

  it('treats IPv6 literals as rebinding-safe same origins', () => {
    const policy = new OriginPolicy();
    const peer = { host: '::1', port: 1 };
    expect(policy.refusal({ origin: 'http://[::1]:4000', host: '[::1]:4000', peer })).toBeUndefined();
    expect(policy.refusal({ origin: 'http://127.0.0.1', host: '127.0.0.1:80', peer })).toBeUndefined();
    expect(policy.refusal({ origin: 'https://127.0.0.1', host: '127.0.0.1', peer })).toBeUndefined();
    expect(policy.refusal({ origin: 'http://127.0.0.1', host: undefined, peer })).toBe('origin not allowed');
  });
});
