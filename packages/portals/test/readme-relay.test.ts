import { Node, Route, startEcho } from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createSecureChannel, createSecureChannelListener } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createInlet,
  createOutlet,
  createRelay,
  type SessionOptions,
  startRelayService,
} from '../src/index.js';
import { capturingLogger, connectTo, httpGetBody, httpTarget, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Short pings, so that several intervals pass quickly: 3 unanswered ones (300 ms) tear a route down. */
const session: SessionOptions = { pingIntervalMs: 100, maxMissedPings: 3 };

function node(name: string): {
  node: Node;
  tcp: TcpTransport;
  lines: ReturnType<typeof capturingLogger>['lines'];
} {
  const { logger, lines } = capturingLogger();
  const n = new Node({ name, logger });
  const tcp = new TcpTransport(n);
  n.registerTransport(tcp);
  cleanups.push(() => n.stop());
  return { node: n, tcp, lines };
}

describe("the README's relay-with-portal set-up", () => {
  it('keeps the portal up past many ping intervals with no echo started by hand, and carries traffic after', async () => {
    const http = await httpTarget('hello through the relay');
    cleanups.push(() => http.stop());
    const vault = createVault('node');

    // r: a TCP listener and the relay service, nothing else (no `echo` started by hand).
    const r = node('r');
    const rListener = await r.tcp.listen('127.0.0.1:0');
    startRelayService(r.node, { consumerOf: [rListener.flowControlId] });
    const relayAt = `1#127.0.0.1:${rListener.address.port}`;

    // o: a secure channel listener at `api`, the outlet exposed to its channels, a relay `o1`.
    const o = node('o');
    const scListener = await createSecureChannelListener(o.node, {
      identity: await createIdentity(vault),
      vault,
    });
    createOutlet(o.node, { to: `127.0.0.1:${http.port}`, consumerOf: [scListener.flowControlId] });
    const relay = await createRelay(o.node, [relayAt], 'o1', { session });
    cleanups.push(() => relay.stop());

    // i: the inlet, whose route is a channel end to end to o through the relay.
    const i = node('i');
    const iIdentity = await createIdentity(vault);
    const inlet = await createInlet(i.node, {
      bind: '127.0.0.1:0',
      session,
      route: async (signal) => {
        const channel = await createSecureChannel(i.node, [relayAt, 'forward_to_o1', 'api'], {
          identity: iIdentity,
          vault,
          signal,
        });
        return {
          route: Route.of(channel.encryptorAddress, 'outlet'),
          flowControlId: channel.flowControlId,
          close: () => channel.close(),
        };
      },
    });
    cleanups.push(() => inlet.stop());
    expect(inlet.status).toBe('up');
    // A client connected before the pings start must survive them too.
    const early = await connectTo(inlet.address.port);
    cleanups.push(() => early.destroy());

    // Ten intervals: without answers the route would have been torn down three times.
    await waitFor(() => inlet.session.stats().pongsReceived >= 10, 'ten answered inlet pings', 20_000);
    await waitFor(() => relay.session.stats().pongsReceived >= 10, 'ten answered relay pings', 20_000);
    expect(inlet.session.stats().connects).toBe(1);
    expect(relay.session.stats().connects).toBe(1);
    expect(inlet.status).toBe('up');
    expect(early.destroyed).toBe(false);
    expect(i.lines.filter((l) => l.message.includes('route is down'))).toEqual([]);

    expect((await httpGetBody(inlet.address.port)).toString()).toBe('hello through the relay');
  });

  it('brings echo only to a node without one, shares it between outlets and stops it with the last', async () => {
    const bare = node('bare');
    const a = createOutlet(bare.node, { address: 'a', to: '127.0.0.1:1' });
    const b = createOutlet(bare.node, { address: 'b', to: '127.0.0.1:1' });
    expect(bare.node.has('echo')).toBe(true);
    await a.stop();
    expect(bare.node.has('echo')).toBe(true);
    await b.stop();
    expect(bare.node.has('echo')).toBe(false);

    const own = node('own');
    const mine = startEcho(own.node);
    const c = createOutlet(own.node, { to: '127.0.0.1:1' });
    await c.stop();
    expect(own.node.has('echo')).toBe(true);
    await mine.stop();
  });
});
