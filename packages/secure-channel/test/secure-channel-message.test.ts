import { Address, CborWriter, encodeBareString, fromHex, OckamError, Route, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSecureChannelMessage,
  encodePayloadMessageParts,
  encodeSecureChannelMessage,
  type SecureChannelMessage,
} from '../src/secure-channel-message.js';

describe('secure channel plaintext codec', () => {
  it('encodes Close as the repo fixture 8282028040', () => {
    expect(toHex(encodeSecureChannelMessage({ kind: 'close' }))).toBe('8282028040');
    expect(decodeSecureChannelMessage(fromHex('8282028040'))).toEqual({ kind: 'close' });
  });

  it('encodes a payload in parts, with or without a reused scratch writer, to the same bytes', () => {
    const hex = '8282008183818200446563686f81820043617070460568656c6c6f40';
    const scratch = new CborWriter(8);
    for (let i = 0; i < 3; i++) {
      const parts = encodePayloadMessageParts(
        Route.of('echo'),
        Route.of('app'),
        [encodeBareString('hello')],
        scratch,
      );
      expect(parts.map(toHex).join('')).toBe(hex);
    }
    const fresh = encodePayloadMessageParts(Route.of('echo'), Route.of('app'), [
      Uint8Array.of(0x05, 0x68, 0x65),
      Uint8Array.of(0x6c, 0x6c, 0x6f),
    ]);
    expect(fresh.map(toHex).join('')).toBe(hex);
  });

  it('encodes the PROTOCOL.md §3.3 Payload example byte for byte', () => {
    const hex = '8282008183818200446563686f81820043617070460568656c6c6f40';
    const message: SecureChannelMessage = {
      kind: 'payload',
      onwardRoute: Route.of('echo'),
      returnRoute: Route.of('app'),
      payload: encodeBareString('hello'),
    };
    expect(toHex(encodeSecureChannelMessage(message))).toBe(hex);
    const decoded = decodeSecureChannelMessage(fromHex(hex));
    expect(decoded.kind).toBe('payload');
    if (decoded.kind !== 'payload') return;
    expect(decoded.onwardRoute.toString()).toBe('0#echo');
    expect(decoded.returnRoute.toString()).toBe('0#app');
    expect(toHex(decoded.payload)).toBe('0568656c6c6f');
  });

  it('round-trips RefreshCredentials with CBOR change history and credentials carried as is', () => {
    const changeHistory = new CborWriter()
      .array(1)
      .array(2)
      .bytes(new Uint8Array([1, 2]))
      .array(2)
      .uint(0)
      .array(1)
      .bytes(new Uint8Array(64))
      .finish();
    const credential = new CborWriter()
      .array(2)
      .array(2)
      .bytes(new Uint8Array([9]))
      .uint(1)
      .array(0)
      .finish();
    const bytes = encodeSecureChannelMessage({
      kind: 'refresh-credentials',
      changeHistory,
      credentials: [credential, credential],
    });
    expect(toHex(bytes.subarray(0, 5))).toBe('8282018182');
    const decoded = decodeSecureChannelMessage(bytes);
    expect(decoded).toEqual({
      kind: 'refresh-credentials',
      changeHistory,
      credentials: [credential, credential],
    });
  });

  it('ignores padding and extra trailing struct fields, as minicbor does', () => {
    // [[0, [[onward, return, payload, extra]]], h'0000', extra]
    const w = new CborWriter().array(3).array(2).uint(0).array(1).array(4);
    w.array(0)
      .array(0)
      .bytes(new Uint8Array([7]))
      .uint(5);
    const bytes = w.bytes(new Uint8Array(2)).text('future').finish();
    const decoded = decodeSecureChannelMessage(bytes);
    expect(decoded.kind === 'payload' && toHex(decoded.payload)).toBe('07');
  });

  it('rejects unknown variants, missing padding and trailing bytes with a DecodeError', () => {
    for (const hex of ['8282038040', '81820280', '828202804000', '8282028041', '82820280f6']) {
      expect(() => decodeSecureChannelMessage(fromHex(hex)), hex).toThrow(
        /Cannot decode secure channel message/,
      );
    }
  });

  const address = fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 40 }))
    .map(([type, value]) => new Address(type, value));
  const route = fc.array(address, { maxLength: 5 }).map((a) => new Route(a));

  it('round-trips any Payload message', () => {
    fc.assert(
      fc.property(route, route, fc.uint8Array({ maxLength: 300 }), (onwardRoute, returnRoute, payload) => {
        const decoded = decodeSecureChannelMessage(
          encodeSecureChannelMessage({ kind: 'payload', onwardRoute, returnRoute, payload }),
        );
        expect(decoded.kind).toBe('payload');
        if (decoded.kind !== 'payload') return;
        expect(decoded.onwardRoute.equals(onwardRoute)).toBe(true);
        expect(decoded.returnRoute.equals(returnRoute)).toBe(true);
        expect(decoded.payload).toEqual(payload);
      }),
    );
  });

  it('fails on random bytes only with a typed decode error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeSecureChannelMessage(bytes);
        } catch (e) {
          expect(OckamError.isKind(e, 'serialization')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
