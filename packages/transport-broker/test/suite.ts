/**
 * One suite for both brokers (the transport is one; only the adapter differs): each test file
 * starts one real broker and runs this against it.
 */
import { Address, encodeTransportMessage, LocalMessage, type Node, type RoutedMessage } from '@ockam/core';
import type { SecureChannelListener } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { UdpTransport } from '@ockam/transport-udp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerClient } from '../src/broker-client.js';
import { type BrokerNode, brokerNode, openChannel, requestText, serveChannels, waitFor } from './helpers.js';

export interface SuiteBroker {
  /** `kafka` or `amqp`. */
  readonly kind: 'kafka' | 'amqp';
  /** A new client of the broker (each node has its own). */
  client(): BrokerClient;
  /** Writes raw messages into a topic or queue with a client that is not ours. */
  write(name: string, messages: Uint8Array[]): Promise<void>;
  /**
   * What the broker holds for `name`, read by a client that is not ours (kcat; amqplib's get, for
   * a queue nobody consumes any more): how many messages, and all their bytes.
   */
  readAll(name: string): Promise<{ count: number; bytes: Uint8Array }>;
  restart(): Promise<void>;
}

const te = new TextEncoder();
const includes = (haystack: Uint8Array, needle: string): boolean =>
  Buffer.from(haystack).includes(Buffer.from(needle));

/** A worker that records what reaches it, optionally held back by a gate. */
function collector(node: Node, address: string, exposeTo: string[]) {
  const got: string[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  node.startWorker(address, {
    handleMessage: async (_ctx, { message }: RoutedMessage) => {
      if (gate) await gate;
      got.push(new TextDecoder().decode(message.payload));
    },
  });
  for (const id of exposeTo) node.flowControls.addConsumer(address, id);
  return {
    got,
    hold() {
      gate = new Promise((r) => (open = r));
    },
    release() {
      gate = undefined;
      open?.();
    },
  };
}

export function brokerHopSuite(
  name: string,
  skip: string | undefined,
  start: () => Promise<SuiteBroker & { stop(): Promise<void> }>,
) {
  describe.skipIf(skip !== undefined)(skip === undefined ? name : `${name} (${skip})`, () => {
    let broker: SuiteBroker & { stop(): Promise<void> };
    const nodes: Array<{ stop(): Promise<void> }> = [];
    const t = (kind: 'kafka' | 'amqp') => (kind === 'kafka' ? 16 : 17);

    beforeAll(async () => {
      broker = await start();
    });
    afterAll(async () => {
      for (const n of nodes.reverse()) await n.stop().catch(() => {});
      await broker?.stop();
    });

    const node = async (label: string, inbox: string, o: Parameters<typeof brokerNode>[3] = {}) => {
      const n = await brokerNode(label, broker.client(), inbox, o);
      nodes.push(n);
      return n;
    };

    let a: BrokerNode;
    let b: BrokerNode;
    let bChannels: SecureChannelListener;

    it('runs a secure channel end to end through the broker: echo and uppercase round-trip', async () => {
      a = await node('a', 'ockam.a');
      b = await node('b', 'ockam.b');
      bChannels = await serveChannels(b, [b.inbox.flowControlId]);
      const channel = await openChannel(a, [`${t(broker.kind)}#ockam.b`, 'api']);
      expect(channel.peerIdentifier).toBe(b.identity.identifier);
      expect(await requestText(a.node, channel, 'echo', 'hello through the broker')).toBe(
        'hello through the broker',
      );
      expect(await requestText(a.node, channel, 'uppercase', 'quiet words')).toBe('QUIET WORDS');
      expect(b.broker.stats().routed).toBeGreaterThan(0);
    });

    it('keeps many messages in order', async () => {
      // The sink is exposed only to the channels b's listener accepts.
      const sink = collector(b.node, 'sink', [bChannels.flowControlId]);
      const channel = await openChannel(a, [`${t(broker.kind)}#ockam.b`, 'api']);
      const client = a.node.client();
      const n = 300;
      for (let i = 0; i < n; i++) await client.send([channel.encryptorAddress, 'sink'], te.encode(`m${i}`));
      await client.stop();
      await waitFor(() => sink.got.length === n, `${n} messages at the sink`, 45_000);
      expect(sink.got).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    });

    it('shows the broker only ciphertext', async () => {
      const secret = 'plaintext-that-must-not-leak';
      // A node whose inbox nobody reads once the channel is up, so that its messages stay on the broker.
      const c = await node('c', 'ockam.c');
      await serveChannels(c, [c.inbox.flowControlId]);
      const channel = await openChannel(a, [`${t(broker.kind)}#ockam.c`, 'api']);
      expect(await requestText(a.node, channel, 'echo', secret)).toBe(secret);
      await c.inbox.close();
      const client = a.node.client();
      for (let i = 0; i < 5; i++) await client.send([channel.encryptorAddress, 'echo'], te.encode(secret));
      await client.stop();
      await waitFor(() => a.broker.stats().published >= 5, 'the publishes');
      const stored = await broker.readAll('ockam.c');
      expect(stored.count).toBeGreaterThanOrEqual(5);
      expect(stored.bytes.length).toBeGreaterThan(5 * secret.length);
      expect(includes(stored.bytes, secret)).toBe(false);
    });

    it('drops and counts oversized and garbage messages written into the inbox, and goes on', async () => {
      const d = await node('d', 'ockam.d', { maxMessageBytes: 4096 });
      await serveChannels(d, [d.inbox.flowControlId]);
      const before = d.broker.stats().dropped;
      await broker.write('ockam.d', [
        new Uint8Array(8192).fill(0x41),
        te.encode('not cbor at all'),
        Uint8Array.of(0x9f, 0xff), // an indefinite-length array, which our CBOR refuses
      ]);
      await waitFor(
        () => {
          const s = d.broker.stats().dropped;
          return s.oversize > before.oversize && s.decode >= before.decode + 2;
        },
        'the drops',
        30_000,
      );
      const channel = await openChannel(a, [`${t(broker.kind)}#ockam.d`, 'api']);
      expect(await requestText(a.node, channel, 'echo', 'still here')).toBe('still here');
    });

    it('refuses what the inbox is not exposed to, replies it may not send, and replies over its limit', async () => {
      const idleMs = 2_000;
      const e = await node('e', 'ockam.e', { maxReplySenders: 2, replyIdleMs: idleMs });
      await serveChannels(e, [e.inbox.flowControlId]);
      const hidden: string[] = [];
      e.node.startWorker('hidden', {
        handleMessage: (_c, { message }) => void hidden.push(String(message.payload.length)),
      });
      const raw = (onward: string[], ret: Address[]) =>
        encodeTransportMessage(new LocalMessage(onward, ret, te.encode('x')));
      const type = t(broker.kind);
      // echo is exposed only behind the channel listener, 'hidden' to nothing.
      await broker.write('ockam.e', [
        raw(['hidden'], [new Address(type, 'ockam.attacker')]),
        raw(['echo'], [new Address(type, 'ockam.attacker')]),
        // No reply inbox, a TCP address as reply inbox, a reply inbox outside the prefix.
        raw(['api'], []),
        raw(['api'], [new Address(1, '127.0.0.1:9')]),
        raw(['api'], [new Address(type, 'victim-topic')]),
        // Three reply inboxes for what the inbox does deliver (to the channel listener, which drops
        // the bad handshake later): the first two take both slots, the third is over the limit.
        ...['ockam.r1', 'ockam.r2', 'ockam.r3'].map((r) => raw(['api'], [new Address(type, r)])),
      ]);
      await waitFor(
        () => {
          const s = e.broker.stats().dropped;
          return s.refused + s['no-reply-inbox'] + s['reply-refused'] + s['reply-limit'] >= 6;
        },
        'the refusals',
        30_000,
      );
      // hidden and echo by flow control (the reply sender made for them went again, so it held
      // no slot); ockam.r3 over the limit.
      expect(e.broker.stats().dropped).toMatchObject({
        refused: 2,
        'no-reply-inbox': 2,
        'reply-refused': 1,
        'reply-limit': 1,
      });
      const refusedAt = Date.now();
      expect(hidden).toEqual([]);
      expect(e.broker.stats().published).toBe(0);
      // Both reply slots are held; once they have been idle for replyIdleMs, a new inbox (a's)
      // takes one, and the node serves channels again.
      await waitFor(() => Date.now() - refusedAt > idleMs, 'the reply senders to be idle', 10_000);
      const channel = await openChannel(a, [`${type}#ockam.e`, 'api']);
      expect(await requestText(a.node, channel, 'echo', 'ok')).toBe('ok');
    });

    it('pauses a slow inbox and keeps its queue bounded, then delivers everything', async () => {
      const slow = await node('slow', 'ockam.slow', { maxQueued: 8 });
      const sink = collector(slow.node, 'sink', [slow.inbox.flowControlId]);
      sink.hold();
      const total = 400;
      const payload = (i: number) =>
        encodeTransportMessage(
          new LocalMessage(['sink'], [new Address(t(broker.kind), 'ockam.a')], te.encode(`s${i}`)),
        );
      await broker.write(
        'ockam.slow',
        Array.from({ length: total }, (_, i) => payload(i)),
      );
      await waitFor(
        () => slow.inbox.paused || slow.broker.stats().received > 0,
        'the first deliveries',
        30_000,
      );
      // Held back: the node took only what its bounded queue and mailboxes hold.
      // The sink's mailbox (64) is full, one delivery is being routed, the rest waits in the queue.
      await waitFor(() => slow.inbox.queued >= 7, 'a full queue', 30_000).catch((e) => {
        sink.release();
        throw new Error(
          `${(e as Error).message}: ${JSON.stringify(slow.broker.stats())}, sink ${sink.got.length}`,
        );
      });
      const s = slow.broker.stats();
      expect(s.queuedHighWater).toBeLessThanOrEqual(16);
      expect(s.received).toBeLessThanOrEqual(64 + 16 + 2);
      expect(s.dropped.overflow).toBe(0);
      sink.release();
      await waitFor(() => sink.got.length === total, `${total} messages`, 45_000);
      expect(sink.got).toEqual(Array.from({ length: total }, (_, i) => `s${i}`));
      expect(slow.broker.stats().queuedHighWater).toBeLessThanOrEqual(16);
    });

    it('carries a mixed route A -tcp-> B -broker-> C -udp-> D, a secure channel from A to D', async () => {
      // A: TCP only.
      const nodeA = await brokerNode('mix-a', broker.client(), 'ockam.mix-a');
      nodes.push(nodeA);
      const tcpA = new TcpTransport(nodeA.node);
      nodeA.node.registerTransport(tcpA);
      // B: a TCP listener, and a broker connection to C's inbox exposed to it (the explicit hop).
      const nodeB = await node('mix-b', 'ockam.mix-b');
      const tcpB = new TcpTransport(nodeB.node);
      nodeB.node.registerTransport(tcpB);
      const tcpListener = await tcpB.listen('127.0.0.1:0');
      const hop = await nodeB.broker.connect('ockam.mix-c', { exposeTo: [tcpListener.flowControlId] });
      // C: its inbox, and a UDP bind exposed to the inbox (the explicit hop onward).
      const nodeC = await node('mix-c', 'ockam.mix-c');
      const udpC = new UdpTransport(nodeC.node);
      nodeC.node.registerTransport(udpC);
      const bindC = await udpC.bind('127.0.0.1:0', { exposeTo: [nodeC.inbox.flowControlId] });
      // D: UDP only, the channel listener behind its bind.
      const nodeD = await node('mix-d', 'ockam.mix-d');
      const udpD = new UdpTransport(nodeD.node);
      nodeD.node.registerTransport(udpD);
      const bindD = await udpD.bind('127.0.0.1:0');
      await serveChannels(nodeD, [bindD.flowControlId]);
      // C's explicit hop to D, as `/worker/<hex>` of a UDP connection would be: a forwarder onto
      // the bind toward D, admitting only what the inbox may send there.
      nodeC.node.startWorker('to-d', {
        handleMessage: (ctx, { message }) =>
          ctx.forward(
            message.withOnward(
              message.onwardRoute
                .popFront()
                .prepend(`2#127.0.0.1:${bindD.localAddress.port}`)
                .prepend(bindC.senderAddress),
            ),
          ),
      });
      nodeC.node.flowControls.addConsumer('to-d', nodeC.inbox.flowControlId);
      const route = [`1#127.0.0.1:${tcpListener.address.port}`, hop.senderAddress.value, 'to-d', 'api'];
      const channel = await openChannel(nodeA, route);
      expect(channel.peerIdentifier).toBe(nodeD.identity.identifier);
      for (let i = 0; i < 5; i++)
        expect(await requestText(nodeA.node, channel, 'uppercase', `mixed ${i}`)).toBe(`MIXED ${i}`);
      expect(nodeB.broker.stats().published).toBeGreaterThanOrEqual(6);
      expect(nodeC.broker.stats().published).toBeGreaterThanOrEqual(5);
    });

    it('goes on after a broker restart: later messages arrive, none twice', async () => {
      const sink = collector(b.node, 'after', [bChannels.flowControlId]);
      const channel = await openChannel(a, [`${t(broker.kind)}#ockam.b`, 'api']);
      expect(await requestText(a.node, channel, 'echo', 'before restart')).toBe('before restart');
      const client = a.node.client();
      for (let i = 0; i < 20; i++) await client.send([channel.encryptorAddress, 'after'], te.encode(`b${i}`));
      await waitFor(() => sink.got.length === 20, 'the messages before the restart', 30_000);
      await broker.restart();
      // Reconnection takes a moment: what is sent while the broker is away may be lost (counted
      // as publish-failed); keep sending until one arrives.
      const deadline = Date.now() + 50_000;
      for (let i = 0; !sink.got.some((m) => m.startsWith('a')); i++) {
        if (Date.now() > deadline) throw new Error('no message arrived after the restart');
        await client.send([channel.encryptorAddress, 'after'], te.encode(`a${i}`));
        await waitFor(() => sink.got.some((m) => m.startsWith('a')), 'a message', 500).catch(() => {});
      }
      await client.stop();
      expect(await requestText(a.node, channel, 'echo', 'after restart', 30_000)).toBe('after restart');
      expect(new Set(sink.got).size).toBe(sink.got.length);
    });
  });
}
