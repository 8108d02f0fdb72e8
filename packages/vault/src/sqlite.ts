/**
 * @ockam/vault/sqlite: an encrypted SQLite key store for Node.js. Kept out of the main entry so
 * that `@ockam/vault` stays free of native modules.
 */
export { type MasterKeySource, SqliteKeyStore, type SqliteKeyStoreOptions } from './sqlite-key-store.js';
