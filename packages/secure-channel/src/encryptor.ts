/**
 * The data-phase encryptor (PROTOCOL.md §3.3): every frame is `nonce (8 bytes, big-endian) ‖
 * AES-GCM(plaintext) ‖ tag`, with AES nonce `00000000 ‖ nonce_be` and empty associated data.
 * Before the frame with nonce n (n > 0, n % 32 == 0) the key is replaced by Noise REKEY, so
 * nonces 32i … 32i+31 use the i-th key. Nonce 2^64 − 1 is reserved for REKEY and never sent; the
 * encryptor refuses to go past it rather than wrap.
 *
 * @example
 * ```ts
 * import { Encryptor, Decryptor } from '@ockam/secure-channel';
 * const enc = new Encryptor(vault, sendKey);
 * const frame = enc.encrypt(plaintext); // frame.subarray(0, 8) is the nonce
 * const pieces = enc.encryptToParts([head, body]); // the next frame, as pieces (nonce first)
 * const { frame, release } = enc.encryptPooled([head, body]); // in reused memory
 * ```
 */
import { type AeadKeyHandle, concatBytes, joinBytes, type SecureChannelVault } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import { type FrameLease, leaseFrame } from './internal/frame-pool.js';
import { MAX_NONCE, rekeyAead } from './internal/nonce.js';

/** Nonces per key: the encryptor rekeys every 32 messages. */
export const KEY_RENEWAL_INTERVAL = 32n;
/** Bytes of the explicit nonce that prefixes every encrypted frame. */
export const NONCE_PREFIX_LENGTH = 8;
/** Bytes of the AES-GCM tag. */
export const TAG_LENGTH = 16;

const EMPTY = new Uint8Array(0);

/** An optional vault method (`@ockam/vault` has it): AEAD-encrypt parts into ciphertext pieces. */
interface AeadEncryptParts {
  aeadEncryptParts(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
    out?: Uint8Array,
  ): Uint8Array[];
}

export interface EncryptorOptions {
  /** The first nonce to use (default 0). The key given is the key for this nonce's interval. */
  nonce?: bigint;
}

export class Encryptor {
  readonly #vault: SecureChannelVault;
  #key: AeadKeyHandle | undefined;
  #nonce: bigint;
  /** The interval (nonce / 32) that `#key` belongs to. */
  #epoch: bigint;
  readonly #aeadNonce = new Uint8Array(12);
  readonly #aeadNonceView = new DataView(this.#aeadNonce.buffer);

  /** Takes ownership of `key`, which `destroy()` deletes. */
  constructor(vault: SecureChannelVault, key: AeadKeyHandle, options: EncryptorOptions = {}) {
    const nonce = options.nonce ?? 0n;
    if (nonce < 0n || nonce > MAX_NONCE) throw new RangeError(`nonce out of range: ${nonce}`);
    this.#vault = vault;
    this.#key = key;
    this.#nonce = nonce;
    this.#epoch = nonce / KEY_RENEWAL_INTERVAL;
  }

  /** The nonce the next frame will carry. */
  get nonce(): bigint {
    return this.#nonce;
  }

  /** Encrypts one frame. Throws `resource` once the nonce space is exhausted, `shutdown` after destroy. */
  encrypt(plaintext: Uint8Array): Uint8Array {
    return this.encryptParts(plaintext);
  }

  /**
   * Encrypts one frame whose plaintext is the concatenation of `parts` (or one array); see
   * `encrypt`. The frame is one buffer; `encryptToParts` spares joining it.
   */
  encryptParts(parts: Uint8Array | readonly Uint8Array[]): Uint8Array {
    return concatBytes(...this.encryptToParts(parts instanceof Uint8Array ? [parts] : parts));
  }

  /**
   * Encrypts one frame whose plaintext is the concatenation of `parts` and returns the frame as
   * pieces: the 8-byte nonce, then ciphertext ‖ tag in one or more pieces. Nothing is joined or
   * copied when the vault can encrypt in parts (`@ockam/vault` can); send the pieces with
   * `LocalMessage.fromParts`.
   */
  encryptToParts(parts: readonly Uint8Array[]): Uint8Array[] {
    const key = this.#next();
    const n = this.#nonce;
    const prefix = new Uint8Array(NONCE_PREFIX_LENGTH);
    new DataView(prefix.buffer).setBigUint64(0, n);
    const vault = this.#vault as SecureChannelVault & Partial<AeadEncryptParts>;
    let frame: Uint8Array[];
    if (typeof vault.aeadEncryptParts === 'function') {
      frame = vault.aeadEncryptParts(key, this.#aeadNonce, parts, EMPTY);
      frame.unshift(prefix);
    } else {
      const plaintext = joinBytes(parts);
      frame = [prefix, vault.aeadEncrypt(key, this.#aeadNonce, plaintext, EMPTY)];
    }
    this.#nonce = n + 1n;
    return frame;
  }

  /**
   * Encrypts one frame like `encryptToParts`, into one buffer taken from a pool of frame memory
   * shared by the process's encryptors. `release` gives the memory back: call it once nothing
   * reads the frame any more (hand it to `LocalMessage.withRelease`, and TCP calls it when the
   * write completed). A frame never released is simply collected; calling it twice does nothing.
   */
  encryptPooled(parts: readonly Uint8Array[]): FrameLease {
    const vault = this.#vault as SecureChannelVault & Partial<AeadEncryptParts>;
    if (typeof vault.aeadEncryptParts !== 'function') {
      return { frame: this.encryptParts(parts), release: () => {} };
    }
    const key = this.#next();
    const n = this.#nonce;
    let length = NONCE_PREFIX_LENGTH + TAG_LENGTH;
    for (const part of parts) length += part.length;
    const lease = leaseFrame(length);
    const frame = lease.frame;
    try {
      const out = frame.subarray(NONCE_PREFIX_LENGTH);
      const pieces = vault.aeadEncryptParts(key, this.#aeadNonce, parts, EMPTY, out);
      // A vault that returns its own pieces instead of filling `out`: copy them in.
      if (pieces.length !== 1 || pieces[0] !== out) out.set(joinBytes(pieces));
    } catch (e) {
      lease.release();
      throw e;
    }
    new DataView(frame.buffer, frame.byteOffset, NONCE_PREFIX_LENGTH).setBigUint64(0, n);
    this.#nonce = n + 1n;
    return lease;
  }

  /** The key for the current nonce (rekeying as needed), with the AEAD nonce set; checks state. */
  #next(): AeadKeyHandle {
    let key = this.#key;
    if (key === undefined) throw new SecureChannelError('shutdown', 'Encryptor is destroyed');
    const n = this.#nonce;
    if (n >= MAX_NONCE)
      throw new SecureChannelError('resource', 'Secure channel nonce space exhausted; create a new channel');
    const epoch = n / KEY_RENEWAL_INTERVAL;
    // Loop rather than test n % 32 == 0, so state stays right even if an encryption failed midway.
    while (this.#epoch < epoch) {
      const next = rekeyAead(this.#vault, key);
      this.#vault.deleteSecret(key);
      this.#key = key = next;
      this.#epoch++;
    }
    this.#aeadNonceView.setBigUint64(4, n);
    return key;
  }

  /** Deletes the current key. */
  destroy(): void {
    if (this.#key !== undefined) this.#vault.deleteSecret(this.#key);
    this.#key = undefined;
  }
}
