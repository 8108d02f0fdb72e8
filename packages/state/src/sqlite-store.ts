/**
 * The SQLite `NodeStateStore`, over the state database of a `State` (`$OCKAM_HOME`). Every upsert
 * is `INSERT … ON CONFLICT … DO UPDATE`, never `INSERT OR REPLACE`: the latter deletes the row and
 * inserts a new one, which loses the columns it does not name (`created_at`), the row's place
 * (rowid) and, through foreign keys, the rows that refer to it.
 */
import type Database from 'better-sqlite3';
import { StateError } from './errors.js';
import { OckamHome } from './home.js';
import type { IdentityRecord, IdentityRow } from './identities.js';
import type { ProjectRecord, ProjectRow } from './projects.js';
import { identityRecord, projectRecord } from './records.js';
import { State } from './state.js';
import {
  checkIdentity,
  checkName,
  checkProject,
  checkValue,
  type IdentityStore,
  type NodeResource,
  type NodeStateStore,
  type ProjectInput,
  type ProjectStore,
  type ResourceStore,
  toJsonText,
} from './store.js';
import {
  SqliteAttributesStore,
  SqliteMemberStore,
  SqlitePolicyStore,
  SqliteTokenStore,
} from './trust-stores.js';
import { IDENTITY_INSERT, PROJECT_UPSERT, projectParams, RESOURCE_UPSERT } from './upserts.js';

/** SQLite's code for a PRIMARY KEY or UNIQUE clash, as better-sqlite3 reports it. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class SqliteIdentities implements IdentityStore {
  constructor(readonly db: Database.Database) {}

  create(i: IdentityRecord): void {
    checkIdentity(i);
    try {
      this.db
        .prepare(IDENTITY_INSERT)
        .run(
          i.name,
          i.identifier,
          i.vaultName,
          Buffer.from(i.changeHistory),
          i.isDefault ? 1 : 0,
          i.createdAt,
        );
    } catch (cause) {
      if (isUniqueViolation(cause))
        throw new StateError('already-exists', `Identity ${i.name} already exists`, { cause });
      throw cause;
    }
  }

  get(name: string): IdentityRecord | undefined {
    const r = this.db.prepare('SELECT * FROM identity WHERE name = ?').get(name) as IdentityRow | undefined;
    return r && identityRecord(r);
  }

  list(): IdentityRecord[] {
    return (this.db.prepare('SELECT * FROM identity ORDER BY created_at, name').all() as IdentityRow[]).map(
      identityRecord,
    );
  }

  replaceChangeHistory(name: string, previous: Uint8Array, next: Uint8Array): boolean {
    checkValue('change history', next);
    return (
      this.db
        .prepare('UPDATE identity SET change_history = ? WHERE name = ? AND change_history = ?')
        .run(Buffer.from(next), name, Buffer.from(previous)).changes === 1
    );
  }

  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM identity WHERE name = ?').run(name).changes > 0;
  }
}

export class SqliteProjects implements ProjectStore {
  constructor(
    readonly db: Database.Database,
    readonly now: () => number = Date.now,
  ) {}

  put(p: ProjectInput): void {
    checkProject(p);
    this.db.prepare(PROJECT_UPSERT).run(...projectParams(p, this.now()));
  }

  get(name: string): ProjectRecord | undefined {
    const r = this.db.prepare('SELECT * FROM project WHERE name = ?').get(name) as ProjectRow | undefined;
    return r && projectRecord(r);
  }

  list(): ProjectRecord[] {
    return (this.db.prepare('SELECT * FROM project ORDER BY created_at, name').all() as ProjectRow[]).map(
      projectRecord,
    );
  }

  delete(name: string): boolean {
    return this.db.prepare('DELETE FROM project WHERE name = ?').run(name).changes > 0;
  }
}

export class SqliteResources implements ResourceStore {
  constructor(
    readonly db: Database.Database,
    readonly now: () => number = Date.now,
  ) {}

  put(node: string, kind: string, name: string, config: unknown): void {
    checkName('node name', node);
    checkName('resource kind', kind);
    checkName('resource name', name);
    this.db.prepare(RESOURCE_UPSERT).run(node, kind, name, toJsonText('resource config', config), this.now());
  }

  delete(node: string, kind: string, name: string): boolean {
    return (
      this.db
        .prepare('DELETE FROM node_resource WHERE node_name = ? AND kind = ? AND name = ?')
        .run(node, kind, name).changes > 0
    );
  }

  list(node: string, kind?: string): NodeResource[] {
    // rowid: the order of first saves (an upsert keeps its row, so its rowid).
    const rows = (
      kind === undefined
        ? this.db
            .prepare('SELECT kind, name, config FROM node_resource WHERE node_name = ? ORDER BY rowid')
            .all(node)
        : this.db
            .prepare(
              'SELECT kind, name, config FROM node_resource WHERE node_name = ? AND kind = ? ORDER BY rowid',
            )
            .all(node, kind)
    ) as Array<{ kind: string; name: string; config: string }>;
    return rows.map((r) => ({ kind: r.kind, name: r.name, config: JSON.parse(r.config) as unknown }));
  }

  deleteAll(node: string): number {
    return this.db.prepare('DELETE FROM node_resource WHERE node_name = ?').run(node).changes;
  }
}

/**
 * The `NodeStateStore` of a `State` (which stays open: close the State when done), or of the
 * state database under `root` (opened here, closed by `close()`). Needs the optional package
 * better-sqlite3; without it this throws a StateError (`unsupported`) that says how to install it.
 *
 * @example
 * ```ts
 * import { sqliteStateStore } from '@ockam/state';
 * const store = sqliteStateStore('/var/lib/my-node');
 * store.resources.put('n1', 'relay', 'default', { to: '/project/default' });
 * store.close();
 * ```
 */
export function sqliteStateStore(from: State | string): NodeStateStore {
  const state = typeof from === 'string' ? new State(new OckamHome(from)) : from;
  return {
    identities: new SqliteIdentities(state.db),
    projects: new SqliteProjects(state.db),
    resources: new SqliteResources(state.db),
    members: (authority) => new SqliteMemberStore(state, authority),
    tokens: (authority) => new SqliteTokenStore(state, authority),
    attributes: (node) => new SqliteAttributesStore(state, node),
    policies: (node) => new SqlitePolicyStore(state, node),
    close() {
      if (typeof from === 'string') state.close();
    },
  };
}
