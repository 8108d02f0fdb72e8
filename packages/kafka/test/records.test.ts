import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { OckamError } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decompress } from '../src/internal/compression.js';
import {
  compressionOf,
  crcMatches,
  decodeRecords,
  encodeBatch,
  isControl,
  type KafkaRecord,
  splitBatches,
} from '../src/internal/records.js';
import { Reader, Writer } from '../src/internal/wire.js';

const doc = JSON.parse(readFileSync(new URL('./vectors/batches.json', import.meta.url), 'utf8')) as {
  batches: { name: string; hex: string }[];
};
const batch = (name: string) => Buffer.from(doc.batches.find((b) => b.name === name)?.hex ?? '', 'hex');
const LIMIT = 16 * 1024 * 1024;
const text = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString('utf8'));
/** Records with their byte fields as hex, so Buffers and Uint8Arrays compare equal. */
const view = (records: KafkaRecord[]) =>
  records.map((r) => ({
    ...r,
    key: r.key && Buffer.from(r.key).toString('hex'),
    value: r.value && Buffer.from(r.value).toString('hex'),
    headers: r.headers.map((h) => [
      Buffer.from(h.key).toString('hex'),
      h.value && Buffer.from(h.value).toString('hex'),
    ]),
  }));

describe('record batches (magic 2) from kafka-clients 3.7.2', () => {
  const plain = decodeRecords(splitBatches(batch('none')).batches[0] as never, LIMIT);

  for (const [name, codec] of [
    ['none', 0],
    ['gzip', 1],
    ['snappy', 2],
    ['lz4', 3],
    ['zstd', 4],
  ] as const) {
    it(`decodes a ${name} batch to the same records, and re-encodes it uncompressed with a valid CRC-32C`, () => {
      const { batches, partial } = splitBatches(batch(name));
      expect(partial.length).toBe(0);
      const b = batches[0];
      if (!b) throw new Error('no batch');
      expect(compressionOf(b)).toBe(codec);
      expect(crcMatches(b)).toBe(true);
      const records = decodeRecords(b, LIMIT);
      expect(records.map((r) => text(r.key))).toEqual(['k1', null, 'k3']);
      expect(text(records[0]?.value ?? null)).toBe('hello world');
      expect(records[1]?.value).toBeNull();
      expect(records.map((r) => r.offsetDelta)).toEqual([0, 1, 2]);
      expect(records[2]?.headers.map((h) => [text(h.key), text(h.value)])).toEqual([
        ['h', 'v'],
        ['n', null],
      ]);
      expect(view(records)).toEqual(view(plain));
      const w = new Writer();
      encodeBatch(w, b, records);
      const again = splitBatches(w.finish()).batches[0];
      if (!again) throw new Error('no batch');
      expect(crcMatches(again)).toBe(true);
      expect(compressionOf(again)).toBe(0);
      expect(again.baseOffset).toBe(5n);
      expect(again.baseTimestamp).toBe(b.baseTimestamp);
      expect(view(decodeRecords(again, LIMIT))).toEqual(view(plain));
      if (name === 'none') expect(Buffer.from(w.finish()).equals(batch('none'))).toBe(true);
    });
  }

  it('keeps producer id, epoch, sequence and the transactional bit when re-encoding', () => {
    const b = splitBatches(batch('transactional')).batches[0];
    if (!b) throw new Error('no batch');
    const w = new Writer();
    encodeBatch(w, b, decodeRecords(b, LIMIT));
    expect(Buffer.from(w.finish()).equals(batch('transactional'))).toBe(true);
    expect([b.producerId, b.producerEpoch, b.baseSequence, b.attributes & 0x10]).toEqual([77n, 3, 11, 0x10]);
  });

  it('recognises a control batch (transaction marker)', () => {
    const b = splitBatches(batch('control')).batches[0];
    expect(b && isControl(b)).toBe(true);
  });

  it('returns a trailing partial batch separately, as a broker may cut the last one', () => {
    const all = Buffer.concat([batch('none'), batch('gzip').subarray(0, 70)]);
    const { batches, partial } = splitBatches(all);
    expect(batches.length).toBe(1);
    expect(partial.length).toBe(70);
  });

  it('detects a changed byte through the CRC-32C', () => {
    const bytes = Buffer.from(batch('none'));
    bytes.writeUInt8((bytes.readUInt8(bytes.length - 20) ^ 1) & 0xff, bytes.length - 20);
    const b = splitBatches(bytes).batches[0];
    expect(b && crcMatches(b)).toBe(false);
  });

  it('refuses, at once, a snappy literal whose 4-byte length has the top bit set (snappyjs looped on it for good)', () => {
    // Preamble 16, then a literal tag with a 4-byte length 0x80000000: as a signed 32-bit length it
    // is negative, and snappyjs 0.7's decoder then walks backwards for ever.
    const hostile = Buffer.from('10fc00000080' + '00'.repeat(32), 'hex');
    const started = performance.now();
    expect(() => decompress(2, hostile, 1 << 20)).toThrow(/Cannot decompress snappy/);
    expect(performance.now() - started).toBeLessThan(1000);
    // A block declaring more than the bound is refused before anything is allocated.
    expect(() => decompress(2, Buffer.from('ffffffff0f00', 'hex'), 1 << 20)).toThrow(
      /over the 1048576-byte bound/,
    );
  });

  it('never decodes random bytes into records: a serialization error instead', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 61, maxLength: 300 }),
        fc.integer({ min: 0, max: 4 }),
        (bytes, codec) => {
          const b = Buffer.from(bytes);
          b.writeInt32BE(b.length - 12, 8);
          b[16] = 2;
          b.writeInt16BE(codec, 21);
          try {
            const batches = splitBatches(b).batches;
            for (const x of batches) decodeRecords(x, 1 << 20);
          } catch (e) {
            expect(OckamError.is(e) && e.origin === 'kafka').toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('decompression bounds', () => {
  it('stops a gzip bomb at the limit', () => {
    const bomb = gzipSync(Buffer.alloc(10 << 20));
    expect(() => decompress(1, bomb, 1 << 20)).toThrow(/Cannot decompress gzip/);
  });

  it('refuses snappy data that declares more than the limit', () => {
    // Raw snappy: uvarint length 100 MiB then garbage.
    const data = Buffer.from([0x80, 0x80, 0x80, 0x32, 0x00]);
    expect(() => decompress(2, data, 1 << 20)).toThrow(/Cannot decompress snappy/);
  });

  it('refuses an LZ4 block whose match lengths claim more than the limit', () => {
    // Frame: magic, FLG 0x60 (v1, independent), BD 0x40 (64 KiB), HC, one block: 1 literal then a match of 15+255*200.
    const block = Buffer.concat([
      Buffer.from([0x1f, 0x41, 0x01, 0x00]),
      Buffer.alloc(200, 0xff),
      Buffer.from([0x00]),
    ]);
    const frame = Buffer.concat([
      Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]),
      Buffer.from(Uint32Array.of(block.length).buffer),
      block,
      Buffer.alloc(4),
    ]);
    expect(() => decompress(3, frame, 1024)).toThrow(/over its limit/);
    expect(decompress(3, frame, 1 << 20).length).toBe(1 + 4 + 15 + 255 * 200);
  });

  it('refuses a zstd frame whose window is over the limit before allocating it', () => {
    // Magic, FHD 0x00 (no single segment), window descriptor 0xf8 (2^41 bytes).
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xf8, 0x01, 0x00, 0x00]);
    expect(() => decompress(4, frame, LIMIT)).toThrow(/window of/);
  });
});

describe('varints', () => {
  it('round-trip zig-zag varlongs over the whole int64 range, as numbers while exact', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const w = new Writer();
        const small = v >= -(2n ** 47n) && v < 2n ** 47n;
        w.varlong(small ? Number(v) : v);
        const back = new Reader(w.finish(), 'test').varlong();
        expect(BigInt(back)).toBe(v);
        if (small) expect(typeof back).toBe('number');
      }),
      { numRuns: 2000 },
    );
  });
});
