/**
 * What a listener spends on msg1 from peers nobody has authenticated yet (PROTOCOL.md §3.1,
 * §3.5): pending handshakes capped in total and per connection, short responder timeouts that
 * give everything back, and log lines written once per reason and interval.
 *
 * A "connection" here is a producer worker with its own flow-control id, spawned by a transport
 * id the listener consumes, that delivers msg1 with that id in local info: what a TCP, WebSocket
 * or UDP receiver does (the attack suite drives the same limits through a real TCP listener).
 */
import { randomBytes } from 'node:crypto';
import {
  Address,
  type AddressLike,
  LocalMessage,
  type LocalMessage as LocalMessageType,
  type LogLine,
  Node,
  recordingLogger,
} from '@ockam/core';
import { createIdentity } from '@ockam/identity';
import { createVault } from '@ockam/vault';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PendingHandshakes } from '../src/internal/pending-handshakes.js';
import { createSecureChannel } from '../src/secure-channel.js';
import {
  createSecureChannelListener,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION,
  DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS,
  type SecureChannelListenerOptions,
} from '../src/secure-channel-listener.js';
import { ledger } from './helpers.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A node with a listener at `api` that accepts msg1 from connections spawned by `transportId`. */
async function listening(options: Partial<SecureChannelListenerOptions> = {}) {
  const { logger, lines } = recordingLogger('debug');
  const node = new Node({ name: 'bob', logger });
  cleanups.push(() => node.stop());
  const counted = ledger(createVault('node'));
  const bob = await createIdentity(counted.vault);
  const transportId = node.flowControls.generateId();
  const listener = await createSecureChannelListener(node, {
    identity: bob,
    vault: counted.vault,
    consumerOf: [transportId],
    ...options,
  });
  cleanups.push(() => listener.stop());
  // Key generations from here on (the identity's secure-channel purpose key came before).
  const before = counted.generated();
  const generated = () => counted.generated() - before;
  return { node, lines, listener, transportId, counted, generated };
}

/** One stand-in transport connection (see the file comment). */
function connection(node: Node, spawnerId: string) {
  const address = Address.random('conn_');
  const id = node.flowControls.generateId();
  const received: LocalMessageType[] = [];
  node.startWorker(address, {
    async handleMessage(_ctx, { message }) {
      received.push(message);
    },
  });
  node.flowControls.addProducer(address, id, spawnerId);
  const send = (onward: AddressLike[], payload: Uint8Array, ret: AddressLike[] = [address]) =>
    node.route(address, new LocalMessage(onward, ret, payload, { flowControlId: id }));
  return {
    id,
    received,
    send,
    /** msg1: a fresh ephemeral public key (any 32 bytes do) and Ockam's empty payload. */
    msg1: () => send(['api'], randomBytes(32)),
  };
}

function lines(all: LogLine[], message: string): LogLine[] {
  return all.filter((l) => l.message === message);
}

describe('secure channel listener limits', () => {
  it('documents its defaults: 10 s for a responder, 256 unfinished handshakes, 32 per connection', () => {
    expect(DEFAULT_RESPONDER_HANDSHAKE_TIMEOUT_MS).toBe(10_000);
    expect(DEFAULT_MAX_PENDING_HANDSHAKES).toBe(256);
    expect(DEFAULT_MAX_PENDING_HANDSHAKES_PER_CONNECTION).toBe(32);
  });

  it('starts at most maxPendingHandshakesPerConnection responders for one connection and logs the drops once, with a count', async () => {
    const t = await listening({ maxPendingHandshakesPerConnection: 4 });
    const flood = connection(t.node, t.transportId);
    for (let i = 0; i < 20; i++) await flood.msg1();
    await until(() => flood.received.length === 4 && t.listener.droppedHandshakes === 16, 'four msg2');
    expect(t.listener.pendingHandshakes).toBe(4);
    expect(t.generated()).toBe(4);
    // Another connection still gets its handshake.
    const other = connection(t.node, t.transportId);
    await other.msg1();
    await until(() => other.received.length === 1, 'msg2 on another connection');
    const drops = () => lines(t.lines, 'secure channel listener dropped a msg1');
    expect(drops()).toHaveLength(1);
    expect(drops()[0]!.fields).toMatchObject({ reason: 'cap:connection', connection: flood.id });
    await t.listener.stop();
    expect(drops().map((l) => l.fields.suppressed)).toEqual([undefined, 15]);
  });

  it('lets a connection with fewer handshakes evict the busiest one when every slot is taken, and drops msg1 from equally busy ones', async () => {
    const t = await listening({ maxPendingHandshakes: 8, maxPendingHandshakesPerConnection: 6 });
    const a = connection(t.node, t.transportId);
    const b = connection(t.node, t.transportId);
    for (let i = 0; i < 6; i++) await a.msg1();
    for (let i = 0; i < 2; i++) await b.msg1();
    await until(() => a.received.length === 6 && b.received.length === 2, 'eight msg2');
    expect(t.listener.pendingHandshakes).toBe(8);
    // b holds 2 of the 8, a holds 6: b's third msg1 evicts a's oldest handshake.
    await b.msg1();
    await until(() => b.received.length === 3, "b's third msg2");
    expect(t.listener.pendingHandshakes).toBe(8);
    const evicted = () =>
      lines(t.lines, 'secure channel handshake failed').filter((l) => /evicted/.test(String(l.fields.error)));
    await until(() => evicted().length === 1, 'the eviction to be logged');
    // a 5, b 3: b evicts once more; at a 4, b 4 neither is two below the other, so both are dropped.
    await b.msg1();
    await until(() => b.received.length === 4, "b's fourth msg2");
    await b.msg1();
    await a.msg1();
    await until(() => t.listener.droppedHandshakes === 2, 'the listener-wide drops');
    const drops = lines(t.lines, 'secure channel listener dropped a msg1');
    expect(drops.map((l) => l.fields.reason)).toEqual(['cap:listener']);
    expect(a.received.length + b.received.length).toBe(10);
    expect(t.listener.pendingHandshakes).toBe(8);
    // A legitimate initiator on another connection (here, this node) still gets its channel.
    const aliceVault = createVault('node');
    const channel = await createSecureChannel(t.node, ['api'], {
      identity: await createIdentity(aliceVault),
      vault: aliceVault,
    });
    await until(() => t.listener.channels.size === 1, 'the responder to open');
    // Its slot (taken from a) is free again once its channel is open.
    expect(t.listener.pendingHandshakes).toBe(7);
    await channel.close();
  });

  it('times out a responder that gets no msg3 and gives back its workers, flow-control entries and vault secrets', async () => {
    const t = await listening({ timeoutMs: 200 });
    const conn = connection(t.node, t.transportId);
    const addresses = t.node.addresses().length;
    const flows = t.node.flowControls.size;
    const secrets = t.counted.live();
    for (let i = 0; i < 3; i++) await conn.msg1();
    await until(() => conn.received.length === 3, 'three msg2');
    expect(t.node.addresses().length).toBe(addresses + 6);
    expect(t.counted.live()).toBeGreaterThan(secrets);
    await until(() => t.listener.pendingHandshakes === 0, 'the handshakes to time out');
    await until(() => t.node.addresses().length === addresses, 'the responders to stop');
    expect(t.node.flowControls.size).toEqual(flows);
    await until(() => t.counted.live() === secrets, 'every secret to be deleted');
    const failed = lines(t.lines, 'secure channel handshake failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.fields.error).toMatch(/did not complete within 200 ms/);
    await t.listener.stop();
    expect(lines(t.lines, 'secure channel handshake failed').map((l) => l.fields.suppressed)).toEqual([
      undefined,
      2,
    ]);
  });

  it('keeps the slot of a handshake that failed early until its deadline, so failing fast buys no more responders', async () => {
    const t = await listening({ maxPendingHandshakesPerConnection: 2, timeoutMs: 300 });
    const conn = connection(t.node, t.transportId);
    const addresses = t.node.addresses().length;
    await conn.msg1();
    await conn.msg1();
    await until(() => conn.received.length === 2, 'two msg2');
    // A garbage msg3 to each responder's decryptor (msg2 came from it): both fail at once.
    for (const msg2 of conn.received.splice(0))
      await conn.send(msg2.returnRoute.addresses, new Uint8Array(64));
    await until(() => t.node.addresses().length === addresses, 'the failed responders to stop');
    expect(t.listener.pendingHandshakes).toBe(2);
    await conn.msg1();
    await until(() => t.listener.droppedHandshakes === 1, 'msg1 to be dropped');
    expect(t.generated()).toBe(2);
    // Once the deadline passed, the connection may start handshakes again.
    await until(() => t.listener.pendingHandshakes === 0, 'the slots to expire');
    await conn.msg1();
    await until(() => conn.received.length === 1, 'msg2 after the deadline');
  });

  it('drops what cannot be a msg1 before generating a key: too short, too long, no return route', async () => {
    const t = await listening();
    const conn = connection(t.node, t.transportId);
    const addresses = t.node.addresses().length;
    await conn.send(['api'], new Uint8Array(31));
    await conn.send(['api'], new Uint8Array(65_536));
    await conn.send(['api'], new Uint8Array(32), []);
    await until(() => t.listener.droppedHandshakes === 3, 'three drops');
    expect(t.generated()).toBe(0);
    expect(t.node.addresses().length).toBe(addresses);
    const drops = lines(t.lines, 'secure channel listener dropped a msg1');
    expect(drops.map((l) => l.fields.reason)).toEqual(['malformed']);
  });

  it('stops its unfinished handshakes when it stops', async () => {
    const t = await listening();
    const conn = connection(t.node, t.transportId);
    const addresses = t.node.addresses().length;
    await conn.msg1();
    await until(() => conn.received.length === 1, 'msg2');
    await t.listener.stop();
    await until(() => t.node.addresses().length === addresses - 1, 'the responder and the listener to stop');
    expect(t.listener.pendingHandshakes).toBe(0);
  });
});

describe('pending handshake slots', () => {
  it('refuses per connection first, then per listener, and frees failed slots only at their deadline', () => {
    let now = 0;
    const pending = new PendingHandshakes({ max: 3, maxPerConnection: 2, timeoutMs: 100, now: () => now });
    const a1 = pending.admit('a');
    const a2 = pending.admit('a');
    expect(pending.admit('a')).toBe('connection');
    const b1 = pending.admit('b');
    expect(pending.admit('b')).toBe('listener'); // b's 1 + 1 is not below a's 2
    if (typeof a1 === 'string' || typeof a2 === 'string' || typeof b1 === 'string')
      throw new Error('refused');
    pending.opened(a1);
    expect(pending.size).toBe(2);
    pending.failed(b1);
    expect(pending.size).toBe(2);
    now = 99;
    expect(pending.size).toBe(2);
    now = 100;
    expect(pending.size).toBe(1);
    expect(pending.admit('b')).not.toBe('listener');
  });

  it('evicts the oldest handshake of the busiest connection for a connection two or more below it', () => {
    const pending = new PendingHandshakes({ max: 4, maxPerConnection: 4, timeoutMs: 100 });
    const stopped: number[] = [];
    for (let i = 0; i < 4; i++) {
      const slot = pending.admit('a');
      if (typeof slot === 'string') throw new Error('refused');
      slot.stop = () => stopped.push(i);
    }
    expect(pending.admit('b')).not.toBe('listener');
    expect(stopped).toEqual([0]);
    expect(pending.admit('b')).not.toBe('listener'); // b 1 + 1 < a 3
    expect(stopped).toEqual([0, 1]);
    expect(pending.admit('b')).toBe('listener'); // b 2 + 1 is not below a 2
    expect(pending.size).toBe(4);
  });

  it('refuses limits that are not whole numbers of at least 1', () => {
    expect(() => new PendingHandshakes({ max: 0, maxPerConnection: 1, timeoutMs: 1 })).toThrow(RangeError);
    expect(() => new PendingHandshakes({ max: 1, maxPerConnection: 1.5, timeoutMs: 1 })).toThrow(RangeError);
    expect(() => new PendingHandshakes({ max: 1, maxPerConnection: 1, timeoutMs: Number.NaN })).toThrow(
      RangeError,
    );
  });
});
