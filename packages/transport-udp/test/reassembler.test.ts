import { MAX_MESSAGE_SIZE } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeUdpTransportMessage,
  fragmentRoutingMessage,
  MAX_PAYLOAD_SIZE,
  Reassembler,
} from '../src/codec.js';

const P = '10.0.0.1:4000';
const message = (n: number, seed = 1): Uint8Array => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
const fragment = (routingNumber: number, offset: number, payload: Uint8Array, isLast: boolean): Uint8Array =>
  encodeUdpTransportMessage({ version: 1, routingNumber, offset, isLast, payload });

function feed(r: Reassembler, datagrams: Uint8Array[], peer = P): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const d of datagrams) {
    const whole = r.push(peer, d);
    if (whole) out.push(whole);
  }
  return out;
}

describe('reassembler', () => {
  it('reassembles fragmented messages in order, across the u16 wrap-around', () => {
    const r = new Reassembler();
    const a = message(2000, 1);
    const b = message(1, 2);
    const c = message(493 * 3, 3);
    const out = feed(r, [
      ...fragmentRoutingMessage(a, 0xfffe),
      ...fragmentRoutingMessage(b, 0xffff),
      ...fragmentRoutingMessage(c, 0),
    ]);
    expect(out).toEqual([a, b, c]);
    expect(r.counters).toMatchObject({ messages: 3, late: 0, gaps: 0 });
    expect(r.pendingBytes).toBe(0);
  });

  it('drops a duplicated datagram alone and still completes the message', () => {
    const r = new Reassembler();
    const m = message(1500);
    const [d0, d1, d2, d3] = fragmentRoutingMessage(m, 10);
    expect(feed(r, [d0!, d1!, d1!, d0!, d2!, d3!])).toEqual([m]);
    expect(r.counters.duplicates).toBe(2);
    // A duplicate of a delivered message's last datagram is late.
    expect(feed(r, [d3!])).toEqual([]);
    expect(r.counters.late).toBe(1);
  });

  it('drops a message with a gap (a lost or reordered datagram) and delivers the next one', () => {
    const r = new Reassembler();
    const m = message(1500);
    const [d0, d1, d2, d3] = fragmentRoutingMessage(m, 10);
    const next = message(10, 5);
    expect(feed(r, [d0!, d2!, d1!, d3!, ...fragmentRoutingMessage(next, 11)])).toEqual([next]);
    // d2 is the gap; afterwards number 10 is behind the expected 11, so d1 and d3 are late.
    expect(r.counters).toMatchObject({ gaps: 1, late: 2, messages: 1 });
    expect(r.pendingBytes).toBe(0);
  });

  it('lets a newer routing number supersede a partial message, and drops older numbers', () => {
    const r = new Reassembler();
    const old = fragmentRoutingMessage(message(1000, 1), 5);
    const fresh = message(700, 2);
    expect(feed(r, [old[0]!, ...fragmentRoutingMessage(fresh, 6), old[1]!, old[2]!])).toEqual([fresh]);
    expect(r.counters).toMatchObject({ superseded: 1, late: 2 });
  });

  it('keeps peers apart', () => {
    const r = new Reassembler();
    const a = fragmentRoutingMessage(message(1000, 1), 1);
    const b = fragmentRoutingMessage(message(1000, 2), 1);
    const out: Uint8Array[] = [];
    for (let i = 0; i < a.length; i++) {
      const x = r.push('1.1.1.1:1', a[i]!);
      const y = r.push('2.2.2.2:2', b[i]!);
      if (x) out.push(x);
      if (y) out.push(y);
    }
    expect(out).toEqual([message(1000, 1), message(1000, 2)]);
  });

  it('counts oversized, malformed and unknown-version datagrams and drops them', () => {
    const r = new Reassembler();
    r.push(P, new Uint8Array(509));
    r.push(P, Uint8Array.of(0xff, 0x00));
    r.push(
      P,
      encodeUdpTransportMessage({
        version: 2,
        routingNumber: 1,
        offset: 0,
        isLast: true,
        payload: Uint8Array.of(1),
      }),
    );
    expect(r.counters).toMatchObject({ datagrams: 3, oversized: 1, malformed: 2, messages: 0 });
    expect(r.peers).toBe(0);
  });

  it('enforces the 16 MiB cap without holding more than 16 MiB', () => {
    const r = new Reassembler();
    const chunk = new Uint8Array(MAX_PAYLOAD_SIZE);
    let offset = 0;
    while (offset + MAX_PAYLOAD_SIZE <= MAX_MESSAGE_SIZE) {
      expect(r.push(P, fragment(1, offset, chunk, false))).toBeUndefined();
      offset += MAX_PAYLOAD_SIZE;
    }
    expect(r.pendingBytes).toBe(offset);
    // One more full fragment goes past 16 MiB: the whole message is dropped and its memory freed.
    expect(r.push(P, fragment(1, offset, chunk, true))).toBeUndefined();
    expect(r.counters.tooLarge).toBe(1);
    expect(r.pendingBytes).toBe(0);
    // Exactly 16 MiB is accepted (checked with a small cap to keep the test fast).
    const small = new Reassembler({ maxMessageSize: 1000 });
    expect(feed(small, fragmentRoutingMessage(message(1000), 3))).toHaveLength(1);
    expect(feed(small, fragmentRoutingMessage(message(1001), 4))).toHaveLength(0);
    expect(small.counters.tooLarge).toBe(1);
  });

  it('bounds peers, peers with partial messages, and pending bytes', () => {
    const r = new Reassembler({ maxPeers: 10, maxPendingPeers: 3, maxPendingBytes: 2000 });
    const half = new Uint8Array(400);
    for (let i = 0; i < 50; i++) r.push(`10.0.0.${i}:1`, fragment(1, 0, half, false));
    expect(r.peers).toBe(10);
    expect(r.pendingPeers).toBe(3);
    expect(r.pendingBytes).toBe(1200);
    expect(r.counters.evicted).toBe(47);
    // A big partial pushes out others' partials, oldest first, never past the budget.
    for (let o = 0; o < 1600; o += 400) r.push('10.0.0.200:1', fragment(1, o, half, false));
    expect(r.pendingBytes).toBeLessThanOrEqual(2000);
    // One peer alone cannot exceed it: once nobody else is left to evict, its message is dropped.
    r.push('10.0.0.200:1', fragment(1, 1600, half, false));
    expect(r.pendingBytes).toBe(2000);
    r.push('10.0.0.200:1', fragment(1, 2000, half, false));
    expect(r.pendingBytes).toBeLessThanOrEqual(2000);
    expect(r.counters.tooLarge).toBe(1);
  });

  it('never throws and never holds more than its budgets whatever arrives', () => {
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc
        .record({
          routingNumber: fc.integer({ min: 0, max: 5 }),
          offset: fc.integer({ min: 0, max: 3000 }),
          isLast: fc.boolean(),
          payload: fc.uint8Array({ maxLength: MAX_PAYLOAD_SIZE }),
        })
        .map((m) => encodeUdpTransportMessage({ version: 1, ...m })),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), datagram), { maxLength: 200 }),
        (items) => {
          const r = new Reassembler({
            maxPeers: 8,
            maxPendingPeers: 4,
            maxPendingBytes: 4000,
            maxMessageSize: 3000,
          });
          for (const [peer, d] of items) {
            const whole = r.push(`p${peer}`, d);
            if (whole) expect(whole.length).toBeLessThanOrEqual(3000);
            expect(r.peers).toBeLessThanOrEqual(8);
            expect(r.pendingPeers).toBeLessThanOrEqual(4);
            expect(r.pendingBytes).toBeLessThanOrEqual(4000);
          }
          const c = r.counters;
          expect(c.datagrams).toBe(items.length);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('delivers every message of a sequence whose datagrams arrive in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 10 }),
        (start, sizes) => {
          const r = new Reassembler();
          const msgs = sizes.map((n, i) => message(n, i));
          const out = feed(
            r,
            msgs.flatMap((m, i) => fragmentRoutingMessage(m, (start + i) & 0xffff)),
          );
          expect(out).toEqual(msgs);
        },
      ),
      { numRuns: 40 },
    );
  });
});
