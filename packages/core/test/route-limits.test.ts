/**
 * Issue 14, finding 2, at decode: no decoder of network input builds a route over
 * `MAX_ROUTE_LENGTH`, whatever the frame declares or holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Address,
  CborReader,
  DecodeError,
  decodeLegacyTransportMessage,
  decodeTransportMessage,
  decodeTransportMessageParts,
  encodeLegacyTransportMessage,
  encodeTransportMessage,
  LocalMessage,
  MAX_ROUTE_LENGTH,
  readCborRoute,
} from '../src/index.js';

const addresses = (n: number, value = 'hop') => Array.from({ length: n }, () => Address.local(value));
const message = (onward: number, ret: number) =>
  new LocalMessage(addresses(onward), addresses(ret, 'r'), Uint8Array.of(1, 2, 3));

const refusesLength = (n: number, max = MAX_ROUTE_LENGTH) =>
  new RegExp(`route of ${n} addresses exceeds the limit of ${max}`);

describe('route length at decode', () => {
  it('is a small documented cap', () => {
    expect(MAX_ROUTE_LENGTH).toBe(32);
  });

  for (const [name, encode, decode] of [
    [
      'CBOR (TCP, UDP)',
      encodeTransportMessage,
      (b: Uint8Array, max?: number) => decodeTransportMessage(b, 'm', { maxRouteLength: max }),
    ],
    [
      'legacy BARE (WebSocket, BLE)',
      encodeLegacyTransportMessage,
      (b: Uint8Array, max?: number) => decodeLegacyTransportMessage(b, 'm', { maxRouteLength: max }),
    ],
  ] as const) {
    it(`${name}: accepts both routes at the cap and refuses either one address over it`, () => {
      const at = decode(encode(message(MAX_ROUTE_LENGTH, MAX_ROUTE_LENGTH)));
      expect(at.onwardRoute.length).toBe(MAX_ROUTE_LENGTH);
      expect(at.returnRoute.length).toBe(MAX_ROUTE_LENGTH);
      for (const [o, r] of [
        [MAX_ROUTE_LENGTH + 1, 1],
        [1, MAX_ROUTE_LENGTH + 1],
        [20_000, 0],
      ] as const) {
        const bytes = encode(message(o, r));
        expect(() => decode(bytes)).toThrow(DecodeError);
        expect(() => decode(bytes)).toThrow(refusesLength(Math.max(o, r)));
      }
    });

    it(`${name}: takes another cap as an option`, () => {
      const bytes = encode(message(5, 1));
      expect(() => decode(bytes, 4)).toThrow(refusesLength(5, 4));
      expect(decode(bytes, 5).onwardRoute.length).toBe(5);
    });
  }

  it('refuses a declared length over the cap before checking it against the bytes present', () => {
    // A route head declaring 2^32 − 1 addresses followed by nothing: the cap speaks first.
    const bytes = Uint8Array.of(0x83, 0x9a, 0xff, 0xff, 0xff, 0xff);
    expect(() => decodeTransportMessage(bytes)).toThrow(refusesLength(0xffffffff));
    expect(() => readCborRoute(new CborReader(Uint8Array.of(0x98, 33), 'r'))).toThrow(refusesLength(33));
    expect(() => decodeLegacyTransportMessage(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0x0f))).toThrow(
      refusesLength(0xffffffff),
    );
  });

  it('refuses an over-long route from the first piece of a frame split across reads', () => {
    const bytes = encodeTransportMessage(message(20_000, 1));
    const parts = [bytes.subarray(0, 100), bytes.subarray(100, 60_000), bytes.subarray(60_000)];
    expect(() => decodeTransportMessageParts(parts, 'm')).toThrow(refusesLength(20_000));
    expect(() => decodeTransportMessageParts(parts, 'm', { maxRouteLength: 20_000 })).not.toThrow();
  });

  it('never builds more than two capped routes, for any frame (property)', () => {
    fc.assert(
      fc.property(fc.nat(200), fc.nat(200), (o, r) => {
        const bytes = encodeTransportMessage(message(o, r));
        try {
          const m = decodeTransportMessage(bytes);
          return m.onwardRoute.length <= MAX_ROUTE_LENGTH && m.returnRoute.length <= MAX_ROUTE_LENGTH;
        } catch (e) {
          return e instanceof DecodeError && (o > MAX_ROUTE_LENGTH || r > MAX_ROUTE_LENGTH);
        }
      }),
    );
  });
});
