/**
 * Where a vault keeps its persistent secrets: signing keys and static X25519 keys.
 *
 * Ephemeral X25519 keys, Noise secret buffers and AEAD keys never reach a store. Implementations:
 * {@link MemoryKeyStore} here, and `SqliteKeyStore` in `@ockam/vault/sqlite` (encrypted at rest).
 */
import type { KeyType } from '@ockam/core';

/** One persisted key: its handle id, its type and its raw 32-byte secret. */
export interface StoredKey {
  readonly id: string;
  readonly type: KeyType;
  readonly secret: Uint8Array;
}

/** A persistent store of vault keys. Methods may be called concurrently; each must be atomic. */
export interface KeyStore {
  /** The key with this id, or undefined. Throws a VaultError if the stored row cannot be read. */
  load(id: string): Promise<StoredKey | undefined>;
  /** Saves a key; saving an id that exists replaces it. */
  save(key: StoredKey): Promise<void>;
  /** Deletes a key; true if it existed. */
  delete(id: string): Promise<boolean>;
  /** Ids and types of all stored keys (no secrets). */
  list(): Promise<Array<{ id: string; type: KeyType }>>;
}

/** A KeyStore in memory: the default, for tests and short-lived processes. */
export class MemoryKeyStore implements KeyStore {
  readonly #keys = new Map<string, StoredKey>();

  async load(id: string): Promise<StoredKey | undefined> {
    const key = this.#keys.get(id);
    return key === undefined ? undefined : { id: key.id, type: key.type, secret: new Uint8Array(key.secret) };
  }

  async save(key: StoredKey): Promise<void> {
    this.#keys.get(key.id)?.secret.fill(0);
    this.#keys.set(key.id, { id: key.id, type: key.type, secret: new Uint8Array(key.secret) });
  }

  async delete(id: string): Promise<boolean> {
    const key = this.#keys.get(id);
    if (key === undefined) return false;
    key.secret.fill(0);
    return this.#keys.delete(id);
  }

  async list(): Promise<Array<{ id: string; type: KeyType }>> {
    return [...this.#keys.values()].map(({ id, type }) => ({ id, type }));
  }
}
