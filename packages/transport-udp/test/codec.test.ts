import { DecodeError, encodeTransportMessage, fromHex, LocalMessage, Route, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareRoutingNumbers,
  decodeNegotiationMessage,
  decodePunctureMessage,
  decodeRendezvousRequest,
  decodeRendezvousResponse,
  decodeUdpTransportMessage,
  encodeNegotiationMessage,
  encodePunctureMessage,
  encodeRendezvousRequest,
  encodeRendezvousResponse,
  encodeUdpTransportMessage,
  fragmentRoutingMessage,
  MAX_ON_THE_WIRE_SIZE,
  MAX_PAYLOAD_SIZE,
  nextRoutingNumber,
} from '../src/codec.js';

const hex = (b: Uint8Array): string => toHex(b);

describe('UdpTransportMessage', () => {
  it('encodes as the minicbor array [version, routing number, offset, is_last, bstr]', () => {
    const d = encodeUdpTransportMessage({
      version: 1,
      routingNumber: 7,
      offset: 0,
      isLast: true,
      payload: Uint8Array.of(1),
    });
    expect(hex(d)).toBe('85010700f54101');
    const m = decodeUdpTransportMessage(fromHex('8501190100190200f44102'));
    expect(m).toMatchObject({ version: 1, routingNumber: 256, offset: 512, isLast: false });
    expect([...m.payload]).toEqual([2]);
  });

  it('is exactly 508 bytes with the largest fields and 493 payload bytes (Ockam test_max_size_max_protocol)', () => {
    const d = encodeUdpTransportMessage({
      version: 255,
      routingNumber: 0xffff,
      offset: 0xffffffff,
      isLast: true,
      payload: new Uint8Array(MAX_PAYLOAD_SIZE),
    });
    expect(d.length).toBe(MAX_ON_THE_WIRE_SIZE);
    expect(() =>
      encodeUdpTransportMessage({
        version: 1,
        routingNumber: 0,
        offset: 0,
        isLast: true,
        payload: new Uint8Array(494),
      }),
    ).toThrow(RangeError);
  });

  it('accepts unknown trailing fields and rejects out-of-range ones, trailing bytes and oversized datagrams', () => {
    expect(decodeUdpTransportMessage(fromHex('86010700f5410100')).routingNumber).toBe(7);
    expect(() => decodeUdpTransportMessage(fromHex('84010700f5'))).toThrow(DecodeError); // 4 fields
    expect(() => decodeUdpTransportMessage(fromHex('85011a0001000000f54101'))).toThrow(/routing number/);
    expect(() => decodeUdpTransportMessage(fromHex('85010700f5410100'))).toThrow(/trailing/);
    expect(() => decodeUdpTransportMessage(new Uint8Array(509))).toThrow(/exceeds 508/);
  });

  it('round-trips any fragment', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        fc.uint8Array({ maxLength: MAX_PAYLOAD_SIZE }),
        (version, routingNumber, offset, isLast, payload) => {
          const d = encodeUdpTransportMessage({ version, routingNumber, offset, isLast, payload });
          expect(d.length).toBeLessThanOrEqual(MAX_ON_THE_WIRE_SIZE);
          const m = decodeUdpTransportMessage(d);
          expect(m).toEqual({ version, routingNumber, offset, isLast, payload });
        },
      ),
    );
  });
});

describe('routing numbers', () => {
  it('compare on the circle as Ockam does (routing_number.rs tests)', () => {
    expect(compareRoutingNumbers(5, 6)).toBe(-1);
    expect(compareRoutingNumbers(6, 5)).toBe(1);
    expect(compareRoutingNumbers(5, 5)).toBe(0);
    expect(compareRoutingNumbers(0xffff, 0)).toBe(-1);
    expect(compareRoutingNumbers(0xffff, 0xfffe)).toBe(1);
    expect(compareRoutingNumbers(0, 0xffff)).toBe(1);
    expect(nextRoutingNumber(0xffff)).toBe(0);
  });

  it('order the next 32768 numbers after any number, and are antisymmetric', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0x7fff }), (a, d) => {
        const b = (a + d) & 0xffff;
        expect(compareRoutingNumbers(a, b)).toBe(-1);
        expect(compareRoutingNumbers(b, a)).toBe(1);
      }),
    );
  });
});

describe('rendezvous messages', () => {
  it('use minicbor enum shapes [index, [fields]]', () => {
    expect(hex(encodeRendezvousRequest({ type: 'ping' }))).toBe('820080');
    expect(hex(encodeRendezvousRequest({ type: 'get-my-address' }))).toBe('820180');
    expect(hex(encodeRendezvousResponse({ type: 'pong' }))).toBe('820080');
    expect(hex(encodeRendezvousResponse({ type: 'address', address: '1.2.3.4:5' }))).toBe(
      `820181${'69'}${Buffer.from('1.2.3.4:5').toString('hex')}`,
    );
    expect(decodeRendezvousRequest(fromHex('820180'))).toEqual({ type: 'get-my-address' });
    expect(
      decodeRendezvousResponse(fromHex(`820181${'69'}${Buffer.from('127.0.0.1').toString('hex')}`)),
    ).toEqual({
      type: 'address',
      address: '127.0.0.1',
    });
    expect(() => decodeRendezvousRequest(fromHex('820280'))).toThrow(/unknown variant 2/);
    expect(() => decodeRendezvousResponse(fromHex('820180'))).toThrow(/without its address/);
  });
});

describe('puncture messages', () => {
  it('encode Ping, Pong and Payload as minicbor enums, the payload as an array of small ints', () => {
    expect(hex(encodePunctureMessage({ type: 'ping' }))).toBe('820080');
    expect(hex(encodePunctureMessage({ type: 'pong' }))).toBe('820180');
    const payload = encodePunctureMessage({
      type: 'payload',
      onwardRoute: Route.of('a'),
      returnRoute: Route.of('b'),
      payload: Uint8Array.of(1, 23, 24, 255),
    });
    // [2, [[[0, h'61']], [[0, h'62']], [1, 23, 24, 255]]]
    expect(hex(payload)).toBe(
      '8202' + '83' + '8182004161' + '8182004162' + '84' + '01' + '17' + '1818' + '18ff',
    );
    expect(decodePunctureMessage(payload)).toEqual({
      type: 'payload',
      onwardRoute: Route.of('a'),
      returnRoute: Route.of('b'),
      payload: Uint8Array.of(1, 23, 24, 255),
    });
    // A byte string where Ockam expects Vec<u8> is refused.
    expect(() => decodePunctureMessage(fromHex('8202838182004161818200416244010203ff'.slice(0, -2)))).toThrow(
      DecodeError,
    );
  });

  it('negotiation messages are [text, [u8…]] with the remote address as UTF-8 bytes (Address::to_vec)', () => {
    const m = encodeNegotiationMessage({ udpPublicAddress: '1.2.3.4:5', remoteAddress: 'ab' });
    expect(hex(m)).toBe(`82${'69'}${Buffer.from('1.2.3.4:5').toString('hex')}8218611862`);
    expect(decodeNegotiationMessage(m)).toEqual({ udpPublicAddress: '1.2.3.4:5', remoteAddress: 'ab' });
    expect(() => decodeNegotiationMessage(fromHex('8261618118ff'))).toThrow(/UTF-8/);
  });

  it('round-trip any payload message', () => {
    const addr = fc.stringMatching(/^[a-z0-9_]{1,20}$/);
    fc.assert(
      fc.property(
        fc.array(addr, { maxLength: 4 }),
        fc.array(addr, { maxLength: 4 }),
        fc.uint8Array({ maxLength: 2000 }),
        (o, r, p) => {
          const m = {
            type: 'payload' as const,
            onwardRoute: Route.of(...o),
            returnRoute: Route.of(...r),
            payload: p,
          };
          expect(decodePunctureMessage(encodePunctureMessage(m))).toEqual(m);
        },
      ),
    );
  });
});

describe('decoders fed random bytes', () => {
  it('either decode or throw DecodeError, never anything else', () => {
    const decoders = [
      decodeUdpTransportMessage,
      decodePunctureMessage,
      decodeNegotiationMessage,
      decodeRendezvousRequest,
      decodeRendezvousResponse,
    ];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        for (const d of decoders) {
          try {
            d(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fragmentation', () => {
  it('carries the routing message of PROTOCOL.md §2.1 in one datagram', () => {
    const m = new LocalMessage(Route.of('echo'), Route.of('app'), fromHex('0568656c6c6f'));
    const routing = encodeTransportMessage(m);
    expect(hex(routing)).toBe('838182004465636 86f8182004361707046 0568656c6c6f'.replaceAll(' ', ''));
    const [d, ...rest] = fragmentRoutingMessage(routing, 0x1234);
    expect(rest).toEqual([]);
    expect(hex(d!)).toBe(`8501191234 00 f5 57${hex(routing)}`.replaceAll(' ', ''));
  });

  it('cuts at 493 bytes with consecutive offsets and is_last on the final datagram only', () => {
    const routing = new Uint8Array(493 * 2 + 1).map((_, i) => i);
    const ds = fragmentRoutingMessage(routing, 9).map(decodeUdpTransportMessage);
    expect(ds.map((d) => [d.offset, d.payload.length, d.isLast, d.routingNumber])).toEqual([
      [0, 493, false, 9],
      [493, 493, false, 9],
      [986, 1, true, 9],
    ]);
  });
});
