/**
 * Frames sent in one tick, encoded back to back into one buffer so that they leave in one
 * `socket.write` (one syscall, one allocation per batch instead of two per message).
 *
 * Each frame is the u32 length and the CBOR `TcpTransportMessage` of PROTOCOL.md §2.1, written with
 * core's CBOR writer and route codec exactly as `encodeTransportMessage` writes it; the lengths are
 * patched in when the batch is finished.
 */
import { type Address, CborWriter, type LocalMessage, writeCborAddress, writeCborRoute } from '@ockam/core';
import { FRAME_HEADER_LENGTH } from '../framing.js';

/** A batch is written out once it holds this many bytes (and at the end of the tick). */
export const BATCH_BYTES = 64 * 1024;

const HEADER_PLACEHOLDER = new Uint8Array(FRAME_HEADER_LENGTH);

/**
 * An upper bound of a message's frame size when the sender pops its first onward address: heads
 * of at most 9 bytes, UTF-8 at most 3 bytes per UTF-16 unit.
 */
export function frameSizeBound(message: LocalMessage): number {
  let n = FRAME_HEADER_LENGTH + 1 + 9 + 9 + 9 + message.payload.length;
  for (const a of message.onwardRoute.addresses) n += 14 + 3 * a.value.length;
  for (const a of message.returnRoute.addresses) n += 14 + 3 * a.value.length;
  if (message.tracingContext !== undefined) n += 9 + 3 * message.tracingContext.length;
  return n;
}

export class FrameBatch {
  readonly #writer = new CborWriter(BATCH_BYTES + 1024);
  readonly #starts: number[] = [];

  /** Bytes in the batch. */
  get length(): number {
    return this.#writer.length;
  }

  /** Appends the frame of `message` without its first onward address (the sender's own, §1.3). */
  append(message: LocalMessage): void {
    const w = this.#writer;
    this.#starts.push(w.length);
    w.raw(HEADER_PLACEHOLDER);
    w.array(message.tracingContext === undefined ? 3 : 4);
    const onward: readonly Address[] = message.onwardRoute.addresses;
    w.array(onward.length - 1);
    for (let i = 1; i < onward.length; i++) writeCborAddress(w, onward[i]!);
    writeCborRoute(w, message.returnRoute);
    w.bytes(message.payload);
    if (message.tracingContext !== undefined) w.text(message.tracingContext);
  }

  /** The batch's bytes, every frame with its length in place. */
  finish(): Uint8Array {
    const out = this.#writer.finish();
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const starts = this.#starts;
    for (let i = 0; i < starts.length; i++) {
      const start = starts[i]!;
      const end = i + 1 < starts.length ? starts[i + 1]! : out.length;
      view.setUint32(start, end - start - FRAME_HEADER_LENGTH);
    }
    return out;
  }
}
