/**
 * Kafka's primitive types (protocol guide, "Protocol Primitive Types"): big-endian fixed-width
 * integers, unsigned varints (flexible versions), zig-zag varints (record batches v2).
 *
 * The reader checks every length against the bytes left before it allocates or slices: a broker
 * or client is a network peer, and a count of 2^31 must fail at once, not after allocating.
 */
import { KafkaInterceptError } from '../errors.js';

export class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset: number;
  readonly #what: string;

  constructor(bytes: Uint8Array, what: string, offset = 0) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = offset;
    this.#what = what;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  fail(reason: string): never {
    throw new KafkaInterceptError(
      'serialization',
      `Cannot decode ${this.#what}: ${reason} at byte ${this.#offset}`,
    );
  }

  #need(n: number): number {
    if (n < 0 || n > this.remaining) this.fail(`needs ${n} bytes, ${this.remaining} left`);
    const at = this.#offset;
    this.#offset += n;
    return at;
  }

  int8(): number {
    return this.#view.getInt8(this.#need(1));
  }
  int16(): number {
    return this.#view.getInt16(this.#need(2));
  }
  uint16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  int32(): number {
    return this.#view.getInt32(this.#need(4));
  }
  uint32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  int64(): bigint {
    return this.#view.getBigInt64(this.#need(8));
  }
  float64(): number {
    return this.#view.getFloat64(this.#need(8));
  }
  /** A view into the frame (no copy): valid as long as the frame is. */
  bytes(n: number): Uint8Array {
    const at = this.#need(n);
    return this.#bytes.subarray(at, at + n);
  }

  /** Unsigned LEB128, at most 5 bytes (a 32-bit value), as Kafka's ByteUtils.readUnsignedVarint. */
  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.#bytes[this.#need(1)] as number;
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) this.fail('varint over 32 bits');
        return value;
      }
    }
    return this.fail('varint longer than 5 bytes');
  }

  /** Zig-zag varint (record fields), 32-bit. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /**
   * Zig-zag varlong (record timestamp delta), 64-bit: a number while it is exact (up to 7 bytes,
   * 49 bits, the usual case), a bigint beyond; BigInt arithmetic per record is what made this slow.
   */
  varlong(): number | bigint {
    const start = this.#offset;
    let value = 0;
    for (let i = 0; i < 7; i++) {
      const b = this.#bytes[this.#need(1)] as number;
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    this.#offset = start;
    let big = 0n;
    for (let i = 0n; i < 10n; i++) {
      const b = BigInt(this.#bytes[this.#need(1)] as number);
      big |= (b & 0x7fn) << (7n * i);
      if ((b & 0x80n) === 0n) return (big >> 1n) ^ -(big & 1n);
    }
    return this.fail('varlong longer than 10 bytes');
  }

  /** A count or length that must fit in what is left (each item takes at least `minItemSize` bytes). */
  count(n: number, minItemSize: number): number {
    if (n < 0 || n * minItemSize > this.remaining)
      this.fail(`count ${n} exceeds the ${this.remaining} bytes left`);
    return n;
  }
}

/** A growable output buffer. */
export class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  constructor(initial = 256) {
    this.#buf = new Uint8Array(initial);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#len;
  }

  /** Reserves n bytes and returns where they start; call it before reading `#buf`, which it may replace. */
  #room(n: number): number {
    if (this.#len + n > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < this.#len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    const at = this.#len;
    this.#len += n;
    return at;
  }

  int8(v: number): this {
    const at = this.#room(1);
    this.#view.setInt8(at, v);
    return this;
  }
  int16(v: number): this {
    const at = this.#room(2);
    this.#view.setInt16(at, v);
    return this;
  }
  uint16(v: number): this {
    const at = this.#room(2);
    this.#view.setUint16(at, v);
    return this;
  }
  int32(v: number): this {
    const at = this.#room(4);
    this.#view.setInt32(at, v);
    return this;
  }
  uint32(v: number): this {
    const at = this.#room(4);
    this.#view.setUint32(at, v);
    return this;
  }
  int64(v: bigint): this {
    const at = this.#room(8);
    this.#view.setBigInt64(at, v);
    return this;
  }
  float64(v: number): this {
    const at = this.#room(8);
    this.#view.setFloat64(at, v);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.#room(b.length);
    this.#buf.set(b, at);
    return this;
  }
  uvarint(v: number): this {
    let x = v;
    while (x >= 0x80) {
      const at = this.#room(1);
      this.#buf[at] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    const end = this.#room(1);
    this.#buf[end] = x;
    return this;
  }
  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  varlong(v: number | bigint): this {
    if (typeof v === 'number') return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
    let x = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (x >= 0x80n) {
      const at = this.#room(1);
      this.#buf[at] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    const end = this.#room(1);
    this.#buf[end] = Number(x);
    return this;
  }
  /** Overwrites 4 bytes at `at` (length and CRC fields written after their content). */
  patchInt32(at: number, v: number): void {
    this.#view.setInt32(at, v);
  }
  patchUint32(at: number, v: number): void {
    this.#view.setUint32(at, v);
  }
  slice(from: number, to = this.#len): Uint8Array {
    return this.#buf.subarray(from, to);
  }
  /** Empties the buffer, keeping its memory. */
  reset(): void {
    this.#len = 0;
  }
  finish(): Uint8Array {
    return this.#buf.subarray(0, this.#len);
  }
}
