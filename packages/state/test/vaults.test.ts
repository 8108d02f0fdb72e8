import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';

import { tempHomes } from './temp-home.js';

const home = tempHomes('ockam-vaults-test-');

describe('vaults', () => {
  it('keeps the first vault in the main database and others in files of their own', async () => {
    const { dir, state, identities } = home();
    const first = identities.createVault('v1');
    expect(first).toMatchObject({ inDatabase: true, path: state.home.databasePath, isDefault: true });
    const second = identities.createVault('v2');
    expect(second).toMatchObject({ inDatabase: false, path: join(dir, 'vaults', 'v2.sqlite3') });
    // Keys made in the database vault are there, encrypted, and usable after reopening.
    const alice = await identities.createIdentity('alice', { vault: 'v1' });
    expect((state.db.prepare('SELECT count(*) AS n FROM vault_key').get() as { n: number }).n).toBe(1);
    const loaded = await identities.loadIdentity('alice');
    expect(loaded.identity.identifier).toBe(alice.identifier);
    loaded.vault.close();
    // Deleting the database vault removes its keys and its key file, not the database.
    identities.deleteIdentity('alice');
    identities.deleteVault('v1');
    expect((state.db.prepare('SELECT count(*) AS n FROM vault_key').get() as { n: number }).n).toBe(0);
    expect(existsSync(join(dir, 'vaults', 'v1.key'))).toBe(false);
    expect(existsSync(state.home.databasePath)).toBe(true);
  });

  it('moves a vault file with its keys, and refuses to move the database vault or onto a used path', async () => {
    const { dir, identities } = home();
    identities.createVault('v1');
    const v2 = identities.createVault('v2', { path: join(dir, 'vault-path') });
    expect(v2.path).toBe(join(dir, 'vault-path'));
    const bob = await identities.createIdentity('bob', { vault: 'v2' });

    expect(() => identities.moveVault('v1', join(dir, 'elsewhere'))).toThrow(/main database/);
    expect(existsSync(join(dir, 'elsewhere'))).toBe(false);
    expect(() => identities.moveVault('v2', join(dir, 'database.sqlite3'))).toThrow(/already used/);
    expect(() => identities.createVault('v3', { path: join(dir, 'vault-path') })).toThrow(/already used/);

    const moved = identities.moveVault('v2', join(dir, 'new', 'vault-path'));
    expect(moved.path).toBe(join(dir, 'new', 'vault-path'));
    expect(existsSync(join(dir, 'vault-path'))).toBe(false);
    expect(statSync(moved.path).mode & 0o777).toBe(0o600);
    // The key moved with the file: bob can still sign.
    const loaded = await identities.loadIdentity('bob');
    try {
      const key = await loaded.vault.vault.getKey(
        toHex(loaded.vault.vault.sha256(loaded.identity.primaryPublicKey.bytes)),
      );
      expect(key).toBeDefined();
    } finally {
      loaded.vault.close();
    }
    expect(loaded.identity.identifier).toBe(bob.identifier);
  });

  it('an identity deleted and imported again is the default when its vault still holds its key', async () => {
    const { identities } = home();
    const alice = await identities.createIdentity('alice');
    const hex = toHex(alice.changeHistory);
    identities.deleteIdentity('alice');
    const again = await identities.importIdentity('again', hex);
    expect(again).toMatchObject({ identifier: alice.identifier, isDefault: true });
    expect((await identities.ensureIdentity()).name).toBe('again');
  });

  it('refuses to delete an identity that a node was created with', async () => {
    const { state, identities } = home();
    await identities.createIdentity('i');
    state.createNode('n', { identity: 'i' });
    expect(() => identities.deleteIdentity('i')).toThrow(/used by nodes n/);
    state.deleteNode('n');
    identities.deleteIdentity('i');
    expect(identities.getIdentity('i')).toBeUndefined();
  });
});
