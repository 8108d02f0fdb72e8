/**
 * Projects this `$OCKAM_HOME` knows (PROTOCOL.md §5.2, DESIGN.md §6): our self-hosted replacement
 * for Ockam's Orchestrator projects. A project we host is a node running an authority, a relay
 * service and a secure channel listener; its identity's identifier is the project identifier and
 * the authority. A project we joined (a ticket, `project import`) may have its authority elsewhere,
 * with its own identity and route, as Ockam's projects and `ockam authority create` do.
 * `/project/NAME` resolves to `ROUTE/secure/api`, authorized to the project's identifier;
 * credentials come from `AUTHORITY_ROUTE/secure/api`, authorized to the authority's.
 * Credentials obtained by enrolling are kept per identity and project.
 */
import { type Identity, importIdentity } from '@ockam/identity';
import { StateError } from './errors.js';
import { SqliteProjects } from './sqlite-store.js';
import type { State } from './state.js';
import type { ProjectInput } from './store.js';

export interface ProjectRecord {
  name: string;
  /** Random project id (the `trust_context_id` attribute). */
  id: string;
  /** Identifier of the project node, which is also its authority. */
  identifier: string;
  changeHistory: Uint8Array;
  /** Multiaddr of the project node's TCP listener, e.g. /ip4/127.0.0.1/tcp/4000. */
  route: string;
  /** The local node that hosts it, when it runs on this machine. */
  nodeName: string | null;
  /** The authority's change history, when the authority is not the project node. */
  authorityChangeHistory: Uint8Array | null;
  /** Multiaddr of the authority's TCP listener (no `/service/api`), when not the project's route. */
  authorityRoute: string | null;
  createdAt: number;
}

/** Who issues a project's credentials and where: the project node itself unless told otherwise. */
export interface ProjectAuthority {
  readonly identity: Identity;
  /** Multiaddr up to the authority's node; its `api` listener follows (`…/secure/api`). */
  readonly route: string;
}

/** A row of the `project` table (SQLite and PostgreSQL). */
export interface ProjectRow {
  name: string;
  id: string;
  identifier: string;
  change_history: Buffer;
  route: string;
  node_name: string | null;
  authority_change_history: Buffer | null;
  authority_route: string | null;
  created_at: number | string;
}

export class Projects {
  readonly #store: SqliteProjects;

  constructor(readonly state: State) {
    this.#store = new SqliteProjects(state.db);
  }

  get(name: string): ProjectRecord | undefined {
    return this.#store.get(name);
  }

  require(name: string): ProjectRecord {
    const p = this.get(name);
    if (!p)
      throw new StateError(
        'not-found',
        `Project ${name} does not exist (run 'ockam enroll', or 'ockam project enroll TICKET')`,
      );
    return p;
  }

  list(): ProjectRecord[] {
    return this.#store.list();
  }

  /** Upserts by name (`createdAt` is kept); a change history that does not verify is refused. */
  save(p: ProjectInput): void {
    // The stored histories must verify and match the identifier: a ticket cannot smuggle in a mismatch.
    const identity = importIdentity(p.changeHistory);
    if (identity.identifier !== p.identifier) {
      throw new StateError(
        'invalid',
        `Project ${p.name}: its change history is ${identity.identifier}, not ${p.identifier}`,
      );
    }
    if (p.authorityChangeHistory) importIdentity(p.authorityChangeHistory);
    this.#store.put(p);
  }

  delete(name: string): boolean {
    this.state.db.prepare('DELETE FROM credential WHERE project = ?').run(name);
    return this.#store.delete(name);
  }

  identity(p: ProjectRecord): Identity {
    return importIdentity(p.changeHistory);
  }

  /** The project's authority: its identity (verified) and the route to its node. */
  authority(p: ProjectRecord): ProjectAuthority {
    return {
      identity: importIdentity(p.authorityChangeHistory ?? p.changeHistory),
      route: p.authorityRoute ?? p.route,
    };
  }

  /** A stored credential of an identity for a project, if it has not expired. */
  credential(
    identityName: string,
    project: string,
    now = Math.floor(Date.now() / 1000),
  ): Uint8Array | undefined {
    const r = this.state.db
      .prepare('SELECT credential FROM credential WHERE identity_name = ? AND project = ? AND expires_at > ?')
      .get(identityName, project, now) as { credential: Buffer } | undefined;
    return r && new Uint8Array(r.credential);
  }

  saveCredential(identityName: string, project: string, credential: Uint8Array, expiresAt: number): void {
    this.state.db
      .prepare(
        `INSERT INTO credential (identity_name, project, credential, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (identity_name, project) DO UPDATE SET credential = excluded.credential, expires_at = excluded.expires_at`,
      )
      .run(identityName, project, Buffer.from(credential), expiresAt);
  }

  credentials(): Array<{ identityName: string; project: string; credential: Uint8Array; expiresAt: number }> {
    return (
      this.state.db.prepare('SELECT * FROM credential ORDER BY project, identity_name').all() as Array<{
        identity_name: string;
        project: string;
        credential: Buffer;
        expires_at: number;
      }>
    ).map((r) => ({
      identityName: r.identity_name,
      project: r.project,
      credential: new Uint8Array(r.credential),
      expiresAt: r.expires_at,
    }));
  }
}
