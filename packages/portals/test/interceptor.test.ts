import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { Address, type IncomingAccessControl, Route, startEcho, TCP } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener } from '@ockam/secure-channel';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionInterceptor,
  createInlet,
  createOutlet,
  startInletInterceptor,
  startOutletInterceptor,
} from '../src/index.js';
import { collect, connectTo, echoTarget, sha256, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

/** Passes bytes through and counts them; `failOn` makes a request containing it throw. */
function counting(
  seen: { requests: number[]; responses: number[] },
  failOn?: string,
): () => ConnectionInterceptor {
  return () => ({
    request: async (chunk) => {
      seen.requests.push(chunk.length);
      if (failOn !== undefined && Buffer.from(chunk).includes(failOn)) throw new Error('refused by the test');
      return { forward: chunk, reply: EMPTY };
    },
    response: async (chunk) => {
      seen.responses.push(chunk.length);
      return chunk;
    },
  });
}

/**
 * Two nodes: an inlet node (inlet → inlet-side interceptor `kafka_inlet`) and an outlet node
 * (`kafka_interceptor` → outlet `kafka_bootstrap` → an echo server), over a secure channel.
 */
async function topology(
  inletSide: () => ConnectionInterceptor,
  outletSide: () => ConnectionInterceptor,
  outletIncoming?: IncomingAccessControl,
  inletIncoming?: IncomingAccessControl,
) {
  const echo = await echoTarget();
  cleanups.push(() => echo.stop());
  const vault = createVault('node');
  const o = testNode('outlet-node');
  cleanups.push(() => o.node.stop());
  const listener = await o.tcp.listen('127.0.0.1:0');
  const sc = await createSecureChannelListener(o.node, {
    identity: await createIdentity(vault),
    vault,
    consumerOf: [listener.flowControlId],
  });
  startEcho(o.node);
  o.node.flowControls.addConsumer('echo', sc.flowControlId);
  const outletInterceptor = startOutletInterceptor(o.node, {
    address: 'kafka_interceptor',
    create: outletSide,
    consumerOf: [sc.flowControlId],
    ...(outletIncoming ? { incoming: outletIncoming } : {}),
  });
  const outlet = createOutlet(o.node, {
    address: 'kafka_bootstrap',
    to: `127.0.0.1:${echo.port}`,
    consumerOf: [sc.flowControlId],
    lingerMs: 20,
  });
  cleanups.push(() => outlet.stop());

  const i = testNode('inlet-node');
  cleanups.push(() => i.node.stop());
  const identity = await createIdentity(vault);
  const inletInterceptor = startInletInterceptor(i.node, {
    address: 'kafka_inlet',
    create: inletSide,
    ...(inletIncoming ? { incoming: inletIncoming } : {}),
  });
  const inlet = await createInlet(i.node, {
    bind: '127.0.0.1:0',
    lingerMs: 20,
    route: async (signal) => {
      const channel = await createSecureChannel(i.node, [`1#127.0.0.1:${listener.address.port}`, 'api'], {
        identity,
        vault,
        signal,
      });
      return {
        route: Route.of('kafka_inlet', channel.encryptorAddress, 'kafka_interceptor', 'kafka_bootstrap'),
        pingRoute: Route.of(channel.encryptorAddress, 'echo'),
        flowControlId: channel.flowControlId,
        close: () => channel.close(),
      };
    },
  });
  cleanups.push(() => inlet.stop());
  return { inlet, outlet, inletInterceptor, outletInterceptor, o, i, listener };
}

describe('portal interceptors', () => {
  it('carry 3 MiB each way through both sides over a secure channel, in payloads of at most 48 KiB', async () => {
    const inletSeen = { requests: [] as number[], responses: [] as number[] };
    const outletSeen = { requests: [] as number[], responses: [] as number[] };
    const t = await topology(counting(inletSeen), counting(outletSeen));
    expect(t.inlet.status).toBe('up');
    const client = await connectTo(t.inlet.address.port);
    const bulk = randomBytes(3 * 1024 * 1024);
    const received = collect(client);
    client.end(bulk);
    const { data } = await received;
    expect(sha256(data)).toBe(sha256(bulk));
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(inletSeen.requests)).toBe(bulk.length);
    expect(sum(inletSeen.responses)).toBe(bulk.length);
    expect(sum(outletSeen.requests)).toBe(bulk.length);
    expect(sum(outletSeen.responses)).toBe(bulk.length);
    expect(Math.max(...inletSeen.requests, ...outletSeen.responses)).toBeLessThanOrEqual(48 * 1024);
    await waitFor(
      () => t.inletInterceptor.connections() === 0 && t.outletInterceptor.connections() === 0,
      'closed',
    );
  });

  it('send what an interceptor returns: rewritten bytes on, a reply back to the client, nothing for an empty result', async () => {
    const inletSide = (): ConnectionInterceptor => ({
      request: async (chunk) => {
        const text = Buffer.from(chunk).toString();
        if (text.startsWith('local:')) return { forward: EMPTY, reply: utf8.encode(`answered ${text}`) };
        return { forward: utf8.encode(text.toUpperCase()), reply: EMPTY };
      },
      response: async (chunk) => utf8.encode(`[${Buffer.from(chunk).toString()}]`),
    });
    const passThrough = counting({ requests: [], responses: [] });
    const t = await topology(inletSide, passThrough);
    const client = await connectTo(t.inlet.address.port);
    const read = (s: Socket) =>
      new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString())));
    let next = read(client);
    client.write('hello');
    expect(await next).toBe('[HELLO]');
    next = read(client);
    client.write('local:ping');
    expect(await next).toBe('answered local:ping');
    client.destroy();
  });

  it('close the client connection, and the outlet side, when an interceptor fails (Ockam leaves the client waiting)', async () => {
    const t = await topology(
      counting({ requests: [], responses: [] }, 'poison'),
      counting({ requests: [], responses: [] }),
    );
    const client = await connectTo(t.inlet.address.port);
    const first = new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(d.toString())));
    client.write('fine');
    expect(await first).toBe('fine');
    await waitFor(() => t.outlet.connections() === 1, 'outlet connection open');
    const received = collect(client);
    client.write('poison');
    const { data } = await received;
    // Closed without the poisoned bytes ever reaching the service (the echo would have sent them back).
    expect(data.toString()).toBe('');
    await waitFor(() => t.outlet.connections() === 0, 'outlet side closed');
    await waitFor(
      () => t.inletInterceptor.connections() === 0 && t.outletInterceptor.connections() === 0,
      'interceptors released',
    );
    expect(t.i.lines.some((l) => l.message.includes('interception failed'))).toBe(true);
  });

  it('answer a Ping beyond the connection cap with Disconnect, so the client is closed at once', async () => {
    const t = await topology(
      counting({ requests: [], responses: [] }),
      counting({ requests: [], responses: [] }),
    );
    await t.inletInterceptor.stop();
    const capped = startInletInterceptor(t.i.node, {
      address: 'kafka_inlet',
      create: counting({ requests: [], responses: [] }),
      maxConnections: 1,
    });
    cleanups.push(() => capped.stop());
    const one = await connectTo(t.inlet.address.port);
    const reply = new Promise<string>((resolve) => one.once('data', (d: Buffer) => resolve(d.toString())));
    one.write('one');
    expect(await reply).toBe('one');
    const two = await connectTo(t.inlet.address.port);
    const closed = collect(two);
    const started = performance.now();
    const { data } = await closed;
    expect(data.length).toBe(0);
    expect(performance.now() - started).toBeLessThan(15_000); // not the inlet's 20 s Pong timeout
    one.destroy();
  });

  it('admit only the flows and peers the outlet would: the policy sees the channel peer, and a refusal closes the client at once', async () => {
    const peers: (string | undefined)[] = [];
    let allow = true;
    const t = await topology(
      counting({ requests: [], responses: [] }),
      counting({ requests: [], responses: [] }),
      {
        isAuthorized: (m) => {
          peers.push(m.message.localInfo.secureChannelIdentifier);
          return allow;
        },
      },
    );
    const ok = await connectTo(t.inlet.address.port);
    const reply = new Promise<string>((resolve) => ok.once('data', (d: Buffer) => resolve(d.toString())));
    ok.write('allowed');
    expect(await reply).toBe('allowed');
    expect(peers.length).toBeGreaterThan(0);
    expect(peers.every((p) => p?.startsWith('I'))).toBe(true);
    ok.destroy();

    allow = false;
    const refused = await connectTo(t.inlet.address.port);
    const started = performance.now();
    const { data } = await collect(refused);
    expect(data.length).toBe(0);
    expect(performance.now() - started).toBeLessThan(15_000);

    // A Ping straight off the TCP connection (no channel) is not even delivered: flow control.
    allow = true;
    const before = peers.length;
    const direct = await t.i.tcp.resolve(new Address(TCP, `127.0.0.1:${t.listener.address.port}`));
    const client = t.i.node.client();
    cleanups.push(() => client.stop());
    await client.send(Route.of(direct, 'kafka_interceptor', 'kafka_bootstrap'), Uint8Array.of(0));
    await waitFor(
      () => t.o.lines.some((l) => l.message.includes('flow control dropped a message')),
      'the outlet node drops the Ping',
    );
    expect(peers.length).toBe(before);
  });

  it("on the inlet side, apply the inlet's policy to what comes back from the outlet's node, not to the local inlet's Ping", async () => {
    const checked: (string | undefined)[] = [];
    let allow = true;
    const t = await topology(
      counting({ requests: [], responses: [] }),
      counting({ requests: [], responses: [] }),
      undefined,
      {
        isAuthorized: (m) => {
          const peer = m.message.localInfo.secureChannelIdentifier;
          checked.push(peer);
          return allow && peer !== undefined;
        },
      },
    );
    const client = await connectTo(t.inlet.address.port);
    const reply = new Promise<string>((resolve) => client.once('data', (d: Buffer) => resolve(d.toString())));
    client.write('through');
    expect(await reply).toBe('through');
    expect(checked.length).toBeGreaterThan(0);
    expect(checked.every((p) => p?.startsWith('I'))).toBe(true);
    client.destroy();

    // The outlet's node refused: the client is closed at once, not after the 20 s Pong timeout.
    allow = false;
    const refused = await connectTo(t.inlet.address.port);
    const started = performance.now();
    refused.write('refused');
    expect((await collect(refused)).data.length).toBe(0);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
