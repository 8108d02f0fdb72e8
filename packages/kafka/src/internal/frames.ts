/**
 * Kafka's framing: every request and response is `int32 BE length ‖ body` (protocol guide,
 * "Common Request and Response Structure"). Portal chunks cut frames anywhere, the 4-byte length
 * prefix included: Ockam 0.139 panics on a split prefix (KAFKA.md §1.3); this decoder buffers it.
 *
 * At most one frame (4 + maxFrameSize bytes) is ever buffered: a longer or zero length is fatal.
 */
import { KafkaInterceptError } from '../errors.js';

/** Ockam's MAX_KAFKA_MESSAGE_SIZE (KAFKA.md §1.3). */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

export class FrameDecoder {
  readonly #max: number;
  readonly #what: string;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Body length of the frame being assembled, once its prefix is complete. */
  #want = -1;

  constructor(maxFrameSize: number, what: string) {
    this.#max = maxFrameSize;
    this.#what = what;
  }

  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Appends a chunk; returns the frame bodies it completes, in order. A frame that lies whole in
   * the chunk is a view of it: the caller must not reuse the chunk until its call has resolved.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let input = chunk;
    while (input.length > 0) {
      if (this.#want < 0) {
        const need = 4 - this.#buffered;
        if (this.#buffered === 0 && input.length >= 4) {
          this.#want = this.#checkLength(new DataView(input.buffer, input.byteOffset, 4).getInt32(0));
          input = input.subarray(4);
        } else {
          const take = new Uint8Array(input.subarray(0, need)); // a copy (Buffer#slice would be a view)
          this.#chunks.push(take);
          this.#buffered += take.length;
          input = input.subarray(take.length);
          if (this.#buffered < 4) break;
          const prefix = this.#take();
          this.#want = this.#checkLength(new DataView(prefix.buffer, prefix.byteOffset, 4).getInt32(0));
        }
      }
      const need = this.#want - this.#buffered;
      if (this.#buffered === 0 && input.length >= need) {
        frames.push(input.subarray(0, need));
        input = input.subarray(need);
        this.#want = -1;
        continue;
      }
      // Kept across calls: a copy, since the caller may reuse its chunk once this call is done.
      const take = new Uint8Array(input.subarray(0, need)); // a copy (Buffer#slice would be a view)
      this.#chunks.push(take);
      this.#buffered += take.length;
      input = input.subarray(take.length);
      if (this.#buffered === this.#want) {
        frames.push(this.#take());
        this.#want = -1;
      }
    }
    return frames;
  }

  #checkLength(n: number): number {
    if (n <= 0 || n > this.#max) {
      throw new KafkaInterceptError(
        'resource',
        `Cannot decode ${this.#what} frame: length ${n} is ${n <= 0 ? 'not positive' : `over the limit of ${this.#max}`}`,
      );
    }
    return n;
  }

  /** Joins and clears the buffered pieces (copies already). */
  #take(): Uint8Array {
    const out = new Uint8Array(this.#buffered);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.#chunks = [];
    this.#buffered = 0;
    return out;
  }
}

/** `int32 BE length ‖ body` for each body, concatenated. */
export function frameAll(bodies: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const b of bodies) total += 4 + b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of bodies) {
    view.setInt32(at, b.length);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}
