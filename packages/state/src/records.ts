/**
 * Database rows to records, shared by the SQLite and PostgreSQL stores. Kept apart from
 * identities.ts and projects.ts so that opening a `State` does not load the identity and vault
 * packages (and their cryptography): the `ockam` command lists nodes without them.
 */
import type { IdentityRecord, IdentityRow } from './identities.js';
import type { ProjectRecord, ProjectRow } from './projects.js';

export const identityRecord = (r: IdentityRow): IdentityRecord => ({
  name: r.name,
  identifier: r.identifier,
  vaultName: r.vault_name,
  changeHistory: new Uint8Array(r.change_history),
  isDefault: Number(r.is_default) === 1,
  createdAt: Number(r.created_at),
});

export const projectRecord = (r: ProjectRow): ProjectRecord => ({
  name: r.name,
  id: r.id,
  identifier: r.identifier,
  changeHistory: new Uint8Array(r.change_history),
  route: r.route,
  nodeName: r.node_name,
  authorityChangeHistory: r.authority_change_history ? new Uint8Array(r.authority_change_history) : null,
  authorityRoute: r.authority_route,
  createdAt: Number(r.created_at),
});
