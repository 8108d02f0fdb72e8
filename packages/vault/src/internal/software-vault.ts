/**
 * The Vault logic shared by both backends: handles, lifetimes, wiping, persistence and error
 * mapping. A backend supplies only its {@link Primitives}.
 *
 * PROTOCOL.md §9: signing-key and static X25519 handles are hex SHA-256(public key); secret
 * buffers and AEAD keys get random ids. Noise HKDF yields 2 or 3 outputs of 32 bytes.
 */
import type {
  AeadAlgorithm,
  AeadKeyHandle,
  KeyHandle,
  KeyType,
  PublicKey,
  SecretHandle,
  SigningKeyType,
  Vault,
} from '@ockam/core';
import { joinBytes, randomBytes, toHex } from '@ockam/core';
import type { KeyStore } from '../key-store.js';
import { VaultError } from '../vault-error.js';
import type { PreparedAead, PreparedSigningKey, PreparedX25519Key, Primitives } from './primitives.js';

/** Options common to both vault backends. */
export interface VaultOptions {
  /** Persistent store for signing keys and static X25519 keys; keys stay in memory only without it. */
  store?: KeyStore;
}

interface KeyEntry {
  readonly handle: KeyHandle;
  readonly secret: Uint8Array;
  readonly signer?: PreparedSigningKey;
  readonly x25519?: PreparedX25519Key;
  readonly persistent: boolean;
}

interface SecretEntry {
  readonly handle: SecretHandle;
  readonly bytes: Uint8Array;
}

interface AeadEntry {
  readonly handle: AeadKeyHandle;
  readonly bytes: Uint8Array;
  readonly cipher: PreparedAead;
}

const SECRET_KEY_LENGTH = 32;
const NONCE_LENGTH = 12;
const ZERO_32 = new Uint8Array(32);

// Handle ids take 16 random bytes each from a block drawn 64 ids at a time: one call to the
// system's random source per block instead of per id (a secure channel makes two ids a rekey).
const ID_BYTES = 16;
let idBlock: Uint8Array = new Uint8Array(0);
let idAt = 0;

function randomId(): string {
  if (idAt + ID_BYTES > idBlock.length) {
    idBlock = randomBytes(64 * ID_BYTES);
    idAt = 0;
  }
  const id = toHex(idBlock.subarray(idAt, idAt + ID_BYTES));
  idBlock.fill(0, idAt, idAt + ID_BYTES);
  idAt += ID_BYTES;
  return id;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

function checkSecretLength(secret: Uint8Array, what: string): void {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_KEY_LENGTH) {
    throw new VaultError('invalid', `${what} must be ${SECRET_KEY_LENGTH} bytes, got ${secret?.length}`);
  }
}

export class SoftwareVault implements Vault {
  readonly backend: string;
  readonly #p: Primitives;
  readonly #store: KeyStore | undefined;
  readonly #keys = new Map<string, KeyEntry>();
  readonly #secrets = new Map<string, SecretEntry>();
  readonly #aead = new Map<string, AeadEntry>();

  constructor(primitives: Primitives, options: VaultOptions = {}) {
    this.#p = primitives;
    this.backend = primitives.name;
    this.#store = options.store;
  }

  // --- signing -------------------------------------------------------------------------------

  async generateSigningKey(type: SigningKeyType): Promise<KeyHandle> {
    // A random 32-byte string is a valid Ed25519 seed; for P-256 it is a valid scalar except with
    // probability ~2^-32, in which case we draw again.
    for (let attempt = 0; ; attempt++) {
      const secret = randomBytes(SECRET_KEY_LENGTH);
      try {
        return await this.importSigningKey(type, secret);
      } catch (e) {
        if (attempt >= 8) throw e;
      } finally {
        secret.fill(0);
      }
    }
  }

  async importSigningKey(type: SigningKeyType, secret: Uint8Array): Promise<KeyHandle> {
    if (type !== 'ed25519' && type !== 'p256')
      throw new VaultError('unsupported', `unsupported signing key type ${String(type)}`);
    checkSecretLength(secret, `${type} secret key`);
    const entry = this.#signingEntry(type, new Uint8Array(secret), true);
    await this.#persist(entry);
    return entry.handle;
  }

  async sign(key: KeyHandle, message: Uint8Array): Promise<Uint8Array> {
    const entry = await this.#loadKey(key.id);
    if (entry?.signer === undefined || entry.handle.type !== key.type) {
      throw new VaultError('not-found', `no signing key ${key.id} of type ${key.type} in this vault`);
    }
    return entry.signer.sign(message);
  }

  async publicKey(key: KeyHandle): Promise<Uint8Array> {
    const entry = await this.#loadKey(key.id);
    if (entry === undefined) throw new VaultError('not-found', `no key ${key.id} in this vault`);
    return (entry.signer?.publicKey ?? entry.x25519!.publicKey).slice();
  }

  verify(publicKey: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
    if (publicKey.type !== 'ed25519' && publicKey.type !== 'p256') return false;
    return this.#p.verify(publicKey.type, publicKey.bytes, message, signature);
  }

  sha256(data: Uint8Array): Uint8Array {
    return this.#p.sha256(data);
  }

  async getKey(id: string): Promise<KeyHandle | undefined> {
    return (await this.#loadKey(id))?.handle;
  }

  async deleteKey(key: KeyHandle): Promise<boolean> {
    const entry = this.#keys.get(key.id);
    if (entry !== undefined) {
      entry.secret.fill(0);
      this.#keys.delete(key.id);
    }
    const stored =
      this.#store !== undefined && (entry === undefined || entry.persistent)
        ? await this.#store.delete(key.id)
        : false;
    return entry !== undefined || stored;
  }

  async exportSecretKey(key: KeyHandle): Promise<Uint8Array> {
    const entry = await this.#loadKey(key.id);
    if (entry === undefined) throw new VaultError('not-found', `no key ${key.id} in this vault`);
    return new Uint8Array(entry.secret);
  }

  // --- secure channel ------------------------------------------------------------------------

  async generateX25519(options?: { ephemeral?: boolean }): Promise<KeyHandle> {
    const generated = this.#p.generateX25519?.();
    if (generated !== undefined) return this.#addX25519(generated.secret, generated.key, options);
    const secret = randomBytes(SECRET_KEY_LENGTH);
    try {
      return await this.importX25519(secret, options);
    } finally {
      secret.fill(0);
    }
  }

  async importX25519(secret: Uint8Array, options?: { ephemeral?: boolean }): Promise<KeyHandle> {
    checkSecretLength(secret, 'X25519 secret key');
    const copy = new Uint8Array(secret);
    let prepared: PreparedX25519Key;
    try {
      prepared = this.#p.x25519Key(copy);
    } catch (cause) {
      copy.fill(0);
      throw new VaultError('invalid', 'cannot import X25519 secret key', { cause });
    }
    return this.#addX25519(copy, prepared, options);
  }

  /** Keeps an X25519 key (`secret` is the vault's own copy) and persists it unless ephemeral. */
  async #addX25519(
    secret: Uint8Array,
    prepared: PreparedX25519Key,
    options?: { ephemeral?: boolean },
  ): Promise<KeyHandle> {
    const ephemeral = options?.ephemeral ?? false;
    const id = ephemeral ? randomId() : toHex(this.#p.sha256(prepared.publicKey));
    const entry: KeyEntry = {
      handle: Object.freeze({ id, type: 'x25519' }),
      secret,
      x25519: prepared,
      persistent: !ephemeral,
    };
    this.#replace(entry);
    await this.#persist(entry);
    return entry.handle;
  }

  x25519PublicKey(key: KeyHandle): Uint8Array {
    const entry = this.#keys.get(key.id);
    if (entry?.x25519 === undefined)
      throw new VaultError(
        'not-found',
        `no X25519 key ${key.id} loaded in this vault (load stored keys with getKey)`,
      );
    return entry.x25519.publicKey.slice();
  }

  x25519(key: KeyHandle, peerPublicKey: Uint8Array): SecretHandle {
    const entry = this.#keys.get(key.id);
    if (entry?.x25519 === undefined)
      throw new VaultError(
        'not-found',
        `no X25519 key ${key.id} loaded in this vault (load stored keys with getKey)`,
      );
    let shared: Uint8Array;
    try {
      shared = entry.x25519.dh(peerPublicKey);
    } catch (cause) {
      throw new VaultError('invalid', 'X25519 failed: the peer public key is invalid or of low order', {
        cause,
      });
    }
    // RFC 7748 §6.1: an all-zero output means a low-order peer point; Noise peers must reject it.
    if (shared.length !== 32 || isAllZero(shared)) {
      shared.fill(0);
      throw new VaultError(
        'invalid',
        'X25519 produced an all-zero shared secret: the peer public key is of low order',
      );
    }
    return this.#addSecret(shared);
  }

  importSecret(bytes: Uint8Array): SecretHandle {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('importSecret expects a Uint8Array');
    return this.#addSecret(new Uint8Array(bytes));
  }

  hkdf(salt: SecretHandle, ikm: SecretHandle | undefined, info: Uint8Array, outputs: 2 | 3): SecretHandle[] {
    if (outputs !== 2 && outputs !== 3)
      throw new RangeError(`hkdf yields 2 or 3 outputs, not ${String(outputs)}`);
    const saltBytes = this.#secret(salt).bytes;
    const ikmBytes = ikm === undefined ? ZERO_32.subarray(0, 0) : this.#secret(ikm).bytes;
    const okm = this.#p.hkdfSha256(saltBytes, ikmBytes, info, 32 * outputs);
    const handles: SecretHandle[] = [];
    for (let i = 0; i < outputs; i++) handles.push(this.#addSecret(okm.slice(32 * i, 32 * i + 32)));
    okm.fill(0);
    return handles;
  }

  aeadKey(secret: SecretHandle, algorithm: AeadAlgorithm = 'aes-256-gcm'): AeadKeyHandle {
    if (algorithm !== 'aes-256-gcm' && algorithm !== 'chacha20-poly1305')
      throw new VaultError('unsupported', `unsupported AEAD ${String(algorithm)}`);
    const bytes = this.#secret(secret).bytes;
    if (bytes.length !== 32)
      throw new VaultError('invalid', `an AEAD key needs a 32-byte secret, got ${bytes.length} bytes`);
    const copy = new Uint8Array(bytes);
    const handle: AeadKeyHandle = Object.freeze({ id: randomId(), kind: 'aead', algorithm });
    this.#aead.set(handle.id, { handle, bytes: copy, cipher: this.#p.aead(algorithm, copy) });
    return handle;
  }

  /** The key's entry, for a nonce of the right length; throws like every AEAD method. */
  #aeadFor(key: AeadKeyHandle, nonce: Uint8Array): AeadEntry {
    const entry = this.#aead.get(key.id);
    if (entry === undefined) throw new VaultError('not-found', `no AEAD key ${key.id} in this vault`);
    if (nonce.length !== NONCE_LENGTH)
      throw new VaultError('invalid', `AEAD nonce must be ${NONCE_LENGTH} bytes, got ${nonce.length}`);
    return entry;
  }

  aeadEncrypt(key: AeadKeyHandle, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.#aeadFor(key, nonce).cipher.encrypt(nonce, plaintext, aad);
  }

  /**
   * Internal fast path of `aeadEncrypt` for the secure channel's encryptor (not part of core's
   * `Vault`; callers check for it): encrypts the concatenation of `parts` and returns ciphertext ‖
   * tag as pieces whose concatenation is exactly what `aeadEncrypt` returns for the joined
   * plaintext. With node:crypto nothing is joined or copied; a frame goes to the socket as these
   * pieces (see `LocalMessage.fromParts`). Given `out` (exactly the plaintext's length + 16
   * bytes, not overlapping the parts), ciphertext ‖ tag are written there and `[out]` returned:
   * the caller owns, and may reuse, the memory.
   */
  aeadEncryptParts(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
    out?: Uint8Array,
  ): Uint8Array[] {
    const cipher = this.#aeadFor(key, nonce).cipher;
    if (out !== undefined) {
      let length = 16;
      for (const part of parts) length += part.length;
      if (out.length !== length)
        throw new RangeError(
          `the output must be exactly ${length} bytes (ciphertext and tag), got ${out.length}`,
        );
      if (cipher.encryptPartsInto !== undefined) cipher.encryptPartsInto(nonce, parts, aad, out);
      else out.set(cipher.encrypt(nonce, joinBytes(parts), aad));
      return [out];
    }
    if (cipher.encryptParts !== undefined) return cipher.encryptParts(nonce, parts, aad);
    return [cipher.encrypt(nonce, joinBytes(parts), aad)];
  }

  aeadDecrypt(key: AeadKeyHandle, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
    const entry = this.#aeadFor(key, nonce);
    const plaintext = entry.cipher.decrypt(nonce, ciphertext, aad);
    if (plaintext === undefined) throw authenticationFailed(entry);
    return plaintext;
  }

  /**
   * Internal fast path of `aeadDecrypt` for the secure channel's decryptor (not part of core's
   * `Vault`; callers check for it): writes the plaintext into `out`, which may be the
   * ciphertext's own memory (decryption in place, nothing allocated). Throws like `aeadDecrypt`
   * when the input does not authenticate, and `out` then holds no plaintext.
   */
  aeadDecryptInto(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    ciphertextAndTag: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
  ): void {
    const entry = this.#aeadFor(key, nonce);
    if (ciphertextAndTag.length < 16 || out.length < ciphertextAndTag.length - 16)
      throw new RangeError(`no room for ${ciphertextAndTag.length - 16} bytes of plaintext in ${out.length}`);
    const ok =
      entry.cipher.decryptInto !== undefined
        ? entry.cipher.decryptInto(nonce, ciphertextAndTag, aad, out)
        : copyInto(entry.cipher.decrypt(nonce, ciphertextAndTag, aad), out);
    if (!ok) throw authenticationFailed(entry);
  }

  /**
   * Internal fast path of `aeadDecrypt` for the secure channel's decryptor (not part of core's
   * `Vault`; callers check for it): decrypts the concatenation of `parts` (ciphertext ‖ tag, as a
   * transport received them, cut anywhere) into a new buffer without joining them first. Throws
   * like `aeadDecrypt`; the parts are never changed.
   */
  aeadDecryptParts(
    key: AeadKeyHandle,
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
  ): Uint8Array {
    const entry = this.#aeadFor(key, nonce);
    const cipher = entry.cipher;
    const plaintext =
      cipher.decryptParts !== undefined
        ? cipher.decryptParts(nonce, parts, aad)
        : cipher.decrypt(nonce, joinBytes(parts), aad);
    if (plaintext === undefined) throw authenticationFailed(entry);
    return plaintext;
  }

  deleteSecret(handle: SecretHandle | AeadKeyHandle): void {
    const map = handle.kind === 'aead' ? this.#aead : this.#secrets;
    const entry = map.get(handle.id);
    if (entry === undefined) return;
    entry.bytes.fill(0);
    if ('cipher' in entry) entry.cipher.dispose?.();
    map.delete(handle.id);
  }

  exportSecret(handle: SecretHandle | AeadKeyHandle): Uint8Array {
    const entry = handle.kind === 'aead' ? this.#aead.get(handle.id) : this.#secrets.get(handle.id);
    if (entry === undefined)
      throw new VaultError('not-found', `no ${handle.kind} ${handle.id} in this vault`);
    return new Uint8Array(entry.bytes);
  }

  /** Never reveal secrets through inspection or logging. */
  toJSON(): object {
    return { backend: this.backend };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Vault<${this.backend}>`;
  }

  // --- internals -----------------------------------------------------------------------------

  #signingEntry(type: SigningKeyType, secret: Uint8Array, persistent: boolean): KeyEntry {
    let signer: PreparedSigningKey;
    try {
      signer = this.#p.signingKey(type, secret);
    } catch (cause) {
      secret.fill(0);
      throw new VaultError('invalid', `cannot import ${type} secret key`, { cause });
    }
    const entry: KeyEntry = {
      handle: Object.freeze({ id: toHex(this.#p.sha256(signer.publicKey)), type }),
      secret,
      signer,
      persistent,
    };
    this.#replace(entry);
    return entry;
  }

  #replace(entry: KeyEntry): void {
    const old = this.#keys.get(entry.handle.id);
    if (old !== undefined && old.secret !== entry.secret) old.secret.fill(0);
    this.#keys.set(entry.handle.id, entry);
  }

  async #persist(entry: KeyEntry): Promise<void> {
    if (this.#store === undefined || !entry.persistent) return;
    await this.#store.save({ id: entry.handle.id, type: entry.handle.type, secret: entry.secret });
  }

  async #loadKey(id: string): Promise<KeyEntry | undefined> {
    const cached = this.#keys.get(id);
    if (cached !== undefined || this.#store === undefined) return cached;
    const stored = await this.#store.load(id);
    if (stored === undefined) return undefined;
    checkSecretLength(stored.secret, `stored key ${id}`);
    const entry = this.#entryFromStore(stored.type, stored.secret);
    if (entry.handle.id !== id) {
      entry.secret.fill(0);
      this.#keys.delete(entry.handle.id);
      throw new VaultError('invalid', `stored key ${id} does not match its id`);
    }
    return entry;
  }

  #entryFromStore(type: KeyType, secret: Uint8Array): KeyEntry {
    if (type === 'x25519') {
      let prepared: PreparedX25519Key;
      try {
        prepared = this.#p.x25519Key(secret);
      } catch (cause) {
        throw new VaultError('invalid', 'cannot load stored X25519 key', { cause });
      }
      const entry: KeyEntry = {
        handle: Object.freeze({ id: toHex(this.#p.sha256(prepared.publicKey)), type }),
        secret,
        x25519: prepared,
        persistent: true,
      };
      this.#replace(entry);
      return entry;
    }
    return this.#signingEntry(type, secret, true);
  }

  #secret(handle: SecretHandle): SecretEntry {
    const entry = this.#secrets.get(handle.id);
    if (entry === undefined) throw new VaultError('not-found', `no secret ${handle.id} in this vault`);
    return entry;
  }

  #addSecret(bytes: Uint8Array): SecretHandle {
    const handle: SecretHandle = Object.freeze({ id: randomId(), kind: 'secret' });
    this.#secrets.set(handle.id, { handle, bytes });
    return handle;
  }
}

function authenticationFailed(entry: AeadEntry): VaultError {
  return new VaultError(
    'invalid',
    `${entry.handle.algorithm} decryption failed: message authentication failed`,
  );
}

function copyInto(plaintext: Uint8Array | undefined, out: Uint8Array): boolean {
  if (plaintext === undefined) return false;
  out.set(plaintext);
  return true;
}
