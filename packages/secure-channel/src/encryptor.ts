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
 * ```
 */
import { type AeadKeyHandle, concatBytes, type SecureChannelVault } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import { MAX_NONCE, rekeyAead } from './internal/nonce.js';

/** Nonces per key: the encryptor rekeys every 32 messages. */
export const KEY_RENEWAL_INTERVAL = 32n;
/** Bytes of the explicit nonce that prefixes every encrypted frame. */
export const NONCE_PREFIX_LENGTH = 8;
/** Bytes of the AES-GCM tag. */
export const TAG_LENGTH = 16;

const EMPTY = new Uint8Array(0);

/** Node's Buffer, where there is one: it can allocate without zero-filling first. */
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;

/**
 * A frame buffer of its own memory (never a shared pool), as a plain Uint8Array. Not zero-filled
 * on Node: the caller writes every byte (nonce, ciphertext, tag) before the frame is used.
 */
function allocateFrame(size: number): Uint8Array {
  if (NodeBuffer === undefined) return new Uint8Array(size);
  const b = NodeBuffer.allocUnsafeSlow(size);
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

/** An optional vault method (`@ockam/vault` has it): AEAD-encrypt into `out` at `offset`. */
interface AeadEncryptInto {
  aeadEncryptInto(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    plaintext: Uint8Array | readonly Uint8Array[],
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): void;
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
   * Encrypts one frame whose plaintext is the concatenation of `parts` (or one array), without
   * concatenating them when the vault can encrypt parts straight into the frame; see `encrypt`.
   */
  encryptParts(parts: Uint8Array | readonly Uint8Array[]): Uint8Array {
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
    let frame: Uint8Array;
    const into = (this.#vault as Partial<AeadEncryptInto>).aeadEncryptInto;
    if (typeof into === 'function') {
      // @ockam/vault's fast path: the ciphertext is written once, straight into the frame.
      let length = 0;
      if (parts instanceof Uint8Array) length = parts.length;
      else for (const part of parts) length += part.length;
      frame = allocateFrame(NONCE_PREFIX_LENGTH + length + TAG_LENGTH);
      into.call(this.#vault, key, this.#aeadNonce, parts, EMPTY, frame, NONCE_PREFIX_LENGTH);
    } else {
      const plaintext = parts instanceof Uint8Array ? parts : concatBytes(...parts);
      const sealed = this.#vault.aeadEncrypt(key, this.#aeadNonce, plaintext, EMPTY);
      frame = new Uint8Array(NONCE_PREFIX_LENGTH + sealed.length);
      frame.set(sealed, NONCE_PREFIX_LENGTH);
    }
    new DataView(frame.buffer).setBigUint64(0, n);
    this.#nonce = n + 1n;
    return frame;
  }

  /** Deletes the current key. */
  destroy(): void {
    if (this.#key !== undefined) this.#vault.deleteSecret(this.#key);
    this.#key = undefined;
  }
}
