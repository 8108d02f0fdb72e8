/**
 * What an Ockam node keeps between runs: identities, projects, members, enrollment tokens,
 * attributes, policies and the inlets/outlets/relays to recreate, behind one `NodeStateStore`
 * interface with three stores (in memory, SQLite, PostgreSQL) that pass one conformance suite;
 * and the CLI's home directory (`OCKAM_HOME`: nodes, vaults) over the SQLite store.
 *
 * @example
 * ```ts
 * import { Identities, OckamHome, State } from '@ockam/state';
 * const state = new State(new OckamHome('/tmp/ockam'));
 * const alice = await new Identities(state).ensureIdentity('alice');
 * console.log(alice.identifier);
 * state.close();
 * ```
 */

export { StateError } from './errors.js';
export { ensurePrivateDir, NODE_NAME_PATTERN, OckamHome, validateNodeName } from './home.js';
export {
  DEFAULT_IDENTITY_NAME,
  DEFAULT_VAULT_NAME,
  Identities,
  type IdentityRecord,
  type OpenVault,
  PASSPHRASE_ENV,
  type SigningKeysConfig,
  type VaultRecord,
  withHomeLock,
} from './identities.js';
export { type KafkaDecryptorRecord, SqliteKafkaDecryptors } from './kafka-decryptors.js';
export { memoryStateStore } from './memory-store.js';
export {
  openPostgres,
  openPostgresStateStore,
  PostgresAttributesStore,
  type PostgresConfig,
  PostgresIdentities,
  PostgresMemberStore,
  PostgresPolicyStore,
  PostgresProjects,
  PostgresResources,
  PostgresTokenStore,
  postgresConfigFromEnv,
} from './postgres-stores.js';
export { type ProjectAuthority, type ProjectRecord, Projects } from './projects.js';
export { SqliteIdentities, SqliteProjects, SqliteResources, sqliteStateStore } from './sqlite-store.js';
export { type NodeRecord, State } from './state.js';
export {
  type IdentityStore,
  type NodeResource,
  type NodeStateStore,
  type ProjectInput,
  type ProjectStore,
  type ResourceStore,
  STATE_LIMITS,
} from './store.js';
export {
  SqliteAttributesStore,
  SqliteMemberStore,
  SqlitePolicyStore,
  SqliteTokenStore,
} from './trust-stores.js';
