/**
 * Frames sent in one tick, gathered so that they leave in one `writev` (one syscall per batch
 * instead of one or two per message).
 *
 * Each frame is the u32 length and the CBOR `TcpTransportMessage` of PROTOCOL.md §2.1, written with
 * core's CBOR writer and route codec exactly as `encodeTransportMessage` writes it. Small payloads
 * are copied into the batch's buffer with their frame; a payload of `EXTERNAL_PAYLOAD_BYTES` or more
 * is not copied: its frame's head (length, routes, byte-string head) goes into the buffer and the
 * payload itself is written beside it, so the batch is a list of segments written back to back.
 * Such a payload is written to the socket as it is: like every payload handed to the router, it
 * must not be changed after it was sent, and its owner hears (`LocalMessage.releasePayload`) only
 * once the write that carried it completed; a copied payload is released at once.
 */
import { type Address, CborWriter, type LocalMessage, writeCborAddress, writeCborRoute } from '@ockam/core';
import { FRAME_HEADER_LENGTH } from '../framing.js';

/** A batch is written out once it holds this many bytes (and at the end of the tick). */
export const BATCH_BYTES = 64 * 1024;

/** Payloads at least this large are written beside the batch's buffer instead of copied into it. */
export const EXTERNAL_PAYLOAD_BYTES = 4 * 1024;

/** The batch buffer's first size; it doubles as small frames fill it. */
const INITIAL_CAPACITY = 1024;

const HEADER_PLACEHOLDER = new Uint8Array(FRAME_HEADER_LENGTH);

/**
 * An upper bound of a message's frame size when the sender pops its first onward address: heads
 * of at most 9 bytes, UTF-8 at most 3 bytes per UTF-16 unit.
 */
export function frameSizeBound(message: LocalMessage): number {
  let n = FRAME_HEADER_LENGTH + 1 + 9 + 9 + 9 + message.payloadLength;
  for (const a of message.onwardRoute.addresses) n += 14 + 3 * a.value.length;
  for (const a of message.returnRoute.addresses) n += 14 + 3 * a.value.length;
  if (message.tracingContext !== undefined) n += 9 + 3 * message.tracingContext.length;
  return n;
}

/** Whether `append` writes this message's payload beside the buffer rather than copying it. */
export function hasExternalPayload(message: LocalMessage): boolean {
  return message.payloadLength >= EXTERNAL_PAYLOAD_BYTES && message.tracingContext === undefined;
}

export class FrameBatch {
  readonly #writer = new CborWriter(INITIAL_CAPACITY);
  readonly #segments: Uint8Array[] = [];
  /** Where the writer's bytes not yet in `#segments` begin. */
  #cut = 0;
  /** Bytes of the payloads written beside the buffer. */
  #external = 0;
  /** Messages whose payload parts the segments point into, released once they are written. */
  readonly #held: LocalMessage[] = [];

  /** Bytes in the batch. */
  get length(): number {
    return this.#writer.length + this.#external;
  }

  /** Appends the frame of `message` without its first onward address (the sender's own, §1.3). */
  append(message: LocalMessage): void {
    const w = this.#writer;
    const start = w.length;
    w.raw(HEADER_PLACEHOLDER);
    w.array(message.tracingContext === undefined ? 3 : 4);
    const onward: readonly Address[] = message.onwardRoute.addresses;
    w.array(onward.length - 1);
    for (let i = 1; i < onward.length; i++) writeCborAddress(w, onward[i]!);
    writeCborRoute(w, message.returnRoute);
    // Lengths are patched at once: once the writer's bytes are cut into a segment (a view of its
    // buffer at the time), a later patch might land in a grown copy instead.
    if (hasExternalPayload(message)) {
      const length = message.payloadLength;
      w.bytesHead(length);
      w.setUint32(start, w.length - start - FRAME_HEADER_LENGTH + length);
      // Large parts are written as they are; small ones (a nonce, a tag) are copied into the buffer.
      for (const part of message.payloadParts) {
        if (part.length < EXTERNAL_PAYLOAD_BYTES) {
          w.raw(part);
          continue;
        }
        const end = w.length;
        if (this.#cut < end) this.#segments.push(w.finishView().subarray(this.#cut, end));
        this.#segments.push(part);
        this.#cut = end;
        this.#external += part.length;
      }
      this.#held.push(message);
      return;
    }
    const payload = message.payload;
    w.bytes(payload);
    if (message.tracingContext !== undefined) w.text(message.tracingContext);
    w.setUint32(start, w.length - start - FRAME_HEADER_LENGTH);
    message.releasePayload();
  }

  /**
   * Tells the owners of the payloads the segments point into that their bytes are no longer
   * needed: call it once the segments were written (or will never be).
   */
  release(): void {
    const held = this.#held;
    for (let i = 0; i < held.length; i++) held[i]!.releasePayload();
    held.length = 0;
  }

  /** The batch's segments, in order, every frame with its length in place; the batch is done. */
  finish(): Uint8Array[] {
    const w = this.#writer;
    if (this.#cut < w.length) this.#segments.push(w.finishView().subarray(this.#cut));
    this.#cut = w.length;
    return this.#segments;
  }
}
