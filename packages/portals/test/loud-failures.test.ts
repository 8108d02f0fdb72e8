/**
 * Inlets and relays that wait on a connection learn at once when it closes, and their timeouts say
 * where they waited and what to check. Real TCP sockets on 127.0.0.1.
 */
import { createServer, type Socket } from 'node:net';
import { OckamError } from '@ockam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createInlet, createRelay } from '../src/index.js';
import { closeServer, collect, connectTo, listeningNode, listenOn, testNode } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP peer that takes the first frame it is sent and hangs up, as a crashing node would. */
async function hangingUpPeer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => socket.destroy());
  });
  const port = await listenOn(server);
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return closeServer(server);
  });
  return port;
}

describe('waiting on a connection that closes', () => {
  it('a relay registration fails as soon as its connection closes, not at its timeout', async () => {
    const port = await hangingUpPeer();
    const o = testNode('registrant');
    cleanups.push(() => o.node.stop());
    const error = await createRelay(o.node, [`1#127.0.0.1:${port}`], 'o1', {
      exposeTo: [],
      registrationTimeoutMs: 120_000,
      session: { connectTimeoutMs: 120_000 },
    }).catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'io', 'application')).toBe(true);
    expect((error as Error).message).toMatch(
      /Relay registration of 'o1' along .*forwarding_service failed: .*closed before the relay node answered/,
    );
  });

  it("an inlet's client is closed as soon as the route's connection closes, not after the Pong timeout", async () => {
    const port = await hangingUpPeer();
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${port}`, 'outlet'],
      pongTimeoutMs: 120_000,
      lingerMs: 20,
    });
    cleanups.push(() => inlet.stop());
    const { data } = await collect(await connectTo(inlet.address.port));
    expect(data.length).toBe(0);
  });
});

describe('timeouts that say what to check', () => {
  it('a relay registration nobody answers names the route and the relay service to check', async () => {
    // A node that listens but runs no relay service: the registration is dropped there.
    const r = await listeningNode('not-a-relay');
    cleanups.push(() => r.node.stop());
    const o = testNode('registrant');
    cleanups.push(() => o.node.stop());
    const error = await createRelay(o.node, [`1#127.0.0.1:${r.port}`], 'o1', {
      exposeTo: [],
      registrationTimeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(OckamError.isKind(error, 'timeout')).toBe(true);
    expect((error as Error).message).toMatch(
      /Relay registration of 'o1' along 0#tcp_sender_\w+ => 0#forwarding_service got no answer within 300 ms: check that the node at the end of the route runs a relay service at 'forwarding_service'/,
    );
  });

  it('an inlet whose Ping nobody answers logs the route and the outlet to check', async () => {
    const o = await listeningNode('no-outlet');
    cleanups.push(() => o.node.stop());
    const i = testNode('inlet-node');
    cleanups.push(() => i.node.stop());
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      route: [`1#127.0.0.1:${o.port}`, 'outlet'],
      pongTimeoutMs: 300,
      lingerMs: 20,
    });
    cleanups.push(() => inlet.stop());
    await collect(await connectTo(inlet.address.port));
    const failed = i.lines.find((l) => l.message === 'tcp inlet could not open a portal connection');
    expect(failed?.fields.error).toMatch(
      /No Pong from the outlet within 300 ms along 0#tcp_sender_\w+ => 0#outlet: check the outlet's address/,
    );
  });
});
