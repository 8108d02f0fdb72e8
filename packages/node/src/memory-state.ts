/**
 * A node's state when it has none to keep: its identities and vault in memory, no saved
 * resources, no projects. `createNode()` without `home` or `state` uses it, so a library user
 * needs neither SQLite (`better-sqlite3`, an optional dependency) nor a directory, and nothing
 * outlives the node. The SQLite `State` and `Identities` of `@ockam/state` have the same methods.
 */
import type { Logger, Vault } from '@ockam/core';
import {
  createIdentity,
  createPurposeKey,
  type Identity,
  type Purpose,
  type PurposeKey,
} from '@ockam/identity';
import { createVault } from '@ockam/vault';

/** The rows of its state a node reads and writes (`State` has them). */
export interface NodeRecords {
  getNode(name: string): { options: Record<string, unknown>; tcpListenerAddress: string | null } | undefined;
  saveResource(node: string, kind: string, name: string, config: unknown): void;
  deleteResource(node: string, kind: string, name: string): boolean;
  listResources(node: string, kind?: string): Array<{ kind: string; name: string; config: unknown }>;
}

/** The identities a node presents, with their vault (`Identities` has them). */
export interface NodeIdentities {
  ensureIdentity(name?: string): Promise<{ name: string }>;
  loadIdentity(
    name?: string,
  ): Promise<{ record: { name: string }; identity: Identity; vault: { vault: Vault; close(): void } }>;
  ensurePurposeKey(identity: Identity, vault: Vault, purpose: Purpose, logger?: Logger): Promise<PurposeKey>;
}

/** No node rows and no saved resources: a node in memory recreates nothing when it starts. */
export const NO_RECORDS: NodeRecords = {
  getNode: () => undefined,
  saveResource: () => {},
  deleteResource: () => false,
  listResources: () => [],
};

/** Identities created on first use in one in-memory vault, with their purpose keys. */
export class MemoryIdentities implements NodeIdentities {
  readonly #vault = createVault('node');
  readonly #identities = new Map<string, Promise<Identity>>();
  readonly #purposeKeys = new Map<string, Promise<PurposeKey>>();

  async ensureIdentity(name = 'default'): Promise<{ name: string }> {
    await this.#identity(name);
    return { name };
  }

  async loadIdentity(name = 'default') {
    const identity = await this.#identity(name);
    // The vault lives as long as this object: nothing to close per identity.
    return { record: { name }, identity, vault: { vault: this.#vault, close: () => {} } };
  }

  ensurePurposeKey(identity: Identity, vault: Vault, purpose: Purpose): Promise<PurposeKey> {
    const key = `${identity.identifier}/${purpose}`;
    let p = this.#purposeKeys.get(key);
    if (!p) {
      p = createPurposeKey(vault, identity, purpose);
      this.#purposeKeys.set(key, p);
      p.catch(() => this.#purposeKeys.delete(key));
    }
    return p;
  }

  #identity(name: string): Promise<Identity> {
    let p = this.#identities.get(name);
    if (!p) {
      p = createIdentity(this.#vault);
      this.#identities.set(name, p);
      p.catch(() => this.#identities.delete(name));
    }
    return p;
  }
}
