import {
  CborWriter,
  decodeTransportMessage,
  encodeBareString,
  fromHex,
  LocalMessage,
  MAX_MESSAGE_SIZE,
  OckamError,
  Route,
  toHex,
  writeCborRoute,
} from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../src/index.js';

// PROTOCOL.md §2.1: onward ["echo"], return ["app"], payload BARE "hello", no tracing field.
const SPEC_FRAME = '00000017 83 81 82 00 44 6563686f 81 82 00 43 617070 46 0568656c6c6f'.replace(/ /g, '');

function frames(decoder: FrameDecoder): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let f = decoder.next(); f !== undefined; f = decoder.next()) out.push(f.slice());
  return out;
}

describe('framing', () => {
  it('encodes the example frame of PROTOCOL.md §2.1 byte for byte', () => {
    const m = new LocalMessage(Route.of('echo'), Route.of('app'), encodeBareString('hello'));
    expect(toHex(encodeFrame(m))).toBe(SPEC_FRAME);
  });

  it('decodes the example frame after the version byte', () => {
    const d = new FrameDecoder();
    d.push(fromHex(`01${SPEC_FRAME}`));
    const [frame, ...rest] = frames(d);
    expect(rest).toEqual([]);
    const m = decodeTransportMessage(frame!);
    expect(m.onwardRoute.toString()).toBe('0#echo');
    expect(m.returnRoute.toString()).toBe('0#app');
    expect(toHex(m.payload)).toBe('0568656c6c6f');
    expect(d.buffered).toBe(0);
  });

  it('accepts the four-field message Ockam Rust sends, with its tracing context', () => {
    const w = new CborWriter();
    w.array(4);
    writeCborRoute(w, Route.of('echo'));
    writeCborRoute(w, Route.of('app'));
    w.bytes(new Uint8Array([1, 2]));
    w.text('{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}');
    const m = decodeTransportMessage(w.finish());
    expect(m.tracingContext).toMatch(/traceparent/);
    // And it is forwarded as received.
    const d = new FrameDecoder({ expectVersion: false });
    d.push(encodeFrame(m));
    expect(decodeTransportMessage(frames(d)[0]!).tracingContext).toBe(m.tracingContext);
  });

  it('rejects a first byte other than protocol version 1', () => {
    const d = new FrameDecoder();
    d.push(fromHex('02'));
    expect(() => d.next()).toThrow(/Unsupported TCP protocol version 2, expected 1/);
  });

  it('rejects a declared length of 16 MiB + 1 as soon as the header arrives', () => {
    const d = new FrameDecoder();
    d.push(fromHex('0101000001'));
    expect(() => d.next()).toThrow(
      `Cannot decode frame: length ${MAX_MESSAGE_SIZE + 1} exceeds ${MAX_MESSAGE_SIZE}`,
    );
    expect(d.buffered).toBe(0);
  });

  it('reads a length of 2^32 - 1 as unsigned', () => {
    const d = new FrameDecoder({ expectVersion: false });
    d.push(fromHex('ffffffff'));
    expect(() => d.next()).toThrow(/length 4294967295 exceeds/);
  });

  it('waits for a frame of exactly 16 MiB without complaint', () => {
    const d = new FrameDecoder({ expectVersion: false });
    d.push(fromHex('01000000'));
    expect(d.next()).toBeUndefined();
  });

  it('refuses to encode a message larger than 16 MiB', () => {
    const m = new LocalMessage(['x'], ['y'], new Uint8Array(MAX_MESSAGE_SIZE));
    expect(() => encodeFrame(m)).toThrow(/exceeds 16777216/);
    try {
      encodeFrame(m);
    } catch (e) {
      expect(OckamError.isKind(e, 'invalid', 'transport')).toBe(true);
    }
  });

  it('hands out frames that do not pin the socket chunk they came from', () => {
    const d = new FrameDecoder({ expectVersion: false });
    d.push(Buffer.from(SPEC_FRAME, 'hex'));
    const m = decodeTransportMessage(d.next()!);
    expect(m.payload.buffer.byteLength).toBe(m.payload.length);
  });

  it('yields the same frames however the stream is cut into chunks', () => {
    const message = fc.record({
      onward: fc.array(fc.stringMatching(/^[a-z0-9_]{1,12}$/), { minLength: 0, maxLength: 3 }),
      ret: fc.array(fc.stringMatching(/^[a-z0-9_]{1,12}$/), { maxLength: 3 }),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1 }),
        (msgs, cuts) => {
          const encoded = msgs.map((m) =>
            encodeFrame(new LocalMessage(Route.of(...m.onward), Route.of(...m.ret), m.payload)),
          );
          const stream = Buffer.concat([Buffer.of(1), ...encoded]);
          const d = new FrameDecoder();
          const got: Uint8Array[] = [];
          let o = 0;
          for (let i = 0; o < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            d.push(stream.subarray(o, o + n));
            o += n;
            got.push(...frames(d));
          }
          expect(got.map(toHex)).toEqual(encoded.map((e) => toHex(e.subarray(4))));
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands out a split frame as views of its chunks with nextParts, equal to what next joins', () => {
    const frames = [0, 1, 2].map((i) =>
      encodeFrame(new LocalMessage(['echo'], ['app'], new Uint8Array(5000).fill(i))),
    );
    const stream = new Uint8Array(1 + frames.reduce((n, f) => n + f.length, 0));
    stream[0] = 1;
    let o = 1;
    for (const f of frames) {
      stream.set(f, o);
      o += f.length;
    }
    const chunks = [stream.subarray(0, 3000), stream.subarray(3000, 9000), stream.subarray(9000)];
    const byParts = new FrameDecoder();
    const joined = new FrameDecoder();
    for (const c of chunks) {
      byParts.push(c);
      joined.push(c);
    }
    for (let i = 0; i < 3; i++) {
      const parts = byParts.nextParts()!;
      expect(parts.every((p) => p.buffer === stream.buffer)).toBe(true); // views, no copy
      expect(Buffer.concat(parts)).toEqual(Buffer.from(joined.next()!));
    }
    expect(byParts.nextParts()).toBeUndefined();
    expect(byParts.buffered).toBe(0);
  });

  it('parses many frames from one chunk and one frame from many chunks in linear time', () => {
    const small = encodeFrame(new LocalMessage(['echo'], ['app'], new Uint8Array(64)));
    const many = new Uint8Array(small.length * 10_000);
    for (let i = 0; i < 10_000; i++) many.set(small, i * small.length);
    const d = new FrameDecoder({ expectVersion: false });
    d.push(many);
    expect(frames(d)).toHaveLength(10_000);
    // 16 MiB arriving in 1-KiB chunks: each byte is copied once when the frame completes.
    const big = encodeFrame(new LocalMessage(['echo'], ['app'], new Uint8Array(MAX_MESSAGE_SIZE - 64)));
    for (let o = 0; o < big.length; o += 1024) {
      d.push(big.subarray(o, o + 1024));
      if (o + 1024 < big.length) expect(d.next()).toBeUndefined();
    }
    const frame = d.next();
    expect(frame?.length).toBe(big.length - 4);
  });
});
