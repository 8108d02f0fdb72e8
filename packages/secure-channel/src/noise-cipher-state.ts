/**
 * Noise CipherState (spec §5.1): an AEAD key `k` (possibly empty) and a counter nonce `n`.
 * Every operation on `k` goes through the vault, so the key never appears in JS memory.
 *
 * @example
 * ```ts
 * import { CipherState } from '@ockam/secure-channel';
 * const c = new CipherState(vault, 'aes-256-gcm');
 * c.initializeKey(vault.aeadKey(vault.importSecret(key32)));
 * const ct = c.encryptWithAd(new Uint8Array(0), plaintext);
 * ```
 */
import type { AeadAlgorithm, AeadKeyHandle, SecureChannelVault } from '@ockam/core';
import { SecureChannelError } from './errors.js';
import { rekeyAead, writeNonce } from './internal/nonce.js';

/**
 * The spec reserves 2^64 − 1; a JS number counts exactly only up to 2^53 − 1, which we treat as
 * the end of the nonce space (centuries of traffic at any real rate).
 */
const LAST_NONCE = Number.MAX_SAFE_INTEGER - 1;

export class CipherState {
  readonly #vault: SecureChannelVault;
  readonly algorithm: AeadAlgorithm;
  #k: AeadKeyHandle | undefined;
  #n = 0;
  readonly #nonce = new Uint8Array(12);
  readonly #view = new DataView(this.#nonce.buffer);

  constructor(vault: SecureChannelVault, algorithm: AeadAlgorithm) {
    this.#vault = vault;
    this.algorithm = algorithm;
  }

  /** InitializeKey(key): takes ownership of `key` (deleting any previous one) and resets n to 0. */
  initializeKey(key: AeadKeyHandle | undefined): void {
    if (this.#k !== undefined && this.#k !== key) this.#vault.deleteSecret(this.#k);
    this.#k = key;
    this.#n = 0;
  }

  hasKey(): boolean {
    return this.#k !== undefined;
  }

  /** The next nonce to be used. */
  get nonce(): number {
    return this.#n;
  }

  setNonce(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`Noise nonce out of range: ${n}`);
    this.#n = n;
  }

  #nextNonce(): Uint8Array {
    if (this.#n > LAST_NONCE) throw new SecureChannelError('resource', 'Noise nonce space exhausted');
    writeNonce(this.#nonce, this.#view, this.algorithm, this.#n);
    return this.#nonce;
  }

  /** EncryptWithAd(ad, plaintext): plaintext unchanged while k is empty. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return plaintext;
    const out = this.#vault.aeadEncrypt(this.#k, this.#nextNonce(), plaintext, ad);
    this.#n++;
    return out;
  }

  /** DecryptWithAd(ad, ciphertext): on authentication failure throws, and n is not incremented. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return ciphertext;
    let out: Uint8Array;
    try {
      out = this.#vault.aeadDecrypt(this.#k, this.#nextNonce(), ciphertext, ad);
    } catch (cause) {
      throw new SecureChannelError('protocol', 'Noise message failed authentication', { cause });
    }
    this.#n++;
    return out;
  }

  /** Rekey(): k = REKEY(k) (spec §4.2); n is unchanged. */
  rekey(): void {
    if (this.#k === undefined)
      throw new SecureChannelError('invalid', 'Cannot rekey a CipherState without a key');
    const next = rekeyAead(this.#vault, this.#k);
    this.#vault.deleteSecret(this.#k);
    this.#k = next;
  }

  /**
   * Hands the key over to the caller (for the Ockam data phase, which keeps its own explicit
   * nonces) and empties this CipherState.
   */
  takeKey(): AeadKeyHandle {
    const k = this.#k;
    if (k === undefined) throw new SecureChannelError('invalid', 'CipherState has no key');
    this.#k = undefined;
    return k;
  }

  /** Deletes the key from the vault. */
  destroy(): void {
    if (this.#k !== undefined) this.#vault.deleteSecret(this.#k);
    this.#k = undefined;
  }
}
