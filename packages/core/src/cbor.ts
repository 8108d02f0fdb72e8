/**
 * A strict, allocation-light CBOR (RFC 8949) writer and reader for the subset Ockam uses.
 *
 * Why our own instead of a general CBOR library: the reader decodes untrusted network input, so it
 * must check every declared length against the bytes that remain before allocating, refuse
 * indefinite lengths and reserved encodings (minicbor never writes them for Ockam types), bound
 * nesting depth, and fail with a typed `DecodeError` — never return a partial value. The writer
 * emits what minicbor emits for Ockam types: definite lengths, the shortest head for every integer
 * and length (RFC 8949 §4.2.1 "preferred serialization"), byte strings for bytes.
 *
 * @example
 * ```ts
 * import { CborWriter, CborReader } from '@ockam/core';
 * const w = new CborWriter();
 * w.array(2).uint(1).bytes(new Uint8Array([0xca, 0xfe]));
 * const r = new CborReader(w.finish());
 * r.array(); r.uint(); r.bytes(); r.end();
 * ```
 */
import { DecodeError } from './errors.js';
import { copyBytes } from './hex.js';

const MAJOR_UINT = 0;
const MAJOR_NINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Grows a byte buffer as CBOR items are appended. */
export class CborWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  #reserve(n: number): void {
    const need = this.#len + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  #head(major: number, value: number | bigint): this {
    if (typeof value === 'bigint') {
      if (value < 0n || value > 0xffffffffffffffffn)
        throw new RangeError(`CBOR integer out of range: ${value}`);
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return this.#head(major, Number(value));
      this.#reserve(9);
      this.#buf[this.#len++] = (major << 5) | 27;
      this.#view.setBigUint64(this.#len, value);
      this.#len += 8;
      return this;
    }
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`CBOR length or integer out of range: ${value}`);
    this.#reserve(9);
    const m = major << 5;
    if (value < 24) {
      this.#buf[this.#len++] = m | value;
    } else if (value < 0x100) {
      this.#buf[this.#len++] = m | 24;
      this.#buf[this.#len++] = value;
    } else if (value < 0x10000) {
      this.#buf[this.#len++] = m | 25;
      this.#view.setUint16(this.#len, value);
      this.#len += 2;
    } else if (value < 0x100000000) {
      this.#buf[this.#len++] = m | 26;
      this.#view.setUint32(this.#len, value);
      this.#len += 4;
    } else {
      this.#buf[this.#len++] = m | 27;
      this.#view.setBigUint64(this.#len, BigInt(value));
      this.#len += 8;
    }
    return this;
  }

  /** An unsigned integer (major type 0). */
  uint(value: number | bigint): this {
    return this.#head(MAJOR_UINT, value);
  }

  /** Any integer: negative values use major type 1. */
  int(value: number | bigint): this {
    if (typeof value === 'bigint')
      return value < 0n ? this.#head(MAJOR_NINT, -1n - value) : this.#head(MAJOR_UINT, value);
    return value < 0 ? this.#head(MAJOR_NINT, -1 - value) : this.#head(MAJOR_UINT, value);
  }

  /** A byte string (major type 2). */
  bytes(value: Uint8Array): this {
    this.#head(MAJOR_BYTES, value.length);
    this.#reserve(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    return this;
  }

  /**
   * Only the head of a byte string of `length` bytes: the caller appends exactly `length` bytes
   * after it (with `raw`, or beside this writer's output when writing them out separately).
   */
  bytesHead(length: number): this {
    return this.#head(MAJOR_BYTES, length);
  }

  /** A UTF-8 text string (major type 3). */
  text(value: string): this {
    // Upper bound for UTF-8 of a JS string is 3 bytes per UTF-16 unit.
    const max = value.length * 3;
    this.#reserve(max + 9);
    if (max < 24) {
      const start = this.#len + 1;
      const { written } = textEncoder.encodeInto(value, this.#buf.subarray(start));
      this.#buf[this.#len] = (MAJOR_TEXT << 5) | written;
      this.#len = start + written;
      return this;
    }
    const encoded = textEncoder.encode(value);
    this.#head(MAJOR_TEXT, encoded.length);
    this.#buf.set(encoded, this.#len);
    this.#len += encoded.length;
    return this;
  }

  /** An array header for `length` items that follow (major type 4). */
  array(length: number): this {
    return this.#head(MAJOR_ARRAY, length);
  }

  /** A map header for `length` key/value pairs that follow (major type 5). */
  map(length: number): this {
    return this.#head(MAJOR_MAP, length);
  }

  bool(value: boolean): this {
    this.#reserve(1);
    this.#buf[this.#len++] = value ? 0xf5 : 0xf4;
    return this;
  }

  null(): this {
    this.#reserve(1);
    this.#buf[this.#len++] = 0xf6;
    return this;
  }

  /** A float64 (minicbor writes f64 for f64 fields). */
  float64(value: number): this {
    this.#reserve(9);
    this.#buf[this.#len++] = 0xfb;
    this.#view.setFloat64(this.#len, value);
    this.#len += 8;
    return this;
  }

  /** Appends bytes that are already CBOR. */
  raw(encoded: Uint8Array): this {
    this.#reserve(encoded.length);
    this.#buf.set(encoded, this.#len);
    this.#len += encoded.length;
    return this;
  }

  get length(): number {
    return this.#len;
  }

  /** The bytes written so far (a copy, safe to keep). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  /**
   * The bytes written so far as a view, without copying. The writer never rewrites bytes it has
   * written (growing moves later writes to a new buffer), so the view stays valid; only
   * `setUint32` changes written bytes, and only in the buffer current at the time of the call.
   */
  finishView(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }

  /**
   * Empties the writer to encode again into the same memory, so that a hot path allocates
   * nothing per message. Every view `finishView` returned before is overwritten by later writes:
   * reset only once those bytes were consumed.
   */
  reset(): this {
    this.#len = 0;
    return this;
  }

  /** Overwrites 4 already-written bytes at `offset` with `value`, big-endian (a length placeholder). */
  setUint32(offset: number, value: number): this {
    if (!Number.isInteger(offset) || offset < 0 || offset + 4 > this.#len)
      throw new RangeError(`no 4 written bytes at offset ${offset} of ${this.#len}`);
    this.#view.setUint32(offset, value);
    return this;
  }

  /** Bytes of the head (major type and argument) that encodes the number `value`. */
  static headLength(value: number): number {
    if (value < 24) return 1;
    if (value < 0x100) return 2;
    if (value < 0x10000) return 3;
    if (value < 0x100000000) return 5;
    return 9;
  }
}

export const MAX_CBOR_DEPTH = 64;

/** The kinds of CBOR item a reader can find next. */
export type CborType =
  | 'uint'
  | 'nint'
  | 'bytes'
  | 'text'
  | 'array'
  | 'map'
  | 'tag'
  | 'bool'
  | 'null'
  | 'undefined'
  | 'float';

/**
 * Reads CBOR items one at a time from untrusted bytes. Every method throws `DecodeError` on a
 * type mismatch, truncation, indefinite length or a declared length larger than what remains.
 */
export class CborReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #pos: number;
  readonly #end: number;
  readonly what: string;

  constructor(bytes: Uint8Array, what = 'CBOR', start = 0, end = bytes.length) {
    // A plain Uint8Array view even when given a Buffer: Buffer#slice does not copy, and callers
    // rely on `reader.bytes().slice()` to own what they keep.
    this.#bytes =
      Object.getPrototypeOf(bytes) === Uint8Array.prototype
        ? bytes
        : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = start;
    this.#end = end;
    this.what = what;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  fail(reason: string): never {
    throw new DecodeError(this.what, `${reason} at byte ${this.#pos}`);
  }

  #need(n: number): void {
    if (this.#end - this.#pos < n)
      this.fail(`truncated input (need ${n} more bytes, have ${this.#end - this.#pos})`);
  }

  /** The type of the next item, without consuming it; undefined at the end. */
  peekType(): CborType | undefined {
    if (this.#pos >= this.#end) return undefined;
    const b = this.#bytes[this.#pos]!;
    switch (b >> 5) {
      case MAJOR_UINT:
        return 'uint';
      case MAJOR_NINT:
        return 'nint';
      case MAJOR_BYTES:
        return 'bytes';
      case MAJOR_TEXT:
        return 'text';
      case MAJOR_ARRAY:
        return 'array';
      case MAJOR_MAP:
        return 'map';
      case MAJOR_TAG:
        return 'tag';
      default:
        if (b === 0xf4 || b === 0xf5) return 'bool';
        if (b === 0xf6) return 'null';
        if (b === 0xf7) return 'undefined';
        return 'float';
    }
  }

  /** Reads a head of the given major type; returns its argument as a number or bigint. */
  #headArg(major: number, name: string, allowBig = false): number | bigint {
    this.#need(1);
    const b = this.#bytes[this.#pos]!;
    if (b >> 5 !== major) this.fail(`expected ${name}, found major type ${b >> 5}`);
    this.#pos++;
    const info = b & 0x1f;
    if (info < 24) return info;
    switch (info) {
      case 24:
        this.#need(1);
        return this.#bytes[this.#pos++]!;
      case 25: {
        this.#need(2);
        const v = this.#view.getUint16(this.#pos);
        this.#pos += 2;
        return v;
      }
      case 26: {
        this.#need(4);
        const v = this.#view.getUint32(this.#pos);
        this.#pos += 4;
        return v;
      }
      case 27: {
        this.#need(8);
        const v = this.#view.getBigUint64(this.#pos);
        this.#pos += 8;
        if (v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
        if (!allowBig) this.fail(`${name} ${v} is too large`);
        return v;
      }
      case 31:
        return this.fail(`indefinite-length ${name} is not accepted`);
      default:
        return this.fail(`reserved additional information ${info}`);
    }
  }

  #length(major: number, name: string): number {
    return this.#headArg(major, name) as number;
  }

  /** An unsigned integer that fits in a JS number (≤ 2^53 − 1). */
  uint(): number {
    return this.#headArg(MAJOR_UINT, 'unsigned integer') as number;
  }

  /** An unsigned integer as a bigint (full u64 range). */
  uint64(): bigint {
    return BigInt(this.#headArg(MAJOR_UINT, 'unsigned integer', true));
  }

  /** An unsigned integer no larger than `max`. */
  uintMax(max: number, name = 'integer'): number {
    const v = this.uint();
    if (v > max) this.fail(`${name} ${v} exceeds ${max}`);
    return v;
  }

  /** Any integer in the safe JS range. */
  int(): number {
    const t = this.peekType();
    if (t === 'nint') return -1 - (this.#headArg(MAJOR_NINT, 'negative integer') as number);
    return this.uint();
  }

  /** A byte string, as a view into the input (copy it if you keep it past the input's life). */
  bytes(): Uint8Array {
    const n = this.#length(MAJOR_BYTES, 'byte string');
    this.#need(n);
    const out = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /**
   * Reads only the head of a byte string and returns its declared length; the reader is left at
   * the first content byte, which need not be in this input (the caller checks the length
   * against where the contents really are).
   */
  bytesHead(): number {
    return this.#length(MAJOR_BYTES, 'byte string');
  }

  /** A byte string of exactly `size` bytes. */
  bytesExact(size: number, name = 'byte string'): Uint8Array {
    const b = this.bytes();
    if (b.length !== size) this.fail(`${name} must be ${size} bytes, found ${b.length}`);
    return b;
  }

  /** A UTF-8 text string; invalid UTF-8 is an error. */
  text(): string {
    const n = this.#length(MAJOR_TEXT, 'text string');
    this.#need(n);
    const start = this.#pos;
    this.#pos += n;
    try {
      return textDecoder.decode(this.#bytes.subarray(start, start + n));
    } catch (cause) {
      throw new DecodeError(this.what, `invalid UTF-8 in text string at byte ${start}`, { cause });
    }
  }

  /** An array header; returns the number of items. Each item takes at least one byte. */
  array(): number {
    const n = this.#length(MAJOR_ARRAY, 'array');
    if (n > this.remaining) this.fail(`array of ${n} items cannot fit in ${this.remaining} bytes`);
    return n;
  }

  /**
   * Reads only the head of an array and returns its declared length, not yet checked against the
   * bytes that remain: for a caller that refuses lengths over its own cap first, even in an input
   * cut short (the first piece of a frame). Check `remaining` before reading the items.
   */
  arrayHead(): number {
    return this.#length(MAJOR_ARRAY, 'array');
  }

  /** An array header with a length in [min, max]. */
  arrayOf(min: number, max: number, name = 'array'): number {
    const n = this.array();
    if (n < min || n > max)
      this.fail(`${name} must have ${min === max ? min : `${min}..${max}`} items, found ${n}`);
    return n;
  }

  /** A map header; returns the number of pairs. */
  map(): number {
    const n = this.#length(MAJOR_MAP, 'map');
    if (n * 2 > this.remaining) this.fail(`map of ${n} pairs cannot fit in ${this.remaining} bytes`);
    return n;
  }

  bool(): boolean {
    this.#need(1);
    const b = this.#bytes[this.#pos]!;
    if (b === 0xf4 || b === 0xf5) {
      this.#pos++;
      return b === 0xf5;
    }
    return this.fail('expected a boolean');
  }

  /** Consumes a null (or undefined) if one is next; returns whether it did. */
  nullable(): boolean {
    const b = this.#bytes[this.#pos];
    if (this.#pos < this.#end && (b === 0xf6 || b === 0xf7)) {
      this.#pos++;
      return true;
    }
    return false;
  }

  float(): number {
    this.#need(1);
    const b = this.#bytes[this.#pos]!;
    if (b === 0xfb) {
      this.#need(9);
      const v = this.#view.getFloat64(this.#pos + 1);
      this.#pos += 9;
      return v;
    }
    if (b === 0xfa) {
      this.#need(5);
      const v = this.#view.getFloat32(this.#pos + 1);
      this.#pos += 5;
      return v;
    }
    if (b === 0xf9) {
      this.#need(3);
      const v = halfToFloat(this.#view.getUint16(this.#pos + 1));
      this.#pos += 3;
      return v;
    }
    if (b >> 5 === MAJOR_UINT || b >> 5 === MAJOR_NINT) return this.int();
    return this.fail('expected a float');
  }

  /** Skips one complete item (of any type), bounded in depth. */
  skip(depth = 0): void {
    if (depth > MAX_CBOR_DEPTH) this.fail(`nesting deeper than ${MAX_CBOR_DEPTH}`);
    const t = this.peekType();
    switch (t) {
      case undefined:
        this.fail('truncated input (expected an item)');
        return;
      case 'uint':
        this.#headArg(MAJOR_UINT, 'unsigned integer', true);
        return;
      case 'nint':
        this.#headArg(MAJOR_NINT, 'negative integer', true);
        return;
      case 'bytes':
        this.bytes();
        return;
      case 'text':
        this.text();
        return;
      case 'array': {
        const n = this.array();
        for (let i = 0; i < n; i++) this.skip(depth + 1);
        return;
      }
      case 'map': {
        const n = this.map();
        for (let i = 0; i < 2 * n; i++) this.skip(depth + 1);
        return;
      }
      case 'tag':
        this.#headArg(MAJOR_TAG, 'tag', true);
        this.skip(depth + 1);
        return;
      case 'bool':
      case 'null':
      case 'undefined':
        this.#pos++;
        return;
      case 'float': {
        const b = this.#bytes[this.#pos]!;
        const size = b === 0xf9 ? 3 : b === 0xfa ? 5 : b === 0xfb ? 9 : 0;
        if (size === 0) this.fail(`unsupported simple value 0x${b.toString(16)}`);
        this.#need(size);
        this.#pos += size;
        return;
      }
    }
  }

  /** The raw encoded bytes of the next item (a view), consumed. */
  rawItem(): Uint8Array {
    const start = this.#pos;
    this.skip();
    return this.#bytes.subarray(start, this.#pos);
  }

  /** Skips the `count` remaining items of an array whose known fields were read (minicbor ignores extra fields). */
  skipRest(count: number): void {
    for (let i = 0; i < count; i++) this.skip(1);
  }

  /** Requires that every byte was consumed. */
  end(): void {
    if (this.#pos !== this.#end) this.fail(`${this.#end - this.#pos} trailing bytes`);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** A decoded CBOR value, for generic decoding (diagnostics, tests, API bodies). */
export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | Map<CborValue, CborValue>
  | { tag: number | bigint; value: CborValue };

/** Decodes one complete CBOR item (strictly: no trailing bytes). */
export function decodeCbor(bytes: Uint8Array, what = 'CBOR'): CborValue {
  const r = new CborReader(bytes, what);
  const v = readValue(r, 0);
  r.end();
  return v;
}

function readValue(r: CborReader, depth: number): CborValue {
  if (depth > MAX_CBOR_DEPTH) r.fail(`nesting deeper than ${MAX_CBOR_DEPTH}`);
  const t = r.peekType();
  switch (t) {
    case undefined:
      return r.fail('truncated input (expected an item)');
    case 'uint': {
      const v = r.uint64();
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 'nint':
      return r.int();
    case 'bytes':
      return copyBytes(r.bytes());
    case 'text':
      return r.text();
    case 'array': {
      const n = r.array();
      const out: CborValue[] = [];
      for (let i = 0; i < n; i++) out.push(readValue(r, depth + 1));
      return out;
    }
    case 'map': {
      const n = r.map();
      const out = new Map<CborValue, CborValue>();
      for (let i = 0; i < n; i++) {
        const k = readValue(r, depth + 1);
        out.set(k, readValue(r, depth + 1));
      }
      return out;
    }
    case 'tag':
      return r.fail('tags are not accepted');
    case 'bool':
      return r.bool();
    case 'null':
    case 'undefined':
      r.nullable();
      return null;
    case 'float':
      return r.float();
  }
}

/** Encodes a CborValue (integers as ints, other numbers as float64, Map or plain object as map). */
export function encodeCbor(
  value: CborValue | Record<string, unknown>,
  writer = new CborWriter(),
): Uint8Array {
  writeValue(writer, value, 0);
  return writer.finish();
}

function writeValue(w: CborWriter, v: unknown, depth: number): void {
  if (depth > MAX_CBOR_DEPTH) throw new RangeError('CBOR value nested too deeply');
  if (v === null || v === undefined) w.null();
  else if (typeof v === 'number') Number.isInteger(v) ? w.int(v) : w.float64(v);
  else if (typeof v === 'bigint') w.int(v);
  else if (typeof v === 'string') w.text(v);
  else if (typeof v === 'boolean') w.bool(v);
  else if (v instanceof Uint8Array) w.bytes(v);
  else if (Array.isArray(v)) {
    w.array(v.length);
    for (const x of v) writeValue(w, x, depth + 1);
  } else if (v instanceof Map) {
    w.map(v.size);
    for (const [k, x] of v) {
      writeValue(w, k, depth + 1);
      writeValue(w, x, depth + 1);
    }
  } else if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    w.map(entries.length);
    for (const [k, x] of entries) {
      writeValue(w, /^\d+$/.test(k) ? Number(k) : k, depth + 1);
      writeValue(w, x, depth + 1);
    }
  } else throw new TypeError(`Cannot encode ${typeof v} as CBOR`);
}
