/**
 * Memory for encrypted frames, reused once a transport says a frame has left (TCP does, when the
 * write that carried it completed; see `LocalMessage.withRelease`).
 *
 * Why: a fresh 48 KiB buffer per frame costs an allocation, page faults and, above all, garbage
 * collections driven by external memory (V8 counts every ArrayBuffer's bytes); the sender of a
 * busy channel spent more time on that than on the AES. Reused slots are also still in cache.
 *
 * Slots hold ciphertext only, never plaintext, so a slot handed out again holds nothing secret.
 * The pool is shared by all encryptors of the process and keeps at most `MAX_FREE` slots (at most
 * 4 MiB).
 * Small frames are not pooled (see `POOLED_MIN_BYTES`).
 */

/** A slot fits a frame of a 64 KiB plaintext: 8-byte nonce, ciphertext, 16-byte tag. */
export const SLOT_BYTES = 64 * 1024 + 64;
/**
 * Frames under this size get memory of their own, exactly their size: cheap to allocate, and a
 * route that never releases (UDP, WebSocket, a local worker) must not cost a 64 KiB slot each
 * (a large frame on such a route does: a slot, not zero-filled, instead of its own size).
 */
export const POOLED_MIN_BYTES = 4 * 1024;
/** Free slots kept; more are dropped to the garbage collector. */
export const MAX_FREE = 64;

/** Memory for one frame and the way to give it back; `release` may be called any number of times. */
export interface FrameLease {
  readonly frame: Uint8Array;
  readonly release: () => void;
}

const free: Uint8Array[] = [];
const NOTHING = (): void => {};

/** A frame of `length` bytes, from a free slot when it fits one (a reused slot's old bytes are not cleared). */
export function leaseFrame(length: number): FrameLease {
  if (length > SLOT_BYTES || length < POOLED_MIN_BYTES) return { frame: allocate(length), release: NOTHING };
  // Every slot is SLOT_BYTES, so that any pooled frame fits any free slot whatever the mix of sizes.
  const slot = free.pop() ?? allocate(SLOT_BYTES);
  let held = true;
  return {
    frame: slot.subarray(0, length),
    release: () => {
      // Once only: a slot given back twice would be handed to two frames at the same time.
      if (!held) return;
      held = false;
      if (free.length < MAX_FREE) free.push(slot);
    },
  };
}

/** Free slots now in the pool (for tests). */
export function freeFrameSlots(): number {
  return free.length;
}

/** Node's uninitialised allocation where there is one (every byte of a frame is written before it is read). */
const allocUnsafe = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer
  ?.allocUnsafeSlow;

function allocate(length: number): Uint8Array {
  if (allocUnsafe === undefined) return new Uint8Array(length);
  const b = allocUnsafe(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
