import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoServer, RawClient, type TestNode, testNode, waitFor } from './helpers.js';

let server: Awaited<ReturnType<typeof echoServer>>;
let good: TestNode;
let goodRoute: unknown;

beforeAll(async () => {
  server = await echoServer('server');
  good = testNode('good-client');
  goodRoute = await good.node.resolveRoute([`1#127.0.0.1:${server.port}`, 'echo']);
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
  expect(good.tcp.connections()).toHaveLength(1);
}

/** Sends `hex` on a raw socket, expects the server to close it, and returns the logged reason. */
async function closedWithReason(hex: string): Promise<string> {
  const raw = await RawClient.connect(server.port);
  const port = raw.socket.localPort;
  raw.write(hex);
  await raw.waitClosed().finally(() => raw.destroy());
  const peer = `127.0.0.1:${port}`;
  await waitFor(
    () => server.lines.some((l) => l.fields.peer === peer && l.message === 'tcp connection closed'),
    'close log',
  );
  const line = server.lines.find((l) => l.fields.peer === peer && l.message === 'tcp connection closed')!;
  expect(line.level).toBe('warn');
  return String(line.fields.reason);
}

describe('hostile peers', () => {
  it('closes a connection whose first byte is not protocol version 1, and only that one', async () => {
    expect(await closedWithReason('02 00000017')).toBe('Unsupported TCP protocol version 2, expected 1');
    await goodClientStillServed();
  });

  it('closes a connection that speaks the legacy protocol without a version byte', async () => {
    // Pre-0.118 TCP: a 2-byte length and a BARE TransportMessage, no version byte.
    expect(await closedWithReason('0012 01 01 00 04 6563686f 01 00 03 617070 05 68656c6c6f 00')).toMatch(
      /Unsupported TCP protocol version 0/,
    );
    await goodClientStillServed();
  });

  it('closes a connection declaring 16 MiB + 1 as soon as the header arrives, before any body', async () => {
    expect(await closedWithReason('01 01000001')).toBe(
      'Cannot decode frame: length 16777217 exceeds 16777216',
    );
    expect(server.tcp.bufferedBytes()).toBe(0);
    await goodClientStillServed();
  });

  it('closes a connection that sends truncated CBOR', async () => {
    expect(await closedWithReason('01 00000005 83 81 82 00 44')).toMatch(
      /^Cannot decode TCP transport message/,
    );
    await goodClientStillServed();
  });

  it('closes a connection that sends garbage CBOR', async () => {
    expect(await closedWithReason('01 00000004 deadbeef')).toMatch(/^Cannot decode TCP transport message/);
    expect(await closedWithReason('01 00000003 82 80 80')).toMatch(/expected at least 3 fields/);
    await goodClientStillServed();
  });

  it('drops a frame for an unknown address and keeps the connection, as Ockam does', async () => {
    // A worker may have stopped a moment ago (a portal that closed): the connection carries other
    // workers' traffic and must not die for a late frame.
    const raw = await RawClient.connect(server.port);
    const peer = `127.0.0.1:${raw.socket.localPort}`;
    try {
      // onward ["nobody"], return ["app"], payload h''; then onward ["echo"], payload h'6869'.
      raw.write('01 00000013 83 81 82 00 46 6e6f626f6479 81 82 00 43 617070 40');
      raw.write('00000013 83 81 82 00 44 6563686f 81 82 00 43 617070 42 6869');
      const reply = await raw.waitForBytes(1 + 4 + 16);
      expect(reply.includes(Buffer.from('hi'))).toBe(true);
      await waitFor(
        () => server.lines.some((l) => l.fields.peer === peer && /no worker at its address/.test(l.message)),
        'drop log',
      );
      expect(server.lines.some((l) => l.fields.peer === peer && l.message === 'tcp connection closed')).toBe(
        false,
      );
    } finally {
      raw.destroy();
    }
    await goodClientStillServed();
  });

  it('closes a connection that asks us to resolve a transport address', async () => {
    // onward ["1#127.0.0.1:1"]: a node never dials because a remote peer asked it to.
    const hex = '01 00000018 83 81 82 01 4b 3132372e302e302e313a31 81 82 00 43 617070 40';
    expect(await closedWithReason(hex)).toMatch(/must be resolved/);
    await goodClientStillServed();
  });

  it('survives random bytes, with and without a version byte, and keeps serving a good client', async () => {
    // An uncaught exception or unhandled rejection anywhere would fail this run (vitest reports them).
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.uint8Array({ minLength: 0, maxLength: 96 }),
        async (withVersion, bytes) => {
          const raw = await RawClient.connect(server.port);
          raw.write(withVersion ? Buffer.concat([Buffer.of(1), bytes]) : bytes);
          raw.socket.end();
          await raw.waitClosed();
        },
      ),
      { numRuns: 300 },
    );
    await waitFor(() => server.tcp.connections().length === 1, 'only the good connection left');
    await goodClientStillServed();
    expect(server.node.stopped).toBe(false);
  });
});
