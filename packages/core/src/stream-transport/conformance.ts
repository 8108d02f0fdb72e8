/**
 * One conformance suite for every stream transport (as js-libp2p's interface compliance tests):
 * a transport package calls `streamTransportConformance(harness)` from its own test folder, and
 * the suite runs the same vitest tests against it, through whatever sockets the harness makes
 * (real ones for TCP and WebSocket, the simulated radio for BLE).
 *
 * Exported from `@ockam/core/testing` only: it imports vitest, which the main entry never does.
 *
 * @example
 * ```ts
 * // packages/transport-tcp/test/conformance.test.ts
 * import { streamTransportConformance } from '@ockam/core/testing';
 * streamTransportConformance({
 *   name: 'tcp',
 *   create: (node, options) => new TcpTransport(node, { idleTimeoutMs: options.idleTimeoutMs, limits: options.limits }),
 *   listen: async (tcp) => { const l = await tcp.listen('127.0.0.1:0'); return { listener: l, hop: `1#127.0.0.1:${l.address.port}` }; },
 *   largePayloadBytes: 4 * 1024 * 1024,
 *   refuseOversized: (hop) => rawOversizedFrame(hop),
 *   backPressure: 'pause',
 * });
 * ```
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Address } from '../address.js';
import type { FlowControlId } from '../flow-control.js';
import type { InboundLimitsOptions, InboundStats } from '../inbound-limits.js';
import { noopLogger } from '../logger.js';
import type { LocalMessage } from '../message.js';
import { Node } from '../node.js';
import { startEcho } from '../services.js';
import type { Transport } from '../transport.js';
import type { StreamCloseInfo } from './stream-connection.js';
import { waitFor as waitUntil } from './test-nodes.js';

const WAIT_MS = 10_000;

const waitFor = (condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> =>
  waitUntil(condition, what, timeoutMs);

/** What the suite reads of a connection. */
export interface ConformanceConnection {
  readonly senderAddress: Address;
  readonly receiverAddress: Address;
  readonly flowControlId: FlowControlId;
  readonly isOpen: boolean;
  readonly closed: Promise<StreamCloseInfo>;
  close(): Promise<StreamCloseInfo>;
}

/** What the suite reads of a listener. */
export interface ConformanceListener {
  readonly flowControlId: FlowControlId;
  readonly isOpen: boolean;
  connections(): readonly ConformanceConnection[];
}

/** What the suite calls on a transport. */
export interface ConformanceTransport extends Transport {
  connections(): readonly ConformanceConnection[];
  listeners(): readonly ConformanceListener[];
  on(
    event: 'close',
    listener: (connection: ConformanceConnection, info: StreamCloseInfo) => void,
  ): () => void;
  inboundStats(): InboundStats;
}

/** Options the suite asks of `create`. */
export interface ConformanceOptions {
  readonly idleTimeoutMs?: number;
  readonly limits?: Pick<InboundLimitsOptions, 'maxConnections'>;
}

export interface StreamTransportHarness<T extends ConformanceTransport> {
  /** Names the suite: `tcp` gives `tcp conforms to the stream transport suite`. */
  readonly name: string;
  /** A transport for `node` (the suite registers it). */
  create(node: Node, options: ConformanceOptions): T;
  /** Starts listening; returns the listener and the route hop clients use (`1#127.0.0.1:4000`). */
  listen(transport: T): Promise<{ listener: ConformanceListener; hop: string }>;
  /** A payload size the transport must carry whole (BLE's packets are small). */
  readonly largePayloadBytes: number;
  /**
   * Sends the listener at `hop`, from a peer of the harness's own (a raw socket), a frame larger
   * than the transport accepts; resolves once the transport refused it (closed that peer, or
   * dropped the frame), rejects if it did not within `timeoutMs`.
   */
  refuseOversized(hop: string, server: T, timeoutMs: number): Promise<void>;
  /**
   * What a receiver that cannot keep up does: `pause` reading (the sender is held back and loses
   * nothing), or `drop` what is over its bound (a radio cannot be paused).
   */
  readonly backPressure: 'pause' | 'drop';
  /** `process.getActiveResourcesInfo()` kinds the transport's sockets show as (`TCPSocketWrap`). */
  readonly resourceKinds?: RegExp;
}

/** Runs the stream transport conformance suite against the transport `harness` makes. */
export function streamTransportConformance<T extends ConformanceTransport>(
  harness: StreamTransportHarness<T>,
): void {
  interface Side {
    node: Node;
    transport: T;
    closes: Array<[ConformanceConnection, StreamCloseInfo]>;
  }
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const side = (name: string, options: ConformanceOptions = {}, mailboxCapacity?: number): Side => {
    const node = new Node({ name, logger: noopLogger, ...(mailboxCapacity ? { mailboxCapacity } : {}) });
    const transport = harness.create(node, options);
    node.registerTransport(transport);
    const closes: Side['closes'] = [];
    transport.on('close', (c, info) => closes.push([c, info]));
    cleanups.push(() => node.stop());
    return { node, transport, closes };
  };
  const server = async (options: ConformanceOptions = {}, mailboxCapacity?: number) => {
    const s = side('server', options, mailboxCapacity);
    const { listener, hop } = await harness.listen(s.transport);
    startEcho(s.node);
    s.node.flowControls.addConsumer('echo', listener.flowControlId);
    return { ...s, listener, hop };
  };
  /** A worker on `node` that keeps what it receives, exposed to `listener`. */
  const collector = (node: Node, listener: ConformanceListener, address = 'collector') => {
    const got: LocalMessage[] = [];
    node.startWorker(address, { handleMessage: (_ctx, m) => void got.push(m.message) });
    node.flowControls.addConsumer(address, listener.flowControlId);
    return got;
  };

  describe(`${harness.name} conforms to the stream transport suite`, () => {
    it('connects to a listener: one connection on each side, the accepted one held by its listener', async () => {
      const s = await server();
      const c = side('client');
      const sender = await c.transport.resolve(addressOf(s.hop));
      expect(c.transport.connections().map((x) => x.senderAddress.value)).toEqual([sender.value]);
      await waitFor(() => s.listener.connections().length === 1, 'the accepted connection');
      expect(s.transport.connections()).toHaveLength(1);
      expect(s.transport.listeners()).toEqual([s.listener]);
      // A second resolve reuses the connection.
      expect((await c.transport.resolve(addressOf(s.hop))).equals(sender)).toBe(true);
    });

    it('round-trips a message to a service exposed to the listener', async () => {
      const s = await server();
      const c = side('client');
      const reply = await c.node.client().request([s.hop, 'echo'], Uint8Array.of(1, 2, 3));
      expect([...reply.payload]).toEqual([1, 2, 3]);
      const [conn] = c.transport.connections();
      expect(reply.returnRoute.toString()).toBe(`0#${conn!.senderAddress.value} => 0#echo`);
    });

    it('carries a large message whole', async () => {
      const s = await server();
      const c = side('client');
      const payload = new Uint8Array(harness.largePayloadBytes);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
      const reply = await c.node.client().request([s.hop, 'echo'], payload, { timeoutMs: 60_000 });
      expect(reply.payload.length).toBe(payload.length);
      expect(Buffer.from(reply.payload).equals(Buffer.from(payload))).toBe(true);
    });

    it('delivers many messages in the order they were sent', async () => {
      const s = await server();
      const got = collector(s.node, s.listener);
      const c = side('client');
      const route = await c.node.resolveRoute([s.hop, 'collector']);
      const sender = c.node.client();
      const n = 300;
      for (let i = 0; i < n; i++) await sender.send(route, Uint8Array.of(i >> 8, i & 0xff));
      await waitFor(() => got.length === n, `${n} messages`);
      expect(got.map((m) => (m.payload[0]! << 8) | m.payload[1]!)).toEqual([...Array(n).keys()]);
    });

    it('reports a connection its peer closed with a close event whose cause is peer', async () => {
      const s = await server();
      const c = side('client');
      await c.transport.resolve(addressOf(s.hop));
      await waitFor(() => s.transport.connections().length === 1, 'the accepted connection');
      const [accepted] = s.transport.connections();
      await c.transport.connections()[0]!.close();
      const info = await accepted!.closed;
      expect(info.cause).toBe('peer');
      await waitFor(() => s.closes.length === 1, 'the close event');
      expect(s.closes[0]![0]).toBe(accepted);
      expect(s.closes[0]![1].cause).toBe('peer');
      expect(s.transport.connections()).toEqual([]);
      expect(s.listener.connections()).toEqual([]);
    });

    it('closes locally: close() resolves with cause local, emits close, and resolve() reconnects', async () => {
      const s = await server();
      const c = side('client');
      const first = await c.transport.resolve(addressOf(s.hop));
      const [conn] = c.transport.connections();
      const info = await conn!.close();
      expect(info.cause).toBe('local');
      expect(conn!.isOpen).toBe(false);
      expect(c.closes.map(([x, i]) => [x, i.cause])).toEqual([[conn, 'local']]);
      expect(c.node.addresses().some((a) => a.equals(first))).toBe(false);
      const second = await c.transport.resolve(addressOf(s.hop));
      expect(second.equals(first)).toBe(false);
      const reply = await c.node.client().request([second, 'echo'], Uint8Array.of(9));
      expect([...reply.payload]).toEqual([9]);
    });

    it('stops and leaves nothing behind: workers, flow controls, sockets, timers', async () => {
      const handles = (): Map<string, number> => {
        const counts = new Map<string, number>();
        for (const r of process.getActiveResourcesInfo())
          if (r === 'Timeout' || harness.resourceKinds?.test(r)) counts.set(r, (counts.get(r) ?? 0) + 1);
        return counts;
      };
      const baseHandles = handles();
      const leaked = (): string[] =>
        [...handles()].filter(([kind, n]) => n > (baseHandles.get(kind) ?? 0)).map(([kind]) => kind);
      const s = side('server', { idleTimeoutMs: 60_000 });
      const c = side('client', { idleTimeoutMs: 60_000 });
      startEcho(s.node);
      const baseline = (x: Side) => ({
        addresses: x.node.addresses().length,
        flow: x.node.flowControls.size,
      });
      const before = [baseline(s), baseline(c)];
      const { listener, hop } = await harness.listen(s.transport);
      s.node.flowControls.addConsumer('echo', listener.flowControlId);
      const client = c.node.client();
      await client.request([hop, 'echo'], Uint8Array.of(1));
      await client.stop();
      await s.transport.stop();
      await c.transport.stop();
      expect(s.transport.connections()).toEqual([]);
      expect(s.transport.listeners()).toEqual([]);
      expect(c.transport.connections()).toEqual([]);
      expect([baseline(s), baseline(c)]).toEqual(before);
      await waitFor(() => leaked().length === 0, 'sockets and timers released').catch(() => {});
      expect(leaked()).toEqual([]);
      await expect(c.transport.resolve(addressOf(hop))).rejects.toThrow(/stopped/);
    });

    it('closes a connection that sees no traffic for the idle timeout, with cause timeout', async () => {
      const s = await server({ idleTimeoutMs: 150 });
      const c = side('client');
      await c.transport.resolve(addressOf(s.hop));
      await waitFor(() => s.closes.length === 1, 'the idle connection to close');
      expect(s.closes[0]![1].cause).toBe('timeout');
      await waitFor(() => c.transport.connections().length === 0, 'the client to see it closed');
    });

    it('keeps a connection with traffic open past the idle timeout', async () => {
      const idleTimeoutMs = 150;
      const s = await server({ idleTimeoutMs });
      const c = side('client', { idleTimeoutMs });
      const client = c.node.client();
      const route = await c.node.resolveRoute([s.hop, 'echo']);
      // Round trips back to back for four idle periods: traffic all along, so nothing closes.
      const start = Date.now();
      let n = 0;
      while (Date.now() - start < 4 * idleTimeoutMs) {
        await client.send(route, Uint8Array.of(n & 0xff));
        expect((await client.receive({ timeoutMs: WAIT_MS })).payload[0]).toBe(n & 0xff);
        n++;
      }
      expect(s.closes).toEqual([]);
      expect(c.closes).toEqual([]);
      expect(c.transport.connections()).toHaveLength(1);
    });

    it('refuses a frame larger than it accepts, and keeps serving other peers', async () => {
      const s = await server();
      await harness.refuseOversized(s.hop, s.transport, WAIT_MS);
      const c = side('client');
      const reply = await c.node.client().request([s.hop, 'echo'], Uint8Array.of(4));
      expect([...reply.payload]).toEqual([4]);
    });

    it('refuses a connection over maxConnections and keeps the ones it holds', async () => {
      const s = await server({ limits: { maxConnections: 1 } });
      const a = side('a');
      const reply = await a.node.client().request([s.hop, 'echo'], Uint8Array.of(1));
      expect([...reply.payload]).toEqual([1]);
      const b = side('b');
      await b.transport.resolve(addressOf(s.hop)).catch(() => undefined);
      await waitFor(() => s.transport.inboundStats().refused === 1, 'the refusal');
      await waitFor(() => b.transport.connections().length === 0, "b's connection to be gone");
      expect(s.listener.connections()).toHaveLength(1);
      const again = await a.node.client().request([s.hop, 'echo'], Uint8Array.of(2));
      expect([...again.payload]).toEqual([2]);
    });

    it('delivers nothing to a worker not exposed to the listener, and keeps the connection', async () => {
      const s = await server();
      const hidden: LocalMessage[] = [];
      s.node.startWorker('hidden', { handleMessage: (_ctx, m) => void hidden.push(m.message) });
      const c = side('client');
      const route = await c.node.resolveRoute([s.hop, 'hidden']);
      await c.node.client().send(route, Uint8Array.of(1));
      // Messages on one connection are routed in order: once echo answered, `hidden`'s was routed.
      const reply = await c.node.client().request([s.hop, 'echo'], Uint8Array.of(2));
      expect([...reply.payload]).toEqual([2]);
      expect(hidden).toEqual([]);
      expect(c.transport.connections()).toHaveLength(1);
    });

    it('holds back what a receiver that cannot keep up is sent, without unbounded buffers', async () => {
      const s = await server({}, 8);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const got: number[] = [];
      s.node.startWorker(
        'slow',
        {
          async handleMessage(_ctx, m) {
            await gate;
            got.push((m.message.payload[0]! << 8) | m.message.payload[1]!);
          },
        },
        { capacity: 4 },
      );
      s.node.flowControls.addConsumer('slow', s.listener.flowControlId);
      const c = side('client', {}, 8);
      const route = await c.node.resolveRoute([s.hop, 'slow']);
      const sender = c.node.client();
      const size = Math.min(harness.largePayloadBytes, 64 * 1024);
      // A transport that pauses is sent far more than it buffers (64 MiB); one that drops, far
      // more messages than it queues.
      const total = harness.backPressure === 'pause' ? Math.ceil((64 * 1024 * 1024) / size) : 300;
      let sent = 0;
      let sendError: unknown;
      const pushing = (async () => {
        for (; sent < total; sent++) {
          const payload = new Uint8Array(size);
          payload[0] = sent >> 8;
          payload[1] = sent & 0xff;
          await sender.send(route, payload);
        }
      })().catch((e: unknown) => {
        sendError = e;
      });
      if (harness.backPressure === 'pause') {
        // The receiver takes nothing: the sender stalls with a bounded amount in flight.
        let last = -1;
        await waitFor(
          () => {
            const stalled = sent === last && sent < total;
            last = sent;
            return stalled;
          },
          'the sender to stall',
          30_000,
        );
        expect(sent).toBeLessThan(total);
        release();
        await pushing;
        expect(sendError).toBeUndefined();
        await waitFor(() => got.length === total, `all ${total} messages`, 60_000);
        expect(got).toEqual([...Array(total).keys()].map((i) => i & 0xffff));
      } else {
        await pushing;
        release();
        // Past its bound the receiver dropped what it could not hold, and the link is still up.
        const reply = await c.node.client().request([s.hop, 'echo'], Uint8Array.of(7), { timeoutMs: 30_000 });
        expect([...reply.payload]).toEqual([7]);
        expect(got.length).toBeLessThan(total);
      }
    });
  });
}

/** The transport address of a route hop (`1#127.0.0.1:4000`). */
function addressOf(hop: string): Address {
  return Address.parse(hop);
}
