/**
 * Noise SymmetricState (spec §5.2): the chaining key `ck` (a vault secret), the handshake hash
 * `h` (public) and a CipherState. HASH is SHA-256 and HKDF is HKDF-SHA256 with `ck` as salt and
 * empty info, which is what the spec's HMAC construction computes (§4.3).
 *
 * @example
 * ```ts
 * import { SymmetricState } from '@ockam/secure-channel';
 * const ss = new SymmetricState(vault, 'aes-256-gcm', 'Noise_XX_25519_AESGCM_SHA256');
 * ss.mixHash(new Uint8Array(0)); // empty prologue
 * ```
 */
import type { AeadAlgorithm, SecretHandle, SecureChannelVault, SigningVault } from '@ockam/core';
import { CipherState } from './noise-cipher-state.js';

export const HASHLEN = 32;

/** What a SymmetricState needs from a vault: the secure-channel primitives and SHA-256. */
export type SymmetricVault = SecureChannelVault & Pick<SigningVault, 'sha256'>;
const EMPTY = new Uint8Array(0);
const ascii = new TextEncoder();

export class SymmetricState {
  readonly #vault: SymmetricVault;
  readonly #algorithm: AeadAlgorithm;
  readonly #cipherState: CipherState;
  #ck: SecretHandle;
  #h: Uint8Array;
  #destroyed = false;

  /** InitializeSymmetric(protocol_name). */
  constructor(vault: SymmetricVault, algorithm: AeadAlgorithm, protocolName: string) {
    this.#vault = vault;
    this.#algorithm = algorithm;
    const name = ascii.encode(protocolName);
    if (name.length <= HASHLEN) {
      this.#h = new Uint8Array(HASHLEN);
      this.#h.set(name);
    } else {
      this.#h = vault.sha256(name);
    }
    this.#ck = vault.importSecret(this.#h);
    this.#cipherState = new CipherState(vault, algorithm);
  }

  /** MixKey(input_key_material): consumes `ikm` (it is deleted from the vault). */
  mixKey(ikm: SecretHandle): void {
    const [ck, tempK] = this.#vault.hkdf(this.#ck, ikm, EMPTY, 2) as [SecretHandle, SecretHandle];
    this.#replaceCk(ck);
    this.#vault.deleteSecret(ikm);
    this.#cipherState.initializeKey(this.#aeadKey(tempK));
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    const input = new Uint8Array(HASHLEN + data.length);
    input.set(this.#h);
    input.set(data, HASHLEN);
    this.#h = this.#vault.sha256(input);
  }

  /** MixKeyAndHash(input_key_material) (spec §5.2, used for psk tokens): consumes `ikm`. */
  mixKeyAndHash(ikm: SecretHandle): void {
    const [ck, tempH, tempK] = this.#vault.hkdf(this.#ck, ikm, EMPTY, 3) as [
      SecretHandle,
      SecretHandle,
      SecretHandle,
    ];
    this.#replaceCk(ck);
    this.#vault.deleteSecret(ikm);
    // temp_h only feeds the public transcript hash.
    const h = this.#vault.exportSecret(tempH);
    this.#vault.deleteSecret(tempH);
    this.mixHash(h);
    this.#cipherState.initializeKey(this.#aeadKey(tempK));
  }

  /** GetHandshakeHash(). */
  get handshakeHash(): Uint8Array {
    return this.#h;
  }

  /** Whether the CipherState has a key (so payloads and static keys are encrypted). */
  hasKey(): boolean {
    return this.#cipherState.hasKey();
  }

  /** EncryptAndHash(plaintext). */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.#cipherState.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): throws on authentication failure. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipherState.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Split(): two CipherStates from HKDF(ck, empty); ck and the handshake key are deleted. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.#vault.hkdf(this.#ck, undefined, EMPTY, 2) as [SecretHandle, SecretHandle];
    const c1 = new CipherState(this.#vault, this.#algorithm);
    const c2 = new CipherState(this.#vault, this.#algorithm);
    c1.initializeKey(this.#aeadKey(k1));
    c2.initializeKey(this.#aeadKey(k2));
    this.destroy();
    return [c1, c2];
  }

  /** Deletes ck and the handshake CipherState's key. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#vault.deleteSecret(this.#ck);
    this.#cipherState.destroy();
  }

  #replaceCk(ck: SecretHandle): void {
    this.#vault.deleteSecret(this.#ck);
    this.#ck = ck;
  }

  #aeadKey(secret: SecretHandle) {
    try {
      return this.#vault.aeadKey(secret, this.#algorithm);
    } finally {
      this.#vault.deleteSecret(secret);
    }
  }
}
