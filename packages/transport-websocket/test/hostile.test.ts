import { encodeBareString, LocalMessage } from '@ockam/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeWebSocketFrame } from '../src/index.js';
import { echoServer, hex, RawClient, type TestNode, testNode, waitFor } from './helpers.js';

let server: Awaited<ReturnType<typeof echoServer>>;
let good: TestNode;
let goodRoute: unknown;

beforeAll(async () => {
  server = await echoServer('server', { maxFrameSize: 64 * 1024 });
  good = testNode('good-client');
  goodRoute = await good.node.resolveRoute([`3#127.0.0.1:${server.port}`, 'echo']);
});
afterAll(async () => {
  await good.stop();
  await server.stop();
});

/** The well-behaved client, connected all along, still gets its echo. */
async function goodClientStillServed(): Promise<void> {
  const c = good.node.client();
  await c.send(goodRoute as never, new Uint8Array([7, 7]));
  expect([...(await c.receive({ timeoutMs: 2_000 })).payload]).toEqual([7, 7]);
  await c.stop();
  expect(good.ws.connections()).toHaveLength(1);
}

/** Sends `data` from a raw client, expects the server to close it, returns the logged reason and code. */
async function closedWithReason(
  data: Uint8Array | string,
): Promise<{ reason: string; code: number; cause: string }> {
  const raw = await RawClient.connect(server.port);
  const peer = `127.0.0.1:${raw.localPort}`;
  raw.send(data);
  const { code } = await raw.waitClosed().finally(() => raw.terminate());
  await waitFor(
    () => server.lines.some((l) => l.fields.peer === peer && l.message === 'websocket connection closed'),
    'close log',
  );
  const line = server.lines.find(
    (l) => l.fields.peer === peer && l.message === 'websocket connection closed',
  )!;
  expect(line.level).toBe('warn');
  return { reason: String(line.fields.reason), code, cause: String(line.fields.cause) };
}

const HELLO_BODY = '01 00 04 6563686f 01 00 03 617070 06 0568656c6c6f 00';

describe('hostile WebSocket peers', () => {
  it('closes a connection that sends a text message (1003), and only that one', async () => {
    expect(await closedWithReason('hello')).toEqual({
      reason: 'text WebSocket messages are not Ockam messages',
      code: 1003,
      cause: 'protocol',
    });
    await goodClientStillServed();
  });

  it('closes a connection that sends an unknown transport message version (1002)', async () => {
    const r = await closedWithReason(hex(`03 ${HELLO_BODY}`));
    expect(r.reason).toMatch(/unsupported protocol version 3/);
    expect(r.code).toBe(1002);
    await goodClientStillServed();
  });

  it('closes a connection that sends truncated or garbage bytes', async () => {
    expect((await closedWithReason(hex('01 01 00 04 6563'))).reason).toMatch(
      /^Cannot decode WebSocket transport message/,
    );
    expect((await closedWithReason(hex('deadbeef'))).cause).toBe('protocol');
    expect((await closedWithReason(new Uint8Array(0))).cause).toBe('protocol');
    await goodClientStillServed();
  });

  it('closes a connection that sends a message over the frame cap before buffering it (1009)', async () => {
    const r = await closedWithReason(new Uint8Array(64 * 1024 + 1));
    expect(r.code).toBe(1009);
    expect(r.cause).toBe('protocol');
    expect(r.reason).toMatch(/Max payload size exceeded/);
    await goodClientStillServed();
  });

  it('drops a message for an unknown address but closes a connection that asks us to resolve a transport hop', async () => {
    const unknown = encodeWebSocketFrame(new LocalMessage(['nobody'], ['app'], new Uint8Array()));
    const raw = await RawClient.connect(server.port);
    try {
      raw.send(unknown);
      await waitFor(() => server.lines.some((l) => /no worker at its address/.test(l.message)), 'drop log');
      // The same connection still carries the next message.
      raw.send(encodeWebSocketFrame(new LocalMessage(['echo'], ['app'], Uint8Array.of(1, 2))));
      await waitFor(() => raw.received.length > 0, 'echo reply');
      expect(raw.isClosed).toBe(false);
    } finally {
      raw.terminate();
    }
    const remote = encodeWebSocketFrame(
      new LocalMessage(['1#127.0.0.1:1', 'echo'], ['app'], new Uint8Array()),
    );
    expect((await closedWithReason(remote)).reason).toMatch(/must be resolved/);
    await goodClientStillServed();
  });

  it('ignores heartbeats (an empty onward route) and keeps the connection', async () => {
    const raw = await RawClient.connect(server.port);
    try {
      raw.send(hex('01 00 01 00 03 617070 00 00'));
      raw.send(hex(`02 ${HELLO_BODY}`));
      await waitFor(() => raw.received.length === 1, 'echo after heartbeat');
      expect(Buffer.from(raw.received[0]!).toString('hex')).toMatch(/0568656c6c6f00$/);
      expect(raw.isClosed).toBe(false);
    } finally {
      raw.terminate();
    }
  });

  it('survives random frames: each raw connection is served or closed, never the server (property)', async () => {
    const frames = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      // Mutations of a valid frame, to reach deeper into the decoder.
      fc.tuple(fc.nat(30), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
        const f = hex(`01 ${HELLO_BODY}`);
        f[i % f.length] = b;
        return f;
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), async (batch) => {
        const raw = await RawClient.connect(server.port);
        for (const f of batch) raw.send(f);
        // Either closed, or every message was handled: give the server a moment either way.
        await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 30))]);
        raw.terminate();
        await raw.closed;
      }),
      { numRuns: 60 },
    );
    await waitFor(() => server.ws.connections().length === 1, 'hostile connections released');
    await goodClientStillServed();
  });

  it('answers a well-formed message from a raw client with the reply bytes PROTOCOL.md §1.2 describes', async () => {
    const raw = await RawClient.connect(server.port);
    try {
      raw.send(encodeWebSocketFrame(new LocalMessage(['echo'], ['app'], encodeBareString('hello'))));
      await waitFor(() => raw.received.length === 1, 'reply');
      // onward [app], return [echo], same payload, tracing flag 0.
      expect(Buffer.from(raw.received[0]!).toString('hex')).toBe(
        Buffer.from(hex('01 01 00 03 617070 01 00 04 6563686f 06 0568656c6c6f 00')).toString('hex'),
      );
    } finally {
      raw.terminate();
    }
  });
});
