/**
 * The data-phase decryptor (PROTOCOL.md §3.3): reads the explicit 8-byte nonce, checks it
 * against the 32-message replay/reorder window, picks the key for its interval (the current
 * key, the previous one, or the next one derived on demand by REKEY), and authenticates. State —
 * the window and the key rotation — changes only after a frame authenticated, so a forged frame
 * cannot disturb the channel.
 *
 * A forged frame costs one tag check and nothing more: a nonce outside the window is refused
 * before any key is touched, and the window reaches at most one interval ahead, whose key is
 * derived once and kept until the rotation (forged frames with nonces there find it ready).
 *
 * @example
 * ```ts
 * import { Decryptor } from '@ockam/secure-channel';
 * const dec = new Decryptor(vault, receiveKey);
 * const plaintext = dec.decrypt(frame); // throws SecureChannelError 'protocol' on replay or forgery
 * ```
 */
import { type AeadKeyHandle, joinBytes, type SecureChannelVault } from '@ockam/core';
import { KEY_RENEWAL_INTERVAL, NONCE_PREFIX_LENGTH, TAG_LENGTH } from './encryptor.js';
import { SecureChannelError } from './errors.js';
import { MAX_NONCE, rekeyAead } from './internal/nonce.js';
import { NonceWindow } from './internal/nonce-window.js';

const EMPTY = new Uint8Array(0);

/** Optional vault methods (`@ockam/vault` has them): AEAD-decrypt into given memory, or from parts. */
interface AeadDecryptInto {
  aeadDecryptInto(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    ciphertextAndTag: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
  ): void;
  aeadDecryptParts(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
  ): Uint8Array;
}

export interface DecryptorOptions {
  /**
   * Decrypt frames in place (default false): the plaintext returned is a view into the frame
   * given, whose ciphertext it overwrites, and nothing is allocated. Only for a caller that owns
   * its frames and never reads them again (the channel's own worker does).
   */
  inPlace?: boolean;
}

export class Decryptor {
  readonly #vault: SecureChannelVault;
  #current: AeadKeyHandle | undefined;
  #previous: AeadKeyHandle | undefined;
  /** The key of the interval after `#current`, once a frame asked for it (authentic or not). */
  #next: AeadKeyHandle | undefined;
  /** The interval (nonce / 32) of `#current`. */
  #epoch = 0n;
  readonly #window = new NonceWindow();
  readonly #aeadNonce = new Uint8Array(12);
  readonly #aeadNonceView = new DataView(this.#aeadNonce.buffer);

  readonly #decryptInto: AeadDecryptInto['aeadDecryptInto'] | undefined;
  readonly #decryptParts: AeadDecryptInto['aeadDecryptParts'] | undefined;

  /** Takes ownership of `key` (the key for nonces 0…31), which `destroy()` deletes. */
  constructor(vault: SecureChannelVault, key: AeadKeyHandle, options: DecryptorOptions = {}) {
    this.#vault = vault;
    this.#current = key;
    const { aeadDecryptInto: into, aeadDecryptParts: parts } = vault as SecureChannelVault &
      Partial<AeadDecryptInto>;
    this.#decryptInto = options.inPlace === true && typeof into === 'function' ? into.bind(vault) : undefined;
    this.#decryptParts = typeof parts === 'function' ? parts.bind(vault) : undefined;
  }

  /** The highest nonce accepted so far. */
  get highestNonce(): bigint {
    return this.#window.highest;
  }

  /** The nonce a frame carries, without decrypting it (undefined if the frame is too short). */
  static nonceOf(frame: Uint8Array): bigint | undefined {
    if (frame.length < NONCE_PREFIX_LENGTH) return undefined;
    return new DataView(frame.buffer, frame.byteOffset, NONCE_PREFIX_LENGTH).getBigUint64(0);
  }

  /**
   * Decrypts one frame and returns the plaintext together with its nonce. Throws a
   * SecureChannelError of kind `protocol` for a short frame, a nonce outside the window or seen
   * before, or a frame that does not authenticate; nothing changes in that case.
   *
   * The frame may come as the parts a transport received it in (`LocalMessage.payloadParts`):
   * with `@ockam/vault` they are decrypted into one new buffer without being joined first, and
   * never changed, even in place.
   */
  decryptFrame(frame: Uint8Array | readonly Uint8Array[]): { plaintext: Uint8Array; nonce: bigint } {
    // One buffer, or the parts to decrypt from (when the vault can and the nonce is in the first).
    let whole: Uint8Array | undefined;
    let parts: readonly Uint8Array[] | undefined;
    if (frame instanceof Uint8Array) whole = frame;
    else if (frame.length < 2 || this.#decryptParts === undefined || frame[0]!.length < NONCE_PREFIX_LENGTH)
      whole = joinBytes(frame);
    else parts = frame;
    const current = this.#current;
    if (current === undefined) throw new SecureChannelError('shutdown', 'Decryptor is destroyed');
    let length = whole?.length ?? 0;
    if (parts !== undefined) for (const part of parts) length += part.length;
    if (length < NONCE_PREFIX_LENGTH + TAG_LENGTH) {
      throw new SecureChannelError(
        'protocol',
        `Encrypted frame of ${length} bytes is shorter than nonce and tag (${NONCE_PREFIX_LENGTH + TAG_LENGTH})`,
      );
    }
    const head = whole ?? parts![0]!;
    const n = new DataView(head.buffer, head.byteOffset, NONCE_PREFIX_LENGTH).getBigUint64(0);
    if (n === MAX_NONCE)
      throw new SecureChannelError('protocol', 'Encrypted frame uses the reserved nonce 2^64 - 1');
    const refused = this.#window.check(n);
    if (refused !== undefined)
      throw new SecureChannelError('protocol', `Encrypted frame refused: ${refused}`);

    const epoch = n / KEY_RENEWAL_INTERVAL;
    // The window keeps n within 32 of the highest nonce, whose interval is the current one, so
    // n's interval is the current one or a neighbour; anything else is refused without a key.
    let key: AeadKeyHandle;
    let rotates = false;
    if (epoch === this.#epoch) key = current;
    else if (epoch + 1n === this.#epoch && this.#previous !== undefined) key = this.#previous;
    else if (epoch === this.#epoch + 1n) {
      key = this.#next ??= rekeyAead(this.#vault, current);
      rotates = true;
    } else throw new SecureChannelError('protocol', `Encrypted frame refused: no key for nonce ${n}`);

    this.#aeadNonceView.setBigUint64(4, n);
    let plaintext: Uint8Array;
    try {
      if (whole === undefined) {
        const sealed = [head.subarray(NONCE_PREFIX_LENGTH), ...parts!.slice(1)];
        plaintext = this.#decryptParts!(key, this.#aeadNonce, sealed, EMPTY);
      } else if (this.#decryptInto !== undefined) {
        plaintext = whole.subarray(NONCE_PREFIX_LENGTH, whole.length - TAG_LENGTH);
        this.#decryptInto(key, this.#aeadNonce, whole.subarray(NONCE_PREFIX_LENGTH), EMPTY, plaintext);
      } else {
        plaintext = this.#vault.aeadDecrypt(key, this.#aeadNonce, whole.subarray(NONCE_PREFIX_LENGTH), EMPTY);
      }
    } catch (cause) {
      throw new SecureChannelError('protocol', `Encrypted frame with nonce ${n} failed authentication`, {
        cause,
      });
    }
    // Commit: the frame is authentic.
    this.#window.mark(n);
    if (rotates) {
      if (this.#previous !== undefined) this.#vault.deleteSecret(this.#previous);
      this.#previous = current;
      this.#current = key;
      this.#next = undefined;
      this.#epoch++;
    }
    return { plaintext, nonce: n };
  }

  /** Decrypts one frame; see `decryptFrame`. */
  decrypt(frame: Uint8Array | readonly Uint8Array[]): Uint8Array {
    return this.decryptFrame(frame).plaintext;
  }

  /** Deletes the current, previous and next keys. */
  destroy(): void {
    for (const key of [this.#current, this.#previous, this.#next])
      if (key !== undefined) this.#vault.deleteSecret(key);
    this.#current = this.#previous = this.#next = undefined;
  }
}
