import { Address, startEcho } from '@ockam/core';
import { TcpTransport } from '@ockam/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeNegotiationMessage } from '../src/codec.js';
import {
  createPunctureFallback,
  negotiatePuncture,
  rendezvousRoute,
  startPuncture,
  startPunctureNegotiationListener,
  startRendezvousService,
  type UdpPuncture,
} from '../src/index.js';
import { pattern, testNode, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const fast = { heartbeatIntervalMs: 50, closeAfterMs: 600 };

describe('udp puncture on loopback', () => {
  it('opens with ping/pong, carries routed messages both ways, and closes when the peer goes silent', async () => {
    const a = testNode('a');
    const b = testNode('b');
    cleanups.push(
      () => a.stop(),
      () => b.stop(),
    );
    const ba = await a.udp.bind('127.0.0.1:0');
    const bb = await b.udp.bind('127.0.0.1:0');
    const ra = Address.random('remote_a_');
    const rb = Address.random('remote_b_');
    const pa = startPuncture(ba, {
      peerUdpAddress: `127.0.0.1:${bb.localAddress.port}`,
      myRemoteAddress: ra,
      theirRemoteAddress: rb,
      ...fast,
    });
    const pb = startPuncture(bb, {
      peerUdpAddress: `127.0.0.1:${ba.localAddress.port}`,
      myRemoteAddress: rb,
      theirRemoteAddress: ra,
      ...fast,
    });
    await Promise.all([pa.waitForOpen({ timeoutMs: 2_000 }), pb.waitForOpen({ timeoutMs: 2_000 })]);
    startEcho(b.node);
    b.node.flowControls.addConsumer('echo', pb.flowControlId);
    const c = a.node.client();
    a.node.flowControls.addConsumer(c.address, pa.flowControlId);
    for (const n of [1, 1000, 100_000]) {
      const reply = await c.request([pa.senderAddress, 'echo'], pattern(n), { timeoutMs: 3_000 });
      expect(Buffer.compare(reply.payload, pattern(n))).toBe(0);
    }
    expect(pa.stats()).toMatchObject({ payloadsOut: 3, payloadsIn: 3 });
    expect(pb.stats()).toMatchObject({ payloadsOut: 3, payloadsIn: 3 });
    // A service not exposed to the puncture is not reachable through it.
    startEcho(b.node, 'hidden');
    await c.send([pa.senderAddress, 'hidden'], pattern(1));
    await waitFor(
      () => b.lines.some((l) => l.message === 'flow control dropped a message'),
      'flow control drop',
    );

    const closed = pa.closed;
    await pb.stop();
    expect(bb.isOpen).toBe(false); // the puncture owned its bind
    expect(await closed).toBe('timeout');
    expect(ba.isOpen).toBe(false);
    expect(a.node.has(pa.senderAddress)).toBe(false);
    await expect(pa.waitForOpen()).rejects.toThrow(/closed \(timeout\)/);
  });

  it('ignores datagrams to its remote address from anyone but the peer', async () => {
    const a = testNode('a');
    const m = testNode('mallory');
    cleanups.push(
      () => a.stop(),
      () => m.stop(),
    );
    const ba = await a.udp.bind('127.0.0.1:0');
    const pa = startPuncture(ba, {
      peerUdpAddress: '127.0.0.1:9',
      theirRemoteAddress: 'x',
      ...fast,
      closeAfterMs: 5_000,
    });
    const bm = await m.udp.bind('127.0.0.1:0');
    const mc = m.node.client();
    await mc.send(
      [bm.senderAddress, `2#127.0.0.1:${ba.localAddress.port}`, pa.remoteAddress.value],
      Uint8Array.of(0x82, 0x01, 0x80),
    );
    await waitFor(() => pa.stats().wrongPeer === 1, 'wrongPeer');
    expect(pa.isOpen).toBe(false);
    await pa.stop();
  });
});

/** B: TCP listener (the "existing route"), rendezvous, negotiation listener, echo exposed to punctures. */
async function responder() {
  const b = testNode('b');
  cleanups.push(() => b.stop());
  const tcp = new TcpTransport(b.node);
  b.node.registerTransport(tcp);
  const listener = await tcp.listen('127.0.0.1:0');
  const rbind = await b.udp.bind('127.0.0.1:0');
  startRendezvousService(b.node, { exposeTo: [rbind.flowControlId] });
  const rendezvous = rendezvousRoute(`127.0.0.1:${rbind.localAddress.port}`);
  const negotiation = startPunctureNegotiationListener(b.udp, {
    rendezvousRoute: rendezvous,
    consumerOf: [listener.flowControlId],
    bindAddress: '127.0.0.1:0',
    ...fast,
  });
  startEcho(b.node);
  b.node.flowControls.addConsumer('echo', negotiation.flowControlId);
  b.node.flowControls.addConsumer('echo', listener.flowControlId);
  return { ...b, tcp, negotiation, rendezvous, tcpHop: `1#127.0.0.1:${listener.address.port}` };
}

function initiator() {
  const a = testNode('a');
  cleanups.push(() => a.stop());
  const tcp = new TcpTransport(a.node);
  a.node.registerTransport(tcp);
  return { ...a, tcp };
}

describe('puncture negotiation', () => {
  it('negotiates over an existing route, then carries messages over UDP only', async () => {
    const b = await responder();
    const a = initiator();
    const p = await negotiatePuncture(a.udp, {
      route: [b.tcpHop, 'udp'],
      rendezvousRoute: b.rendezvous,
      bindAddress: '127.0.0.1:0',
      ...fast,
    });
    cleanups.push(() => p.stop());
    await p.waitForOpen({ timeoutMs: 3_000 });
    await waitFor(() => b.negotiation.punctures().length === 1, 'responder puncture');
    const pb = b.negotiation.punctures()[0]!;
    expect(pb.peerUdpAddress).toBe(`127.0.0.1:${p.bind.localAddress.port}`);
    expect(p.peerUdpAddress).toBe(`127.0.0.1:${pb.bind.localAddress.port}`);
    const tcpBefore = a.tcp.connections()[0]!.stats().messagesOut;
    const c = a.node.client();
    a.node.flowControls.addConsumer(c.address, p.flowControlId);
    const reply = await c.request([p.senderAddress, 'echo'], pattern(50_000), { timeoutMs: 3_000 });
    expect(reply.payload).toEqual(pattern(50_000));
    expect(a.tcp.connections()[0]!.stats().messagesOut).toBe(tcpBefore);
    expect(pb.stats().payloadsIn).toBe(1);
  });

  it('refuses malformed Initiates and more punctures than allowed', async () => {
    const b = await responder();
    const a = initiator();
    const c = a.node.client();
    const route = await a.node.resolveRoute([b.tcpHop, 'udp']);
    await c.send(route, Uint8Array.of(1, 2, 3));
    await c.send(route, encodeNegotiationMessage({ udpPublicAddress: 'example.com:1', remoteAddress: 'x' }));
    await waitFor(
      () => b.lines.filter((l) => l.message === 'udp puncture negotiation refused').length === 2,
      'refusals',
    );
    expect(b.udp.binds()).toHaveLength(1); // only the rendezvous bind: nothing was started
  });
});

describe('puncture fallback', () => {
  it('uses the relay until a puncture opens, falls back when it dies, and switches back to a new one', async () => {
    const b = await responder();
    const a = initiator();
    const punctures: UdpPuncture[] = [];
    const modes: string[] = [];
    const fb = await createPunctureFallback(a.node, {
      relayRoute: [b.tcpHop],
      punch: async (request) => {
        const p = await negotiatePuncture(a.udp, {
          route: [b.tcpHop, 'udp'],
          rendezvousRoute: b.rendezvous,
          bindAddress: '127.0.0.1:0',
          ...request,
          ...fast,
        });
        punctures.push(p);
        return p;
      },
      retryMs: 200,
      openTimeoutMs: 2_000,
    });
    cleanups.push(() => fb.stop());
    fb.onSwitch((m) => modes.push(m));
    const c = a.node.client();
    a.node.flowControls.addConsumer(c.address, fb.flowControlId);
    const echo = async (n: number): Promise<void> => {
      const reply = await c.request([fb.address, 'echo'], pattern(n, n), { timeoutMs: 3_000 });
      expect(reply.payload).toEqual(pattern(n, n));
    };
    expect(fb.mode).toBe('relay');
    await echo(10);
    await waitFor(() => fb.mode === 'puncture', 'first puncture', 5_000);
    const relayed = fb.stats().viaRelay;
    await echo(20_000);
    expect(fb.stats()).toMatchObject({ viaRelay: relayed, viaPuncture: 1, punctures: 1 });

    // The responder's side of the puncture dies: ours stops hearing pongs and closes.
    await b.negotiation.punctures()[0]!.stop();
    await waitFor(() => fb.mode === 'relay', 'fallback to relay', 5_000);
    await echo(30);
    expect(fb.stats().viaRelay).toBe(relayed + 1);
    await waitFor(() => fb.mode === 'puncture', 'second puncture', 5_000);
    await echo(40);
    expect(fb.stats()).toMatchObject({ punctures: 2, viaPuncture: 2 });
    expect(modes).toEqual(['puncture', 'relay', 'puncture']);
    expect(punctures[0]!.isClosed).toBe(true);
  });

  it('with fallback off, drops messages while there is no puncture', async () => {
    const t = testNode('a');
    cleanups.push(() => t.stop());
    const fb = await createPunctureFallback(t.node, {
      relayRoute: ['echo'],
      punch: () => Promise.reject(new Error('no rendezvous')),
      fallback: false,
      retryMs: 50,
    });
    cleanups.push(() => fb.stop());
    startEcho(t.node);
    await t.node.client().send([fb.address, 'echo'], pattern(1));
    await waitFor(() => fb.stats().dropped === 1 && fb.stats().failures >= 1, 'drop');
    expect(fb.mode).toBe('none');
  });
});
