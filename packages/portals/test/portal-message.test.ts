import { OckamError, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodePortalMessage,
  encodePortalMessage,
  MAX_PAYLOAD_SIZE,
  type PortalMessage,
} from '../src/codec.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('portal message codec', () => {
  it('encodes Ping, Pong and Disconnect as single tags', () => {
    expect(toHex(encodePortalMessage({ kind: 'ping' }))).toBe('00');
    expect(toHex(encodePortalMessage({ kind: 'pong' }))).toBe('01');
    expect(toHex(encodePortalMessage({ kind: 'disconnect' }))).toBe('02');
  });

  it('encodes Payload("hello") as 030568656c6c6f (PROTOCOL.md §7.1)', () => {
    expect(toHex(encodePortalMessage({ kind: 'payload', data: text('hello') }))).toBe('030568656c6c6f');
  });

  it('never emits the packet counter', () => {
    expect(toHex(encodePortalMessage({ kind: 'payload', data: text('hi'), counter: 7 }))).toBe('03026869');
  });

  it('encodes a 48 KiB payload with a three-byte length', () => {
    const bytes = encodePortalMessage({ kind: 'payload', data: new Uint8Array(MAX_PAYLOAD_SIZE) });
    expect(toHex(bytes.subarray(0, 4))).toBe('03808003');
    expect(bytes.length).toBe(4 + MAX_PAYLOAD_SIZE);
  });

  it('decodes the goldens', () => {
    expect(decodePortalMessage(hex('00'))).toEqual({ kind: 'ping' });
    expect(decodePortalMessage(hex('01'))).toEqual({ kind: 'pong' });
    expect(decodePortalMessage(hex('02'))).toEqual({ kind: 'disconnect' });
    const m = decodePortalMessage(hex('030568656c6c6f'));
    expect(m.kind === 'payload' && new TextDecoder().decode(m.data)).toBe('hello');
  });

  it('accepts the optional little-endian packet counter and an absent-counter marker', () => {
    expect(decodePortalMessage(hex('030568656c6c6f013412'))).toMatchObject({
      kind: 'payload',
      counter: 0x1234,
    });
    const absent = decodePortalMessage(hex('030568656c6c6f00'));
    expect(absent.kind === 'payload' && absent.counter).toBeUndefined();
  });

  it.each([
    ['', 'empty message'],
    ['04', 'unknown tag 0x04'],
    ['ff', 'unknown tag'],
    ['0000', 'trailing'],
    ['0100', 'trailing'],
    ['03', 'bad payload length'],
    ['0305686565', 'exceeds'],
    ['0380', 'bad payload length'],
    ['030161ff', 'presence byte'],
    ['03016101', 'truncated packet counter'],
    ['0301610134', 'truncated packet counter'],
    ['030161013412ff', 'trailing'],
    ['0301610000', 'trailing'],
  ])('rejects %s with a serialization error (%s)', (input, reason) => {
    let error: unknown;
    try {
      decodePortalMessage(hex(input));
    } catch (e) {
      error = e;
    }
    expect(OckamError.isKind(error, 'serialization', 'transport')).toBe(true);
    expect((error as Error).message).toContain(reason);
  });

  const messages: fc.Arbitrary<PortalMessage> = fc.oneof(
    fc.constant<PortalMessage>({ kind: 'ping' }),
    fc.constant<PortalMessage>({ kind: 'pong' }),
    fc.constant<PortalMessage>({ kind: 'disconnect' }),
    fc.uint8Array({ maxLength: 70_000 }).map((data): PortalMessage => ({ kind: 'payload', data })),
  );

  it('round-trips every message', () => {
    fc.assert(
      fc.property(messages, (m) => {
        const decoded = decodePortalMessage(encodePortalMessage(m));
        expect(decoded.kind).toBe(m.kind);
        if (m.kind === 'payload' && decoded.kind === 'payload')
          expect(toHex(decoded.data)).toBe(toHex(m.data));
      }),
      { numRuns: 200 },
    );
  });

  it('decodes a payload with any counter to the same data and that counter', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), (data, counter) => {
        const encoded = encodePortalMessage({ kind: 'payload', data });
        const withCounter = new Uint8Array([...encoded, 1, counter & 0xff, counter >> 8]);
        const decoded = decodePortalMessage(withCounter);
        expect(decoded).toMatchObject({ kind: 'payload', counter });
      }),
    );
  });

  it('either decodes random bytes to a message that re-encodes to a prefix of them, or throws a serialization error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let decoded: PortalMessage;
        try {
          decoded = decodePortalMessage(bytes);
        } catch (e) {
          expect(OckamError.isKind(e, 'serialization')).toBe(true);
          return;
        }
        const again = encodePortalMessage(decoded);
        expect(toHex(bytes).startsWith(toHex(again))).toBe(true);
        // Only the counter may follow what we encode.
        expect(
          bytes.length - again.length === 0 ||
            bytes.length - again.length === 1 ||
            bytes.length - again.length === 3,
        ).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
