/**
 * Ockam TCP framing (PROTOCOL.md §2.1), byte-compatible with `ockam_transport_tcp`:
 *
 * - right after connect/accept each side writes one protocol-version byte, `0x01`, and each side
 *   rejects a peer whose first byte is anything else;
 * - then every message is a 4-byte big-endian u32 length followed by the CBOR
 *   `TcpTransportMessage` `[onward, return, payload, tracing?]` (core's transport-message codec);
 * - a declared length above 16 MiB (`MAX_MESSAGE_SIZE`) is refused before any of it is buffered.
 *
 * `FrameDecoder` takes the socket's chunks as they come and hands back whole frames. It keeps a
 * list of chunks rather than one growing buffer, so a frame inside one chunk is a zero-copy view
 * and a frame split across chunks is copied exactly once: the work is linear in the bytes read.
 *
 * @example
 * ```ts
 * import { LocalMessage, decodeTransportMessage } from '@ockam/core';
 * import { encodeFrame, FrameDecoder } from '@ockam/transport-tcp';
 * const decoder = new FrameDecoder();
 * decoder.push(Uint8Array.of(1)); // the peer's version byte
 * decoder.push(encodeFrame(new LocalMessage(['echo'], ['app'], new Uint8Array([5]))));
 * const frame = decoder.next(); // the CBOR bytes of one transport message
 * decodeTransportMessage(frame!).onwardRoute.toString(); // '0#echo'
 * ```
 */
import {
  CborWriter,
  encodeTransportMessage,
  joinBytes,
  type LocalMessage,
  MAX_MESSAGE_SIZE,
} from '@ockam/core';
import { TransportError } from './errors.js';

/** `TcpProtocolVersion::V1`: the single byte each side writes first. */
export const TCP_PROTOCOL_VERSION = 1;
/** Bytes of the big-endian length that precedes every frame. */
export const FRAME_HEADER_LENGTH = 4;

const HEADER_PLACEHOLDER = new Uint8Array(FRAME_HEADER_LENGTH);

/**
 * Encodes one message as it goes on the wire: u32 length, then CBOR, in a single buffer (one
 * `socket.write`). Throws a `TransportError` (`invalid`) if the CBOR exceeds `MAX_MESSAGE_SIZE`.
 */
export function encodeFrame(message: LocalMessage): Uint8Array {
  const writer = new CborWriter(message.payload.length + 96);
  writer.raw(HEADER_PLACEHOLDER);
  const frame = encodeTransportMessage(message, writer);
  const length = frame.length - FRAME_HEADER_LENGTH;
  if (length > MAX_MESSAGE_SIZE) {
    throw new TransportError('invalid', `Cannot encode frame: length ${length} exceeds ${MAX_MESSAGE_SIZE}`);
  }
  new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_LENGTH).setUint32(0, length);
  return frame;
}

export interface FrameDecoderOptions {
  /** Whether the stream starts with the peer's protocol-version byte (default true). */
  expectVersion?: boolean;
  /** Largest accepted frame (default and maximum: `MAX_MESSAGE_SIZE`). */
  maxFrameLength?: number;
}

/**
 * Splits a byte stream into frames. `next()` returns the CBOR bytes of the next whole frame, or
 * undefined if more bytes are needed; it throws a `TransportError` (`protocol`) on a wrong version
 * byte or an oversized length, after which the decoder must be dropped with its connection.
 *
 * A returned frame may be a view into a pushed chunk: use it before the next `push`, or copy it.
 */
export class FrameDecoder {
  readonly #maxFrameLength: number;
  readonly #chunks: Uint8Array[] = [];
  /** Index of the first unread chunk, and read offset within it. */
  #first = 0;
  #offset = 0;
  #buffered = 0;
  #expectVersion: boolean;
  /** Declared length of the frame being assembled, once its header has been read. */
  #pending: number | undefined;
  #failed = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.#expectVersion = options.expectVersion ?? true;
    const max = options.maxFrameLength ?? MAX_MESSAGE_SIZE;
    if (!Number.isInteger(max) || max < 0 || max > MAX_MESSAGE_SIZE) {
      throw new RangeError(`maxFrameLength must be an integer in 0..${MAX_MESSAGE_SIZE}, got ${max}`);
    }
    this.#maxFrameLength = max;
  }

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Pushed chunks that still hold unread bytes: each costs memory beyond its bytes. */
  get bufferedChunks(): number {
    return this.#chunks.length - this.#first;
  }

  push(chunk: Uint8Array): void {
    if (this.#failed) return;
    if (chunk.length === 0) return;
    // A Buffer's `slice` is a view, not a copy: hand out plain Uint8Array views so that decoders
    // that copy with `.slice()` (core's payload) really copy instead of pinning the socket chunk.
    this.#chunks.push(
      Object.getPrototypeOf(chunk) === Uint8Array.prototype
        ? chunk
        : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    this.#buffered += chunk.length;
  }

  /** The next whole frame's CBOR bytes, or undefined if more bytes are needed. */
  next(): Uint8Array | undefined {
    const parts = this.nextParts();
    if (parts === undefined) return undefined;
    return joinBytes(parts);
  }

  /**
   * The next whole frame as views of the chunks it lies in (one view when it lies in one chunk),
   * never copied; or undefined if more bytes are needed. Same errors as `next`.
   */
  nextParts(): Uint8Array[] | undefined {
    if (this.#failed) return undefined;
    if (this.#expectVersion) {
      if (this.#buffered < 1) return undefined;
      const version = this.#take(1)[0]!;
      if (version !== TCP_PROTOCOL_VERSION) {
        this.#fail();
        throw new TransportError(
          'protocol',
          `Unsupported TCP protocol version ${version}, expected ${TCP_PROTOCOL_VERSION}`,
        );
      }
      this.#expectVersion = false;
    }
    if (this.#pending === undefined) {
      if (this.#buffered < FRAME_HEADER_LENGTH) return undefined;
      const h = this.#take(FRAME_HEADER_LENGTH);
      // Unsigned: `<<` would make a length ≥ 2^31 negative.
      const length = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
      if (length > this.#maxFrameLength) {
        this.#fail();
        throw new TransportError(
          'protocol',
          `Cannot decode frame: length ${length} exceeds ${this.#maxFrameLength}`,
        );
      }
      this.#pending = length;
    }
    if (this.#buffered < this.#pending) return undefined;
    const frame = this.#takeParts(this.#pending);
    this.#pending = undefined;
    return frame;
  }

  /** Removes `n` bytes (n ≤ buffered) from the front as views of the chunks they lie in. */
  #takeParts(n: number): Uint8Array[] {
    // A zero-length frame (01 00 00 00 00) can arrive when nothing is buffered at all.
    if (n === 0) return [new Uint8Array(0)];
    this.#buffered -= n;
    const parts: Uint8Array[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.#chunks[this.#first]!;
      const count = Math.min(left, chunk.length - this.#offset);
      parts.push(chunk.subarray(this.#offset, this.#offset + count));
      left -= count;
      this.#offset += count;
      if (this.#offset === chunk.length) this.#advance();
    }
    return parts;
  }

  #fail(): void {
    this.#failed = true;
    this.#chunks.length = 0;
    this.#first = 0;
    this.#offset = 0;
    this.#buffered = 0;
    this.#pending = undefined;
  }

  /** Removes `n` bytes (n ≤ buffered) from the front: a view if they lie in one chunk, else one copy. */
  #take(n: number): Uint8Array {
    const parts = this.#takeParts(n);
    return joinBytes(parts);
  }

  #advance(): void {
    this.#chunks[this.#first] = EMPTY;
    this.#first++;
    this.#offset = 0;
    // Compact the chunk list now and then, so consumed chunks do not pile up in the array.
    if (this.#first === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#first = 0;
    } else if (this.#first > 64 && this.#first * 2 > this.#chunks.length) {
      this.#chunks.splice(0, this.#first);
      this.#first = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
