import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Address,
  CborReader,
  CborWriter,
  DecodeError,
  decodeBareString,
  decodeCbor,
  decodeLegacyTransportMessage,
  decodeTransportMessage,
  decodeTransportMessageParts,
  encodeBareString,
  encodeCbor,
  encodeLegacyTransportMessage,
  encodeTransportMessage,
  encodeUvarint,
  fromHex,
  joinBytes,
  LocalMessage,
  OckamError,
  Route,
  readUvarint,
  TCP,
  toHex,
} from '../src/index.js';

describe('BARE encodings (PROTOCOL.md §0)', () => {
  it('encodes the string "hello" as 05 68 65 6c 6c 6f', () => {
    expect(toHex(encodeBareString('hello'))).toBe('0568656c6c6f');
    expect(decodeBareString(fromHex('0568656c6c6f'))).toBe('hello');
  });

  it('encodes uvarints as LEB128', () => {
    expect(toHex(encodeUvarint(0))).toBe('00');
    expect(toHex(encodeUvarint(127))).toBe('7f');
    expect(toHex(encodeUvarint(128))).toBe('8001');
    expect(toHex(encodeUvarint(300))).toBe('ac02');
    expect(readUvarint(fromHex('ac02'), 0)).toEqual([300, 2]);
  });

  it('rejects truncated, overlong and trailing BARE input with typed errors', () => {
    expect(() => decodeBareString(fromHex('0568656c6c'))).toThrow(/exceeds the 4 bytes/);
    expect(() => decodeBareString(fromHex('0568656c6c6f00'))).toThrow(/1 trailing bytes/);
    expect(() => readUvarint(fromHex('80'), 0)).toThrow(/truncated varint/);
    expect(() => readUvarint(fromHex('8080808080808080808001'), 0)).toThrow(DecodeError);
    expect(() => decodeBareString(fromHex('02c328'))).toThrow(/invalid UTF-8/);
  });

  it('round-trips any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => decodeBareString(encodeBareString(s)) === s),
    );
  });
});

describe('CBOR as minicbor writes it', () => {
  it('uses the shortest head for every integer', () => {
    const w = new CborWriter();
    w.uint(23)
      .uint(24)
      .uint(255)
      .uint(256)
      .uint(65535)
      .uint(65536)
      .uint(2 ** 32)
      .int(-1)
      .int(-25);
    expect(toHex(w.finish())).toBe(
      '171818' + '18ff' + '190100' + '19ffff' + '1a00010000' + '1b0000000100000000' + '20' + '3818',
    );
  });

  it('encodes again into the same memory after reset', () => {
    const w = new CborWriter(4);
    w.array(1).bytes(new Uint8Array(300).fill(1));
    const first = w.finish();
    expect(w.reset().length).toBe(0);
    w.array(2).uint(1).text('a');
    expect(toHex(w.finishView())).toBe('8201' + '6161');
    expect(first.length).toBe(1 + 3 + 300); // a finished copy is untouched by the reset
  });

  it('decodes Close as [[2, []], h""] (PROTOCOL.md §0)', () => {
    expect(decodeCbor(fromHex('8282028040'))).toEqual([[2, []], new Uint8Array()]);
  });

  it('refuses indefinite lengths, reserved values, lies about length and trailing bytes', () => {
    const bad = ['9f01ff', '5f41ff', '1c', '5a00010000', '9a00010000' + '01', '0101', 'a1', '6', 'c001'];
    for (const hex of bad.filter((h) => h.length % 2 === 0)) {
      expect(() => decodeCbor(fromHex(hex)), hex).toThrow(DecodeError);
    }
  });

  it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    const deep = new Uint8Array(10_000).fill(0x81);
    expect(() => decodeCbor(deep)).toThrow(/nesting deeper/);
  });

  it('round-trips generic values', () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: -1_000_000, max: 1_000_000 }).map((n) => n + 0),
        fc.string(),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeCbor(encodeCbor(v as never))).toEqual(v);
      }),
    );
  });

  it('never throws anything but a DecodeError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeCbor(bytes);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('reads byte strings of exact sizes and reports where a mismatch is', () => {
    const r = new CborReader(fromHex('43010203'), 'key');
    expect(() => r.bytesExact(32, 'public key')).toThrow(
      'Cannot decode key: public key must be 32 bytes, found 3 at byte 4',
    );
  });
});

describe('transport messages', () => {
  const hello = new LocalMessage(Route.of('echo'), Route.of('app'), encodeBareString('hello'));

  it('encodes the TCP example frame body of PROTOCOL.md §2.1 byte for byte', () => {
    expect(toHex(encodeTransportMessage(hello))).toBe(
      '838182004465636' + '86f8182004361707046' + '0568656c6c6f',
    );
  });

  it('decodes 3- and 4-field messages, with a tracing context', () => {
    const m = decodeTransportMessage(fromHex('83818200446563686f8182004361707046' + '0568656c6c6f'));
    expect(m.onwardRoute.toString()).toBe('0#echo');
    expect(m.returnRoute.toString()).toBe('0#app');
    expect(decodeBareString(m.payload)).toBe('hello');
    const withTrace = new LocalMessage(
      Route.of('1#127.0.0.1:4000', 'echo'),
      Route.empty(),
      new Uint8Array([1]),
      {},
      '{}',
    );
    const back = decodeTransportMessage(encodeTransportMessage(withTrace));
    expect(back.tracingContext).toBe('{}');
    expect(back.onwardRoute.next().type).toBe(TCP);
  });

  it('rejects truncated messages, bad addresses and trailing bytes', () => {
    const good = encodeTransportMessage(hello);
    for (let cut = 0; cut < good.length; cut++) {
      expect(() => decodeTransportMessage(good.subarray(0, cut))).toThrow(DecodeError);
    }
    expect(() => decodeTransportMessage(new Uint8Array([...good, 0]))).toThrow(/trailing/);
    expect(() => decodeTransportMessage(fromHex('82' + '80' + '80'))).toThrow(/at least 3 fields/);
    expect(() => decodeTransportMessage(fromHex('83' + '81' + '8219010041' + '61' + '80' + '40'))).toThrow(
      /exceeds 255/,
    );
    expect(() => decodeTransportMessage(fromHex('83' + '81' + '820042c328' + '80' + '40'))).toThrow(/UTF-8/);
  });

  it('round-trips any message in both the CBOR and legacy BARE encodings', () => {
    const addr = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.string({ maxLength: 20 }))
      .map(([t, v]) => new Address(t, v));
    const msg = fc
      .tuple(
        fc.array(addr, { maxLength: 5 }),
        fc.array(addr, { maxLength: 5 }),
        fc.uint8Array({ maxLength: 100 }),
        fc.option(fc.string(), { nil: undefined }),
      )
      .map(([o, r, p, t]) => new LocalMessage(new Route(o), new Route(r), p, {}, t));
    fc.assert(
      fc.property(msg, (m) => {
        for (const [enc, dec] of [
          [encodeTransportMessage, decodeTransportMessage],
          [encodeLegacyTransportMessage, decodeLegacyTransportMessage],
        ] as const) {
          const back = dec(enc(m));
          expect(back.onwardRoute.equals(m.onwardRoute)).toBe(true);
          expect(back.returnRoute.equals(m.returnRoute)).toBe(true);
          expect(back.payload).toEqual(m.payload);
          expect(back.tracingContext).toBe(m.tracingContext);
        }
      }),
    );
  });

  it('encodes the legacy BARE message with version 1 and the tracing flag', () => {
    expect(toHex(encodeLegacyTransportMessage(hello))).toBe(
      '01' + '01000465636' + '86f' + '0100036170' + '70' + '060568656c6c6f' + '00',
    );
    expect(() => decodeLegacyTransportMessage(fromHex('03'))).toThrow(/unsupported protocol version 3/);
  });

  it('never throws anything but typed errors when decoding random frames', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const dec of [decodeTransportMessage, decodeLegacyTransportMessage]) {
          try {
            dec(bytes);
          } catch (e) {
            if (!OckamError.is(e)) throw e;
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe('addresses and routes (PROTOCOL.md §1.1)', () => {
  it('parses and prints the text forms', () => {
    expect(Address.parse('1#127.0.0.1:4000').type).toBe(TCP);
    expect(Address.parse('echo').toString()).toBe('0#echo');
    expect(() => Address.parse('1#a#b')).toThrow(/more than one '#'/);
    expect(() => Address.parse('x#a')).toThrow(/transport type/);
    expect(Route.parse('1#127.0.0.1:4000 => echo').toString()).toBe('1#127.0.0.1:4000 => 0#echo');
  });

  it('makes random addresses of 32 lowercase hex characters', () => {
    expect(Address.random().value).toMatch(/^[0-9a-f]{32}$/);
  });

  it('steps a message forward: pops onward, pushes on return', () => {
    const m = new LocalMessage(Route.of('hop', 'echo'), Route.of('app'), new Uint8Array()).stepForward(
      Address.local('hop'),
    );
    expect(m.onwardRoute.toString()).toBe('0#echo');
    expect(m.returnRoute.toString()).toBe('0#hop => 0#app');
  });
});

describe('messages with payload parts (LocalMessage.fromParts)', () => {
  const parts = () => [
    Uint8Array.of(1, 2),
    new Uint8Array(0),
    Uint8Array.of(3),
    new Uint8Array(5000).fill(9),
  ];
  const joined = () => {
    const out = new Uint8Array(5003).fill(9);
    out.set([1, 2, 3]);
    return out;
  };

  it('keeps the parts apart until the payload is read, then joins them once', () => {
    const m = LocalMessage.fromParts(['echo'], ['app'], parts());
    expect(m.payloadLength).toBe(5003);
    expect(m.payloadParts.map((p) => p.length)).toEqual([2, 0, 1, 5000]);
    const payload = m.payload;
    expect(payload).toEqual(joined());
    expect(m.payload).toBe(payload); // joined once, then kept
    expect(m.payloadParts).toEqual([payload]);
  });

  it('keeps parts through stepForward, withOnward, withReturn and withLocalInfo', () => {
    const m = LocalMessage.fromParts(['a', 'b'], ['app'], parts());
    const stepped = m
      .stepForward(Address.parse('a'))
      .withReturn(['x'])
      .withOnward(['c'])
      .withLocalInfo({ k: 1 });
    expect(stepped.payloadParts.length).toBe(4);
    expect(stepped.onwardRoute.toString()).toBe('0#c');
    expect(stepped.localInfo).toEqual({ k: 1 });
    expect(stepped.payload).toEqual(joined());
    expect(m.withPayload(Uint8Array.of(7)).payloadParts).toEqual([Uint8Array.of(7)]);
  });

  it('encodes exactly as the message with the joined payload', () => {
    const m = LocalMessage.fromParts(['echo'], ['app'], parts());
    const plain = new LocalMessage(['echo'], ['app'], joined());
    expect(encodeTransportMessage(m)).toEqual(encodeTransportMessage(plain));
    expect(encodeLegacyTransportMessage(m)).toEqual(encodeLegacyTransportMessage(plain));
    expect(LocalMessage.fromParts(['echo'], [], [Uint8Array.of(4)]).payload).toEqual(Uint8Array.of(4));
    expect(LocalMessage.fromParts(['echo'], [], []).payloadLength).toBe(0);
  });
});

describe('joinBytes', () => {
  it('gives the one part itself, and a new buffer for several or none', () => {
    const one = Uint8Array.of(1, 2);
    expect(joinBytes([one])).toBe(one);
    const joined = joinBytes([one, new Uint8Array(0), Uint8Array.of(3)]);
    expect(joined).toEqual(Uint8Array.of(1, 2, 3));
    expect(joined.buffer).not.toBe(one.buffer);
    expect(joinBytes([])).toEqual(new Uint8Array(0));
  });
});

describe("a payload's owner hears when its bytes are released (withRelease, releasePayload)", () => {
  it('calls the owner once, from the message or any copy of it, and never for a new payload', () => {
    let calls = 0;
    const m = LocalMessage.fromParts(['a', 'b'], ['app'], [Uint8Array.of(1), Uint8Array.of(2)]).withRelease(
      () => calls++,
    );
    expect(m.payloadParts.length).toBe(2); // still in parts
    const copy = m.stepForward(Address.parse('a')).withLocalInfo({ k: 1 });
    const replaced = copy.withPayload(Uint8Array.of(9));
    replaced.releasePayload();
    expect(calls).toBe(0); // a new payload has no owner
    copy.releasePayload();
    expect(calls).toBe(1);
    m.releasePayload();
    copy.releasePayload();
    expect(calls).toBe(1);
    // A message nobody owns: releasing does nothing.
    new LocalMessage(['a'], [], Uint8Array.of(1)).releasePayload();
  });
});

describe('transport messages in pieces (decodeTransportMessageParts)', () => {
  const splits = (bytes: Uint8Array, cuts: number[]) => {
    const out: Uint8Array[] = [];
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      out.push(bytes.subarray(at, cut));
      at = cut;
    }
    return out;
  };

  it('decodes a message split anywhere to the same message, the payload as views when the head is whole', () => {
    const payload = new Uint8Array(300).map((_, i) => i & 0xff);
    const withTracing = new LocalMessage(['a', 'b'], ['c'], payload, undefined, '{"traceparent":"x"}');
    for (const m of [new LocalMessage(['a', 'b'], ['c'], payload), withTracing]) {
      const bytes = encodeTransportMessage(m);
      for (let cut = 0; cut <= bytes.length; cut += 7) {
        for (const cuts of [[cut], [cut, Math.min(bytes.length, cut + 100)]]) {
          const pieces = splits(bytes, cuts);
          const d = decodeTransportMessageParts(pieces);
          expect(d.onwardRoute.toString()).toBe('0#a => 0#b');
          expect(d.returnRoute.toString()).toBe('0#c');
          expect(d.tracingContext).toBe(m.tracingContext);
          expect(d.payloadLength).toBe(300);
          expect([...d.payload]).toEqual([...payload]);
        }
      }
      // Head in the first piece, payload split: the parts are views of the pieces, not copies.
      const pieces = splits(bytes, [40, 200]);
      const d = decodeTransportMessageParts(pieces);
      if (m.tracingContext === undefined) {
        expect(d.payloadParts.length).toBe(3);
        expect(d.payloadParts.every((p, i) => p.buffer === pieces[i]!.buffer)).toBe(true);
      }
    }
  });

  it('keeps the payload as views of the pieces when a read ended inside the head', () => {
    // A socket read can end a few bytes into a frame: the head is read from a copy of the first
    // bytes, the payload still points into the pieces (no copy of a large payload).
    const payload = new Uint8Array(50_000).map((_, i) => (i * 7) & 0xff);
    const bytes = encodeTransportMessage(new LocalMessage(['forward_to_x', 'a'.repeat(32)], ['b'], payload));
    for (const cuts of [[1], [3], [3, 20], [30], [30, 40_000], [3, 10, 30_000]]) {
      const pieces = splits(bytes, cuts);
      const d = decodeTransportMessageParts(pieces);
      expect(d.onwardRoute.toString()).toBe(`0#forward_to_x => 0#${'a'.repeat(32)}`);
      expect(d.returnRoute.toString()).toBe('0#b');
      expect(d.payloadParts.every((p) => pieces.some((q) => q.buffer === p.buffer))).toBe(true);
      expect(d.payloadParts.reduce((n, p) => n + p.length, 0)).toBe(50_000);
      expect(d.payload).toEqual(payload);
    }
  });

  it('fails exactly as decodeTransportMessage does on the joined bytes', () => {
    const good = encodeTransportMessage(new LocalMessage(['a'], ['b'], new Uint8Array(100)));
    const trailing = new Uint8Array(good.length + 1);
    trailing.set(good);
    for (const bad of [good.subarray(0, good.length - 1), trailing, Uint8Array.of(0x83, 0x80)]) {
      let expected = '';
      try {
        decodeTransportMessage(bad);
      } catch (e) {
        expected = (e as Error).message;
      }
      expect(expected).not.toBe('');
      for (const cut of [1, 10, 30, bad.length - 1]) {
        if (cut <= 0 || cut >= bad.length) continue;
        expect(() => decodeTransportMessageParts([bad.subarray(0, cut), bad.subarray(cut)])).toThrow(
          expected,
        );
      }
    }
  });
});

describe('decoded payloads own their memory', () => {
  it('copies the payload even when the input is a Buffer (whose slice() is a view)', () => {
    const frame = Buffer.from(
      encodeTransportMessage(new LocalMessage(Route.of('a'), Route.empty(), new Uint8Array([1, 2, 3]))),
    );
    const m = decodeTransportMessage(frame);
    frame.fill(0);
    expect(m.payload).toEqual(new Uint8Array([1, 2, 3]));
    expect(Buffer.isBuffer(m.payload)).toBe(false);
    const legacy = Buffer.from(
      encodeLegacyTransportMessage(new LocalMessage(Route.of('a'), Route.empty(), new Uint8Array([4]))),
    );
    const l = decodeLegacyTransportMessage(legacy);
    legacy.fill(0);
    expect(l.payload).toEqual(new Uint8Array([4]));
  });
});

describe('CborReader views', () => {
  it('hands out plain Uint8Array views even from a Buffer, so slice() copies', () => {
    const buf = Buffer.from(fromHex('43010203'));
    const view = new CborReader(buf).bytes();
    expect(Object.getPrototypeOf(view)).toBe(Uint8Array.prototype);
    const kept = view.slice();
    buf.fill(0);
    expect(kept).toEqual(new Uint8Array([1, 2, 3]));
  });
});
