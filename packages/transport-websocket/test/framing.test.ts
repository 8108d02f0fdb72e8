import { decodeBareString, encodeBareString, LocalMessage, OckamError, Route } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeWebSocketFrame,
  encodeWebSocketFrame,
  MAX_FRAME_SIZE,
  toWebSocketAddress,
  toWebSocketUrl,
} from '../src/index.js';
import { hex } from './helpers.js';

// PROTOCOL.md §1.2 layout, by hand: version 01 | onward [0#echo] | return [0#app] | payload
// BARE "hello" (05 68656c6c6f as the message body, itself length-prefixed) | tracing flag 00.
const HELLO_FRAME = '01 01 00 04 6563686f 01 00 03 617070 06 0568656c6c6f 00';

describe('WebSocket framing', () => {
  it('encodes a message as a version 1 legacy transport message with the tracing flag', () => {
    const m = new LocalMessage(['echo'], ['app'], encodeBareString('hello'));
    expect(Buffer.from(encodeWebSocketFrame(m)).toString('hex')).toBe(HELLO_FRAME.replace(/\s+/g, ''));
  });

  it('decodes version 1 and version 2 messages', () => {
    const v1 = decodeWebSocketFrame(hex(HELLO_FRAME));
    expect(v1.onwardRoute.toString()).toBe('0#echo');
    expect(v1.returnRoute.toString()).toBe('0#app');
    expect(decodeBareString(v1.payload)).toBe('hello');
    const v2 = decodeWebSocketFrame(hex(`02 ${HELLO_FRAME.slice(3)}`));
    expect(decodeBareString(v2.payload)).toBe('hello');
  });

  it('carries a tracing context and transport addresses in routes', () => {
    const m = new LocalMessage(
      ['1#10.0.0.1:4000', 'echo'],
      ['3#127.0.0.1:9', 'app'],
      new Uint8Array([1, 2]),
      undefined,
      '{"traceparent":"x"}',
    );
    const d = decodeWebSocketFrame(encodeWebSocketFrame(m));
    expect(d.onwardRoute.toString()).toBe(m.onwardRoute.toString());
    expect(d.returnRoute.toString()).toBe(m.returnRoute.toString());
    expect(d.tracingContext).toBe('{"traceparent":"x"}');
  });

  it('rejects unknown versions, truncation and trailing bytes after a version 2 message', () => {
    for (const bad of [
      `03 ${HELLO_FRAME.slice(3)}`,
      `00 ${HELLO_FRAME.slice(3)}`,
      '01 01 00 04 6563',
      '',
      `02 ${HELLO_FRAME.slice(3)} 00`,
    ]) {
      let error: unknown;
      try {
        decodeWebSocketFrame(hex(bad));
      } catch (e) {
        error = e;
      }
      expect(OckamError.isKind(error, 'protocol', 'transport'), bad).toBe(true);
    }
  });

  it('refuses frames over the cap, before decoding and when encoding', () => {
    expect(() => decodeWebSocketFrame(new Uint8Array(101), 100)).toThrow(
      'Cannot decode WebSocket frame: length 101 exceeds 100',
    );
    const big = new LocalMessage(['echo'], ['app'], new Uint8Array(200));
    expect(() => encodeWebSocketFrame(big, 100)).toThrow(
      /Cannot encode WebSocket frame: length 2\d\d exceeds 100/,
    );
    expect(MAX_FRAME_SIZE).toBe(16 * 1024 * 1024);
  });

  it('round-trips any message (property)', () => {
    const addr = fc.tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.string({ maxLength: 40 }).filter((s) => !s.includes('#')),
    );
    const route = fc.array(addr, { maxLength: 5 });
    fc.assert(
      fc.property(
        route,
        route,
        fc.uint8Array({ maxLength: 2000 }),
        fc.option(fc.string(), { nil: undefined }),
        (on, ret, payload, tracing) => {
          const toR = (r: [number, string][]) =>
            new Route(r.map(([t, v]) => Route.of(`${t}#${v}`).addresses[0]!));
          const m = new LocalMessage(toR(on), toR(ret), payload, undefined, tracing);
          const d = decodeWebSocketFrame(encodeWebSocketFrame(m));
          expect(d.onwardRoute.toString()).toBe(m.onwardRoute.toString());
          expect(d.returnRoute.toString()).toBe(m.returnRoute.toString());
          expect([...d.payload]).toEqual([...payload]);
          expect(d.tracingContext).toBe(tracing);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fails on random bytes only with a transport protocol error (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeWebSocketFrame(bytes);
        } catch (e) {
          expect(OckamError.isKind(e, 'protocol', 'transport')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('WebSocket addresses', () => {
  it('maps 3#host:port to ws://host:port/ and keeps full URLs', () => {
    expect(toWebSocketUrl('3#127.0.0.1:4000')).toBe('ws://127.0.0.1:4000/');
    expect(toWebSocketUrl('localhost:80')).toBe('ws://localhost/');
    expect(toWebSocketUrl('wss://example.com/ockam?x=1')).toBe('wss://example.com/ockam?x=1');
    expect(toWebSocketUrl({ host: '::1', port: 9 })).toBe('ws://[::1]:9/');
    expect(toWebSocketAddress('ws://127.0.0.1:4000').toString()).toBe('3#127.0.0.1:4000');
    expect(toWebSocketAddress('wss://example.com/a').toString()).toBe('3#wss://example.com/a');
  });

  it('refuses other schemes, other transport types and bad ports', () => {
    expect(() => toWebSocketUrl('http://example.com')).toThrow(/scheme must be ws or wss/);
    expect(() => toWebSocketUrl(Route.of('1#127.0.0.1:4000').addresses[0]!)).toThrow(
      /Not a WebSocket address/,
    );
    expect(() => toWebSocketUrl('127.0.0.1:70000')).toThrow(/Invalid WebSocket address/);
  });
});
