import { LocalMessage, OckamError } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  characteristicValueLength,
  decodeBleMessage,
  encodeBleMessage,
  encodeLengthHeader,
  fragmentPacket,
  MAX_DECLARED_LENGTH,
  MAX_OCKAM_MESSAGE_LENGTH,
  OCKAM_BLE_READ_UUID,
  OCKAM_BLE_SERVICE_UUID,
  OCKAM_BLE_WRITE_UUID,
  PacketReassembler,
} from '../src/index.js';

const MTUS = [23, 185, 512];

function reassemble(writes: Uint8Array[], r = new PacketReassembler()): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const w of writes) {
    const p = r.push(w);
    if (p) out.push(p);
  }
  return out;
}

describe('BLE framing (PROTOCOL.md §2.3)', () => {
  it('keeps the constants and GATT UUIDs of ockam_transport_ble', () => {
    expect(characteristicValueLength(23)).toBe(18);
    expect(MAX_OCKAM_MESSAGE_LENGTH).toBe(1024);
    expect(MAX_DECLARED_LENGTH).toBe(131072);
    expect(OCKAM_BLE_SERVICE_UUID).toBe('424c001f-48f6-5fff-bc3e-84e00c335dbb');
    expect(OCKAM_BLE_READ_UUID).toBe('bc911b36-320c-5d3f-90ed-842a6e57cefb');
    expect(OCKAM_BLE_WRITE_UUID).toBe('18c90ff2-8d94-5f20-8084-c16ae3f6a9a2');
  });

  it('sends the length as an 8-byte big-endian write first', () => {
    expect([...encodeLengthHeader(1024)]).toEqual([0, 0, 0, 0, 0, 0, 4, 0]);
    const writes = fragmentPacket(new Uint8Array(40), 23);
    expect([...writes[0]!]).toEqual([0, 0, 0, 0, 0, 0, 0, 40]);
    expect(writes.slice(1).map((w) => w.length)).toEqual([18, 18, 4]);
  });

  for (const mtu of MTUS) {
    it(`cuts fragments of MTU − 5 = ${mtu - 5} bytes at MTU ${mtu}, at and around the boundaries`, () => {
      const c = mtu - 5;
      for (const len of [1, 7, 9, c - 1, c, c + 1, 2 * c, 2 * c + 1, 1023, 1024]) {
        if (len > 1024) continue;
        const packet = Uint8Array.from({ length: len }, (_, i) => i & 255);
        const writes = fragmentPacket(packet, mtu);
        const data = writes.slice(1);
        expect(data.reduce((n, w) => n + w.length, 0)).toBe(len);
        for (const w of data) {
          expect(w.length).toBeLessThanOrEqual(c);
          expect(w.length).toBeLessThanOrEqual(mtu - 3);
          expect(w.length).not.toBe(8);
        }
        // All but the last are full, except where an 8-byte tail was split (see framing.ts).
        if (len % c !== 8) expect(data.slice(0, -1).every((w) => w.length === c)).toBe(true);
        expect(reassemble(writes)).toEqual([packet]);
      }
    });
  }

  it('never writes an 8-byte data fragment: an 8-byte tail becomes MTU − 6 and 9 bytes', () => {
    expect(
      fragmentPacket(new Uint8Array(26), 23)
        .slice(1)
        .map((w) => w.length),
    ).toEqual([17, 9]);
    expect(
      fragmentPacket(new Uint8Array(8), 23)
        .slice(1)
        .map((w) => w.length),
    ).toEqual([7, 1]);
    expect(
      fragmentPacket(new Uint8Array(188), 185)
        .slice(1)
        .map((w) => w.length),
    ).toEqual([179, 9]);
  });

  it('refuses to send messages over 1024 bytes', () => {
    const big = new LocalMessage(['echo'], ['app'], new Uint8Array(1020));
    expect(() => encodeBleMessage(big)).toThrow(/Cannot send BLE message: length 10\d\d exceeds 1024/);
    expect(() => fragmentPacket(new Uint8Array(1025))).toThrow(/expected 1..1024/);
    expect(() => fragmentPacket(new Uint8Array(10), 22)).toThrow(RangeError);
  });

  it('rejects declared lengths over the buffer, over 2 << 16, or zero, and resynchronises', () => {
    const drops: string[] = [];
    const r = new PacketReassembler({ onDrop: (reason) => drops.push(reason) });
    for (const len of [1025, MAX_DECLARED_LENGTH + 1, 0])
      expect(r.push(encodeLengthHeader(len))).toBeUndefined();
    expect(r.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    expect(r.drops['length-rejected']).toBe(4);
    expect(r.assembling).toBe(false);
    // The data that followed a rejected length is stray, then a good message goes through.
    r.push(new Uint8Array(18));
    expect(reassemble(fragmentPacket(Uint8Array.of(1, 2, 3)), r)).toEqual([Uint8Array.of(1, 2, 3)]);
    expect(drops).toEqual([
      'length-rejected',
      'length-rejected',
      'length-rejected',
      'length-rejected',
      'stray-fragment',
    ]);
    // A smaller receive buffer rejects what exceeds it.
    const small = new PacketReassembler({ maxPacketLength: 100 });
    small.push(encodeLengthHeader(101));
    expect(small.drops['length-rejected']).toBe(1);
  });

  it('drops a message whose fragment is lost, and delivers the next one', () => {
    const a = fragmentPacket(new Uint8Array(60).fill(1));
    const b = fragmentPacket(new Uint8Array(30).fill(2));
    const r = new PacketReassembler();
    // Lose a's second fragment: b's length interrupts a, then b arrives whole.
    const got = reassemble([...a.slice(0, 2), ...a.slice(3), ...b], r);
    expect(got).toEqual([new Uint8Array(30).fill(2)]);
    expect(r.drops.interrupted).toBe(1);
    // Lose b's length: its fragments are stray.
    const r2 = new PacketReassembler();
    expect(reassemble([...b.slice(1), ...a], r2)).toEqual([new Uint8Array(60).fill(1)]);
    expect(r2.drops['stray-fragment']).toBe(b.length - 1);
  });

  it('drops a fragment that overflows the declared length', () => {
    const r = new PacketReassembler();
    r.push(encodeLengthHeader(10));
    expect(r.push(new Uint8Array(11))).toBeUndefined();
    expect(r.drops.overflow).toBe(1);
    expect(r.assembling).toBe(false);
  });

  it('round-trips any packet at any MTU (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 1024 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 23, max: 517 }),
        (packets, mtu) => {
          const r = new PacketReassembler();
          expect(
            reassemble(
              packets.flatMap((p) => fragmentPacket(p, mtu)),
              r,
            ),
          ).toEqual(packets);
          expect(Object.values(r.drops).every((n) => n === 0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on random writes, and only returns packets of an accepted length (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 520 }),
            fc.integer({ min: 0, max: 2000 }).map(encodeLengthHeader),
          ),
          { maxLength: 60 },
        ),
        (writes) => {
          const r = new PacketReassembler();
          for (const p of reassemble(writes, r)) {
            expect(p.length).toBeGreaterThan(0);
            expect(p.length).toBeLessThanOrEqual(1024);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('decodes only whole legacy messages and fails on garbage with a protocol error', () => {
    const m = new LocalMessage(['echo'], ['app'], Uint8Array.of(1, 2));
    expect(decodeBleMessage(encodeBleMessage(m)).onwardRoute.toString()).toBe('0#echo');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeBleMessage(bytes);
        } catch (e) {
          expect(OckamError.isKind(e, 'protocol', 'transport')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
