/**
 * Key-exchange-only secure channels (Ockam's `SecureChannelType::KeyExchangeOnly`, KAFKA.md §2.5,
 * §2.11): the same Noise XX handshake, identity and credential exchange as a normal channel, then
 * no message traffic at all. What is left is one key:
 *
 * - the initiator keeps a {@link KeyExchangeEncryptor}: its send key (k2 in Ockam's reversed
 *   split), nonce from 0, +1 per value, no rekeying;
 * - the responder keeps a {@link KeyExchangeDecryptor}: its receive key (the same k2), any nonce
 *   (no replay window, no rekeying), so values stored long ago and read in any order decrypt.
 *
 * Each value is `nonce (8 bytes, big-endian) ‖ AES-256-GCM(plaintext) ‖ tag (16)`, with AES
 * nonce `00000000 ‖ nonce_be` and empty associated data: the data-phase frame layout, applied to
 * the raw value (no secure-channel message wrapping).
 *
 * @example
 * ```ts
 * import { createKeyExchangeChannel, createSecureChannelListener } from '@ockam/secure-channel';
 * await createSecureChannelListener(bob, { identity, vault, address: 'key_exchanger', keyExchangeOnly: true,
 *   onKeyExchange: (k) => keys.set(k.decryptorAddress.value, k.decryptor) });
 * const k = await createKeyExchangeChannel(alice, ['key_exchanger'], { identity: aliceId, vault: aliceVault });
 * const sealed = k.encryptor.encrypt(new TextEncoder().encode('hi'));
 * keys.get(k.consumerDecryptorAddress.value)!.decrypt(sealed);
 * ```
 */
import type { Address, AeadKeyHandle, SecureChannelVault } from '@ockam/core';
import { NONCE_PREFIX_LENGTH, TAG_LENGTH } from './encryptor.js';
import { SecureChannelError } from './errors.js';
import { MAX_NONCE } from './internal/nonce.js';

const EMPTY = new Uint8Array(0);

/** The smallest value a key-exchange encryptor produces: nonce and tag around an empty plaintext. */
export const KEY_EXCHANGE_OVERHEAD = NONCE_PREFIX_LENGTH + TAG_LENGTH;

/** The producer's end of a key exchange: encrypts values with one key, nonces 0, 1, 2, … */
export class KeyExchangeEncryptor {
  readonly #vault: SecureChannelVault;
  #key: AeadKeyHandle | undefined;
  #nonce = 0n;
  readonly #aeadNonce = new Uint8Array(12);
  readonly #aeadNonceView = new DataView(this.#aeadNonce.buffer);

  /** Takes ownership of `key`, which `destroy()` deletes. */
  constructor(vault: SecureChannelVault, key: AeadKeyHandle) {
    this.#vault = vault;
    this.#key = key;
  }

  /** The nonce the next value will carry. */
  get nonce(): bigint {
    return this.#nonce;
  }

  /** `nonce_be8 ‖ ciphertext ‖ tag`. Throws `resource` when the nonces are used up, `shutdown` after destroy. */
  encrypt(plaintext: Uint8Array): Uint8Array {
    const key = this.#key;
    if (key === undefined) throw new SecureChannelError('shutdown', 'Key-exchange encryptor is destroyed');
    const n = this.#nonce;
    // 2^64 − 1 is never used, as in every Ockam encryptor; a new key exchange gives a new key.
    if (n >= MAX_NONCE)
      throw new SecureChannelError('resource', 'Key-exchange nonce space exhausted; exchange a new key');
    this.#aeadNonceView.setBigUint64(4, n);
    const sealed = this.#vault.aeadEncrypt(key, this.#aeadNonce, plaintext, EMPTY);
    const out = new Uint8Array(NONCE_PREFIX_LENGTH + sealed.length);
    new DataView(out.buffer).setBigUint64(0, n);
    out.set(sealed, NONCE_PREFIX_LENGTH);
    this.#nonce = n + 1n;
    return out;
  }

  destroy(): void {
    if (this.#key !== undefined) this.#vault.deleteSecret(this.#key);
    this.#key = undefined;
  }
}

/** The consumer's end of a key exchange: decrypts values with one key, whatever their nonce. */
export class KeyExchangeDecryptor {
  readonly #vault: SecureChannelVault;
  #key: AeadKeyHandle | undefined;
  readonly #aeadNonce = new Uint8Array(12);
  readonly #aeadNonceView = new DataView(this.#aeadNonce.buffer);

  /** Takes ownership of `key`, which `destroy()` deletes. */
  constructor(vault: SecureChannelVault, key: AeadKeyHandle) {
    this.#vault = vault;
    this.#key = key;
  }

  /**
   * A decryptor for a key kept elsewhere (persisted, KAFKA.md §2.6): the 32 bytes become an AEAD
   * key in `vault`; the caller wipes its copy.
   */
  static fromKey(vault: SecureChannelVault, key: Uint8Array): KeyExchangeDecryptor {
    if (key.length !== 32)
      throw new SecureChannelError('invalid', `A key-exchange key has 32 bytes, not ${key.length}`);
    const secret = vault.importSecret(key);
    try {
      return new KeyExchangeDecryptor(vault, vault.aeadKey(secret, 'aes-256-gcm'));
    } finally {
      vault.deleteSecret(secret);
    }
  }

  /**
   * The key's bytes, to persist it (KAFKA.md §2.6: a restarted consumer still reads older
   * records). The caller stores them under its vault's protection and wipes this copy.
   */
  exportKey(): Uint8Array {
    if (this.#key === undefined)
      throw new SecureChannelError('shutdown', 'Key-exchange decryptor is destroyed');
    return this.#vault.exportSecret(this.#key);
  }

  /** Decrypts `nonce_be8 ‖ ciphertext ‖ tag`; a SecureChannelError `protocol` when it does not authenticate. */
  decrypt(value: Uint8Array): Uint8Array {
    const key = this.#key;
    if (key === undefined) throw new SecureChannelError('shutdown', 'Key-exchange decryptor is destroyed');
    if (value.length < KEY_EXCHANGE_OVERHEAD)
      throw new SecureChannelError(
        'protocol',
        `Encrypted value of ${value.length} bytes is shorter than nonce and tag (${KEY_EXCHANGE_OVERHEAD})`,
      );
    const n = new DataView(value.buffer, value.byteOffset, NONCE_PREFIX_LENGTH).getBigUint64(0);
    this.#aeadNonceView.setBigUint64(4, n);
    try {
      return this.#vault.aeadDecrypt(key, this.#aeadNonce, value.subarray(NONCE_PREFIX_LENGTH), EMPTY);
    } catch (cause) {
      throw new SecureChannelError('protocol', `Encrypted value with nonce ${n} failed authentication`, {
        cause,
      });
    }
  }

  destroy(): void {
    if (this.#key !== undefined) this.#vault.deleteSecret(this.#key);
    this.#key = undefined;
  }
}

/** What the initiator of a key exchange keeps. */
export interface KeyExchangeInitiated {
  /** The consumer's verified identifier. */
  readonly peerIdentifier: string;
  /** The credentials it presented in the handshake (CBOR `CredentialAndPurposeKey`s). */
  readonly peerCredentials: readonly Uint8Array[];
  /**
   * The responder's decryptor address (its `decryptor_remote`, the last hop of the route to it):
   * what each Kafka record names so the consumer finds the key (KAFKA.md §2.3).
   */
  readonly consumerDecryptorAddress: Address;
  readonly encryptor: KeyExchangeEncryptor;
}

/** What the responder of a key exchange keeps. */
export interface KeyExchangeAccepted {
  /** The producer's verified identifier. */
  readonly peerIdentifier: string;
  readonly peerCredentials: readonly Uint8Array[];
  /** Our `decryptor_remote` address in this exchange: the address records carry. */
  readonly decryptorAddress: Address;
  readonly decryptor: KeyExchangeDecryptor;
}
