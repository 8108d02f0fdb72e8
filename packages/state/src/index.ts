/**
 * What an Ockam node keeps between runs, under its home directory (`OCKAM_HOME`): identities and
 * the vaults holding their keys, nodes, projects, and the trust stores (members, enrollment tokens,
 * attributes, policies) in SQLite, or members and tokens in PostgreSQL.
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
export { ensurePrivateDir, NODE_NAME_PATTERN, OckamHome, validateNodeName } from './home.js';
export {
  DEFAULT_IDENTITY_NAME,
  DEFAULT_VAULT_NAME,
  Identities,
  type IdentityRecord,
  type OpenVault,
  PASSPHRASE_ENV,
  type VaultRecord,
  withHomeLock,
} from './identities.js';
export {
  openPostgres,
  type PostgresConfig,
  PostgresMemberStore,
  PostgresTokenStore,
  postgresConfigFromEnv,
} from './postgres-stores.js';
export { type ProjectAuthority, type ProjectRecord, Projects } from './projects.js';
export { type NodeRecord, State, StateError } from './state.js';
export {
  SqliteAttributesStore,
  SqliteMemberStore,
  SqlitePolicyStore,
  SqliteTokenStore,
} from './trust-stores.js';
