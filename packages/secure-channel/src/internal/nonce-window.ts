/**
 * The data-phase replay and reorder window (PROTOCOL.md §3.3, after Ockam's `nonce_tracker.rs`):
 * a 64-bit bitmap of the nonces seen at and below the highest one. A nonce may be at most
 * `KEY_RENEWAL_INTERVAL` (32) behind the highest seen and at most 32 ahead of it; a nonce seen
 * before is refused. Checking and marking are separate so the caller commits only after the
 * message authenticated.
 */
export const WINDOW_SIZE = 32n;
const MASK_64 = 0xffffffffffffffffn;

export class NonceWindow {
  /** The highest nonce accepted so far (0 before any, with an empty bitmap). */
  #highest = 0n;
  /** Bit i set: nonce `highest − i` was accepted. */
  #bitmap = 0n;

  get highest(): bigint {
    return this.#highest;
  }

  /** Why `nonce` would be refused, or undefined if it is acceptable. Does not change state. */
  check(nonce: bigint): string | undefined {
    if (nonce > this.#highest) {
      return nonce - this.#highest > WINDOW_SIZE
        ? `nonce ${nonce} is more than ${WINDOW_SIZE} ahead of ${this.#highest}`
        : undefined;
    }
    const behind = this.#highest - nonce;
    if (behind > WINDOW_SIZE) return `nonce ${nonce} is more than ${WINDOW_SIZE} behind ${this.#highest}`;
    if ((this.#bitmap >> behind) & 1n) return `nonce ${nonce} was already received`;
    return undefined;
  }

  /** Records `nonce` as received; call only after `check` accepted it and the message authenticated. */
  mark(nonce: bigint): void {
    if (nonce > this.#highest) {
      this.#bitmap = ((this.#bitmap << (nonce - this.#highest)) | 1n) & MASK_64;
      this.#highest = nonce;
    } else {
      this.#bitmap |= 1n << (this.#highest - nonce);
    }
  }
}
