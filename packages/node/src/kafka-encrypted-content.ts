/**
 * The record value Ockam's Kafka inlet stores on the broker (KAFKA.md §2.4, **WIRE**): minicbor's
 * encoding of `KafkaEncryptedContent { consumer_decryptor_address: Address, content: Vec<u8> }`,
 *
 * ```
 * 82                      array(2)
 *   82 <uint tt> <bytes>  Address: [transport type, bytes of its value]
 *   9X …                  content: an ARRAY of uints, one per byte (Vec<u8> without minicbor::bytes)
 * ```
 *
 * where content is `nonce_be8 ‖ AES-256-GCM ciphertext ‖ tag`. Written here as minicbor writes
 * it (definite, minimal heads); read strictly: a value from a topic comes from whoever can write
 * to it, so every length is checked against what remains before anything is allocated,
 * indefinite lengths and trailing bytes are refused, and each item must be a uint ≤ 255.
 *
 * @example
 * ```ts
 * import { decodeKafkaEncryptedContent, encodeKafkaEncryptedContent } from '@ockam/node';
 * const stored = encodeKafkaEncryptedContent('0123456789abcdef0123456789abcdef', sealed);
 * const { address, content } = decodeKafkaEncryptedContent(stored);
 * ```
 */
import { DecodeError, MAX_ADDRESS_LENGTH } from '@ockam/core';

/** Ockam's LOCAL transport type: the decryptor addresses records carry. */
export const LOCAL_TRANSPORT_TYPE = 0;

/** A decoded `KafkaEncryptedContent`. */
export interface KafkaEncryptedContent {
  /** The consumer decryptor's transport type (0 for every address Ockam writes). */
  readonly transportType: number;
  /** The consumer decryptor's address (32 hex characters from Ockam and from us). */
  readonly address: string;
  /** `nonce_be8 ‖ ciphertext ‖ tag`. */
  readonly content: Uint8Array;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const WHAT = 'KafkaEncryptedContent';

/** Bytes of a CBOR head with major type `major` and argument `n` (minimal, as minicbor writes). */
function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n <= 0xffffffff ? 5 : 9;
}

function writeHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    view.setUint16(at + 1, n);
    return at + 3;
  }
  if (n <= 0xffffffff) {
    out[at] = m | 26;
    view.setUint32(at + 1, n);
    return at + 5;
  }
  out[at] = m | 27;
  view.setBigUint64(at + 1, BigInt(n));
  return at + 9;
}

/** The largest encoding written through the reused buffer (1 MiB); a larger one is sized exactly. */
const MAX_SCRATCH_BYTES = 1 << 20;
let scratch = new Uint8Array(4096);
/** The last address encoded, and its UTF-8 bytes: a producer writes one address for many records. */
let lastAddress: { text: string; bytes: Uint8Array } | undefined;

/** The stored record value for `content` sealed for the decryptor at `address` (KAFKA.md §2.4). */
export function encodeKafkaEncryptedContent(
  address: string,
  content: Uint8Array,
  transportType: number = LOCAL_TRANSPORT_TYPE,
): Uint8Array {
  if (!Number.isInteger(transportType) || transportType < 0 || transportType > 255)
    throw new RangeError(`transport type ${transportType} is not a u8`);
  if (lastAddress?.text !== address) lastAddress = { text: address, bytes: utf8Encoder.encode(address) };
  const inner = lastAddress.bytes;
  const head =
    2 + headLength(transportType) + headLength(inner.length) + inner.length + headLength(content.length);
  // Each item is one byte under 24, else two: written in one pass into a buffer large enough for
  // two bytes each, then copied out at its exact length (half the time of counting first).
  const worst = head + 2 * content.length;
  const exact = worst > MAX_SCRATCH_BYTES;
  let out: Uint8Array;
  if (exact) {
    let items = 0;
    for (let i = 0; i < content.length; i++) items += content[i]! < 24 ? 1 : 2;
    out = new Uint8Array(head + items + 1); // + 1: the loop below writes one byte ahead
  } else {
    if (scratch.length < worst)
      scratch = new Uint8Array(Math.min(MAX_SCRATCH_BYTES, Math.max(worst, 2 * scratch.length)));
    out = scratch;
  }
  let at = 0;
  out[at++] = 0x82;
  out[at++] = 0x82;
  at = writeHead(out, at, 0, transportType);
  at = writeHead(out, at, 2, inner.length);
  out.set(inner, at);
  at += inner.length;
  at = writeHead(out, at, 4, content.length);
  // Without branches (random bytes defeat branch prediction, ~1.4× slower): both bytes of a
  // two-byte item are written; a byte under 24 then overwrites the 0x18 and takes one place.
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    const small = (b - 24) >>> 31; // 1 when b < 24
    out[at] = 24 + small * (b - 24);
    out[at + 1] = b;
    at += 2 - small;
  }
  return exact ? out.subarray(0, at) : out.slice(0, at);
}

function fail(reason: string, at: number): never {
  throw new DecodeError(WHAT, `${reason} at byte ${at}`);
}

/**
 * Reads a head of major type `major` at `at`: its argument and where its content starts. Refuses
 * indefinite lengths and arguments beyond 2^53 (no value here comes near).
 */
function readHead(bytes: Uint8Array, at: number, major: number, what: string): [number, number] {
  if (at >= bytes.length) fail(`truncated before ${what}`, at);
  const b = bytes[at]!;
  if (b >> 5 !== major) fail(`expected ${what}`, at);
  const info = b & 0x1f;
  if (info < 24) return [info, at + 1];
  const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
  if (size === 0) fail(`${what} with an indefinite or reserved length`, at);
  if (at + 1 + size > bytes.length) fail(`truncated ${what} head`, at);
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + bytes[at + 1 + i]!;
  if (!Number.isSafeInteger(n)) fail(`${what} argument too large`, at);
  return [n, at + 1 + size];
}

/** Where a stored record's content array starts, and what precedes it (`readKafkaEncryptedHeader`). */
export interface KafkaEncryptedHeader {
  readonly transportType: number;
  readonly address: string;
  /** The number of content items (bytes once decoded): at most the bytes that remain. */
  readonly count: number;
  /** The offset of the first content item. */
  readonly at: number;
}

/**
 * Reads a stored record value up to its content array: the decryptor address and the size of the
 * content, without allocating for the content. Throws a `DecodeError` as the full decoder does.
 */
export function readKafkaEncryptedHeader(bytes: Uint8Array): KafkaEncryptedHeader {
  let at = 0;
  let n: number;
  [n, at] = readHead(bytes, at, 4, 'an array');
  if (n !== 2) fail(`KafkaEncryptedContent must have 2 items, found ${n}`, 0);
  [n, at] = readHead(bytes, at, 4, 'an Address array');
  if (n !== 2) fail(`Address must have 2 items, found ${n}`, 1);
  const [transportType, afterType] = readHead(bytes, at, 0, 'a transport type');
  at = afterType;
  if (transportType > 255) fail(`transport type ${transportType} exceeds 255`, at);
  let length: number;
  [length, at] = readHead(bytes, at, 2, 'an address byte string');
  if (length > MAX_ADDRESS_LENGTH) fail(`address of ${length} bytes exceeds ${MAX_ADDRESS_LENGTH}`, at);
  if (at + length > bytes.length) fail(`truncated address (${length} bytes)`, at);
  let address: string;
  try {
    address = utf8Decoder.decode(bytes.subarray(at, at + length));
  } catch {
    fail('address is not UTF-8', at);
  }
  at += length;
  const [count, contentAt] = readHead(bytes, at, 4, 'a content array');
  at = contentAt;
  // Every item takes at least one byte: a count beyond what remains is refused before allocating.
  if (count > bytes.length - at)
    fail(`content array of ${count} items cannot fit in ${bytes.length - at} bytes`, at);
  return { transportType, address, count, at };
}

/**
 * Decodes the content items that `header` describes into `out` (at least `header.count` bytes
 * long), and checks that nothing follows them. Returns the content: `out`'s first `count` bytes.
 */
export function readKafkaEncryptedItems(
  bytes: Uint8Array,
  header: KafkaEncryptedHeader,
  out: Uint8Array,
): Uint8Array {
  const { count } = header;
  if (out.length < count) throw new RangeError(`${out.length} bytes cannot hold ${count} content items`);
  let at = header.at;
  let i = 0;
  let bad = 0;
  const last = bytes.length - 1;
  // The items minicbor writes: one byte under 24, else 0x18 and the byte. Read without branches
  // (random bytes defeat branch prediction, ~1.5× slower); any other head makes `bad` negative,
  // and the whole content is then read again item by item, which decodes or refuses it exactly.
  for (; i < count && at < last; i++) {
    const b = bytes[at]!;
    const two = ((b ^ 0x18) - 1) >>> 31; // 1 when b is 0x18
    bad |= 24 - b;
    out[i] = b + two * (bytes[at + 1]! - b);
    at += 1 + two;
  }
  if (bad < 0) {
    at = header.at;
    i = 0;
  }
  while (i < count) {
    const b = bytes[at];
    if (b !== undefined && b < 24) {
      out[i++] = b;
      at++;
    } else if (b === 0x18 && at < last) {
      out[i++] = bytes[at + 1]!;
      at += 2;
    } else at = otherItem(bytes, at, out, i++);
  }
  if (at !== bytes.length) fail(`${bytes.length - at} trailing bytes`, at);
  return out.subarray(0, count);
}

/**
 * A content item other than a minimal byte: truncated, not a uint, or a longer (non-minimal) head,
 * which is still a u8 to minicbor when its value fits. Writes it at `out[i]`; returns where the
 * next item starts.
 */
function otherItem(bytes: Uint8Array, at: number, out: Uint8Array, i: number): number {
  if (at >= bytes.length) fail('truncated content', at);
  const [v, next] = readHead(bytes, at, 0, 'a content byte');
  if (v > 255) fail(`content item ${v} is not a byte`, at);
  out[i] = v;
  return next;
}

/**
 * Decodes a stored record value. Throws a `DecodeError` for anything that is not exactly one
 * `KafkaEncryptedContent`; costs at most the bytes given (the content array is checked against
 * the bytes that remain before its buffer is allocated).
 */
export function decodeKafkaEncryptedContent(bytes: Uint8Array): KafkaEncryptedContent {
  const header = readKafkaEncryptedHeader(bytes);
  const content = readKafkaEncryptedItems(bytes, header, new Uint8Array(header.count));
  return { transportType: header.transportType, address: header.address, content };
}
