/**
 * Decompression of record batch payloads (attributes bits 0–2: 1 gzip, 2 snappy, 3 lz4, 4 zstd),
 * each with a hard bound on the output: a record batch is hostile input, and 16 MiB of LZ4 or
 * zstd can claim gigabytes.
 *
 * - gzip: node:zlib with `maxOutputLength`.
 * - snappy: the `snappy` package (napi-rs over Rust's `snap` crate, which checks every tag against
 *   the input and output it has) for raw Snappy, as librdkafka writes, inside Xerial's framing, as
 *   the Java client writes (`SnappyOutputStream`: magic `82 'SNAPPY' 00`, two int32, then
 *   int32-sized blocks). Each block's declared length is checked against the bound before it
 *   decompresses, because `snap` allocates what the header declares. Not snappyjs: a literal whose
 *   4-byte length has the top bit set makes its length negative, and its loop then runs backwards
 *   for ever on 240 random bytes (found by our property test: an event loop stuck for good).
 * - zstd: fzstd, a maintained pure-JS decoder (Node 20 has no zstd), after a structural walk of
 *   the frames that bounds the output before fzstd allocates a window (fzstd trusts the header's
 *   window size, up to 2 GiB).
 * - lz4: our own LZ4 frame decoder (below). The pure-JS lz4js has no output bound (a run of 0xff
 *   length bytes makes it loop past its buffer) and reads the 64-bit content size with 32-bit
 *   shifts; the native bindings take no output limit. The block format is a few lines; content
 *   and block checksums are not verified because the batch CRC-32C already covers these bytes.
 */
import { gunzipSync } from 'node:zlib';
import { joinBytes, readUvarint } from '@ockam/core';
import { decompress as zstdDecompress } from 'fzstd';
import { uncompressSync } from 'snappy';
import { KafkaInterceptError } from '../errors.js';

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

function fail(codec: string, reason: string, cause?: unknown): never {
  throw new KafkaInterceptError('serialization', `Cannot decompress ${codec} record batch: ${reason}`, {
    cause,
  });
}

export function decompress(codec: number, data: Uint8Array, limit: number): Uint8Array {
  switch (codec) {
    case Compression.none:
      return data;
    case Compression.gzip:
      try {
        return gunzipSync(data, { maxOutputLength: limit });
      } catch (e) {
        return fail('gzip', (e as Error).message, e);
      }
    case Compression.snappy:
      return snappyDecompress(data, limit);
    case Compression.lz4:
      return lz4Decompress(data, limit);
    case Compression.zstd:
      return zstdBounded(data, limit);
    default:
      return fail(`codec ${codec}`, 'unknown compression type');
  }
}

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];

function snappyRaw(block: Uint8Array, limit: number): Uint8Array {
  let declared: number;
  try {
    [declared] = readUvarint(block, 0, 'snappy length');
  } catch (e) {
    return fail('snappy', (e as Error).message, e);
  }
  if (declared > limit) fail('snappy', `block declares ${declared} bytes, over the ${limit}-byte bound`);
  try {
    const out = uncompressSync(Buffer.from(block.buffer, block.byteOffset, block.byteLength), {
      asBuffer: true,
    }) as Buffer;
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    return fail('snappy', (e as Error).message, e);
  }
}

function snappyDecompress(data: Uint8Array, limit: number): Uint8Array {
  if (data.length < 16 || !XERIAL_MAGIC.every((b, i) => data[i] === b)) return snappyRaw(data, limit);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const parts: Uint8Array[] = [];
  let total = 0;
  let at = 16;
  while (at < data.length) {
    if (at + 4 > data.length) fail('snappy', 'truncated xerial block length');
    const n = view.getInt32(at);
    at += 4;
    if (n < 0 || at + n > data.length) fail('snappy', `xerial block of ${n} bytes exceeds the data`);
    const part = snappyRaw(data.subarray(at, at + n), limit - total);
    total += part.length;
    parts.push(part);
    at += n;
  }
  return joinBytes(parts);
}

// LZ4 frame format (lz4_Frame_format.md v1.6.x) and block format (lz4_Block_format.md).
const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/** Output so far: LZ4 blocks may refer back into earlier blocks (block independence flag off). */
interface Lz4Out {
  buf: Uint8Array;
  len: number;
}

function ensure(out: Lz4Out, room: number): void {
  if (out.len + room <= out.buf.length) return;
  let size = Math.max(out.buf.length * 2, 64 * 1024);
  while (size < out.len + room) size *= 2;
  const next = new Uint8Array(size);
  next.set(out.buf.subarray(0, out.len));
  out.buf = next;
}

function lz4Decompress(data: Uint8Array, limit: number): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Lz4Out = { buf: new Uint8Array(0), len: 0 };
  let at = 0;
  while (at < data.length) {
    if (at + 7 > data.length) fail('lz4', 'truncated frame header');
    const magic = view.getUint32(at, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // Skippable frame.
      if (at + 8 > data.length) fail('lz4', 'truncated skippable frame');
      at += 8 + view.getUint32(at + 4, true);
      continue;
    }
    if (magic !== LZ4_MAGIC) fail('lz4', 'bad frame magic');
    const flg = data[at + 4] as number;
    const bd = data[at + 5] as number;
    if (flg >> 6 !== 1) fail('lz4', 'unsupported frame version');
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    if (flg & 0x01) fail('lz4', 'dictionary frames are not supported');
    const blockMax = LZ4_BLOCK_MAX[(bd >> 4) & 7] ?? 0;
    if (blockMax === 0) fail('lz4', 'bad block maximum size');
    at += 6 + (contentSize ? 8 : 0) + 1; // descriptor, optional content size, header checksum
    for (;;) {
      if (at + 4 > data.length) fail('lz4', 'truncated block size');
      const word = view.getUint32(at, true);
      at += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax || at + size > data.length) fail('lz4', `block of ${size} bytes exceeds the frame`);
      const block = data.subarray(at, at + size);
      at += size + (blockChecksum ? 4 : 0);
      const room = Math.min(blockMax, limit - out.len);
      if (word & 0x80000000) {
        if (size > room) fail('lz4', `output over the limit of ${limit} bytes`);
        ensure(out, size);
        out.buf.set(block, out.len);
        out.len += size;
      } else {
        lz4Block(block, out, room);
      }
    }
    at += contentChecksum ? 4 : 0;
  }
  return out.buf.subarray(0, out.len);
}

/** Decodes one LZ4 block (lz4_Block_format.md) onto `out`, writing at most `room` bytes. */
function lz4Block(src: Uint8Array, out: Lz4Out, room: number): void {
  ensure(out, room);
  const buf = out.buf;
  let o = out.len;
  const end = out.len + room;
  let i = 0;
  const tooBig = (): never => fail('lz4', 'block output over its limit');
  while (i < src.length) {
    const token = src[i++] as number;
    let lit = token >> 4;
    if (lit === 15) {
      let b = 255;
      while (b === 255) {
        if (i >= src.length) fail('lz4', 'truncated literal length');
        b = src[i++] as number;
        lit += b;
      }
    }
    if (i + lit > src.length) fail('lz4', 'literals past the block');
    if (o + lit > end) tooBig();
    buf.set(src.subarray(i, i + lit), o);
    i += lit;
    o += lit;
    if (i >= src.length) break; // the last sequence has literals only
    if (i + 2 > src.length) fail('lz4', 'truncated match offset');
    const offset = (src[i] as number) | ((src[i + 1] as number) << 8);
    i += 2;
    if (offset === 0 || offset > o) fail('lz4', 'match offset outside the output');
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b = 255;
      while (b === 255) {
        if (i >= src.length) fail('lz4', 'truncated match length');
        b = src[i++] as number;
        len += b;
      }
    }
    if (o + len > end) tooBig();
    // A match may overlap its own output (offset < len): then it repeats, byte by byte.
    if (offset >= len) buf.copyWithin(o, o - offset, o - offset + len);
    else for (let k = 0; k < len; k++) buf[o + k] = buf[o + k - offset] as number;
    o += len;
  }
  out.len = o;
}

// zstd frame format (RFC 8878 §3.1): walk frames and blocks to bound the output first.
function zstdBounded(data: Uint8Array, limit: number): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let bound = 0;
  let at = 0;
  while (at < data.length) {
    if (at + 5 > data.length) fail('zstd', 'truncated frame header');
    const magic = view.getUint32(at, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (at + 8 > data.length) fail('zstd', 'truncated skippable frame');
      at += 8 + view.getUint32(at + 4, true);
      continue;
    }
    if (magic !== 0xfd2fb528) fail('zstd', 'bad frame magic');
    const fhd = data[at + 4] as number;
    const singleSegment = (fhd >> 5) & 1;
    const dictIdSize = [0, 1, 2, 4][fhd & 3] as number;
    const fcsSize = [singleSegment, 2, 4, 8][fhd >> 6] as number;
    let window = 0;
    let p = at + 5;
    if (!singleSegment) {
      const wd = data[p++];
      if (wd === undefined) fail('zstd', 'truncated window descriptor');
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    p += dictIdSize;
    if (p + fcsSize > data.length) fail('zstd', 'truncated frame header');
    if (singleSegment) {
      let fcs = 0;
      for (let k = fcsSize - 1; k >= 0; k--) fcs = fcs * 256 + (data[p + k] as number);
      window = fcsSize === 2 ? fcs + 256 : fcs;
    }
    p += fcsSize;
    if (window > limit) fail('zstd', `window of ${window} bytes is over the limit of ${limit}`);
    for (;;) {
      if (p + 3 > data.length) fail('zstd', 'truncated block header');
      const h = (data[p] as number) | ((data[p + 1] as number) << 8) | ((data[p + 2] as number) << 16);
      p += 3;
      const last = h & 1;
      const type = (h >> 1) & 3;
      const size = h >>> 3;
      if (type === 3) fail('zstd', 'reserved block type');
      // Raw: size bytes follow. RLE: one byte, repeated size times. Compressed: at most 128 KiB out.
      bound += type === 2 ? 128 * 1024 : size;
      p += type === 1 ? 1 : size;
      if (p > data.length) fail('zstd', 'block past the data');
      if (last) break;
    }
    if ((fhd >> 2) & 1) p += 4; // content checksum
    at = p;
    if (bound > limit) fail('zstd', `output may exceed the limit of ${limit} bytes`);
  }
  try {
    const out = zstdDecompress(data);
    if (out.length > limit) fail('zstd', `output over the limit of ${limit} bytes`);
    return out;
  } catch (e) {
    if (e instanceof KafkaInterceptError) throw e;
    return fail('zstd', (e as Error).message, e);
  }
}
