import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

/** Ockam's identity and vault commands as its docs and command tests use them, piped (not a terminal). */
describe('identity and vault commands, as Ockam has them', () => {
  let t: ReturnType<typeof tempHome>;
  const o = (args: string[]) => ockam(t.home, args);
  const ok = async (args: string[]) => {
    const r = await o(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  beforeEach(() => {
    t = tempHome();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('identity show --full describes each change; --output json gives the same fields', async () => {
    const id = (await ok(['identity', 'create', 'i'])).trim();
    expect(id).toMatch(/^I[0-9a-f]{64}$/);
    const full = await ok(['identity', 'show', 'i', '--full']);
    expect(full).toContain(`Identifier: ${id}`);
    expect(full).toContain('Change[0]:');
    expect(full).toMatch(/primary_public_key: +EdDSACurve25519: [0-9a-f]{64}/);
    const json = JSON.parse(await ok(['--output', 'json', 'identity', 'show', 'i', '--full']));
    expect(json).toEqual({
      identifier: id,
      changes: [
        {
          identifier: id.slice(1),
          primary_public_key: expect.stringMatching(/^EdDSACurve25519: [0-9a-f]{64}$/),
          revoke_all_purpose_keys: false,
        },
      ],
    });
    // A rotated identity has a second change, whose hash is not the identifier.
    await ok(['identity', 'rotate', 'i']);
    const rotated = await ok(['identity', 'show', 'i', '--full']);
    expect(rotated).toContain('Change[1]:');
  });

  it('identity default names the default, refuses to set it again, and prints the new one', async () => {
    await ok(['identity', 'create', 'i1']);
    expect(await ok(['identity', 'default'])).toContain("The name of the default identity is 'i1'");
    const again = await o(['identity', 'default', 'i1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("The identity named 'i1' is already the default");
    await ok(['identity', 'create', 'i2']);
    expect(await ok(['identity', 'default', 'i2'])).toBe('i2\n');
    expect(await ok(['identity', 'default'])).toContain("'i2'");
  });

  it('identity delete: refused while a node uses it, --all, twice, and with nothing to delete', async () => {
    await ok(['identity', 'create', 'i']);
    await ok(['node', 'create', 'n', '--identity', 'i']);
    const inUse = await o(['identity', 'delete', 'i', '--yes']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('used by nodes n');
    await ok(['node', 'delete', 'n', '--yes']);
    expect(await ok(['identity', 'delete', 'i', '--yes'])).toBe('i\n');
    expect((await o(['identity', 'delete', 'i', '--yes'])).code).toBe(1);

    await ok(['identity', 'create', 'i1']);
    await ok(['identity', 'create', 'i2']);
    expect(await ok(['identity', 'list'])).toBe('i1\ni2\n');
    const list = JSON.parse(await ok(['--output', 'json', 'identity', 'list']));
    expect(list).toEqual([
      expect.objectContaining({ name: 'i1', is_default: true, vault_name: 'default' }),
      expect.objectContaining({ name: 'i2', is_default: false, vault_name: 'default' }),
    ]);
    // Without a name or --all nothing is guessed.
    expect((await o(['identity', 'delete', '--yes'])).code).toBe(1);
    expect(await ok(['identity', 'delete', '--all', '--yes'])).toBe('i1\ni2\n');
    expect(JSON.parse(await ok(['--output', 'json', 'identity', 'list']))).toEqual([]);
    expect(await ok(['identity', 'delete'])).toBe('[]\n');
  });

  it('an identity exported with --encoding hex, deleted and imported again is the default again', async () => {
    await ok(['identity', 'create']);
    const exported = (await ok(['identity', 'show', '--full', '--encoding', 'hex'])).trim();
    expect(exported).toMatch(/^81[0-9a-f]+$/);
    await ok(['identity', 'delete', '--all', '--yes']);
    await ok(['identity', 'create', '--identity', exported]);
    expect((await ok(['identity', 'show', '--full', '--encoding', 'hex'])).trim()).toBe(exported);
  });

  it('vault show and list print Ockam’s JSON; create --path, and move for every vault but the first', async () => {
    expect(await ok(['vault', 'create', 'v1'])).toBe('v1\n');
    const v1 = JSON.parse(await ok(['--output', 'json', 'vault', 'show', 'v1']));
    expect(v1.vault).toMatchObject({
      name: 'v1',
      is_default: true,
      vault_type: { DatabaseVault: { use_aws_kms: 'No' } },
    });
    const moveFirst = await o(['vault', 'move', 'v1', '--path', join(t.home, 'new-vault-path')]);
    expect(moveFirst.code).toBe(1);
    expect(moveFirst.stderr).toContain('main database');

    const path = join(t.home, 'vault-path');
    await ok(['vault', 'create', 'v2', '--path', path]);
    expect(existsSync(path)).toBe(true);
    await ok(['identity', 'create', 'alice', '--vault', 'v2']);
    const moved = join(t.home, 'new-vault-path');
    await ok(['vault', 'move', 'v2', '--path', moved]);
    expect(existsSync(path)).toBe(false);
    const v2 = JSON.parse(await ok(['--output', 'json', 'vault', 'show', 'v2']));
    expect(v2.vault.vault_type).toEqual({ LocalFileVault: { path: moved, use_aws_kms: 'No' } });
    // Alice's key moved with the file: she still signs (a rotation needs her key).
    await ok(['identity', 'rotate', 'alice']);

    const list = JSON.parse(await ok(['--output', 'json', 'vault', 'list']));
    expect(list.map((v: { vault: { name: string } }) => v.vault.name)).toEqual(['v1', 'v2']);
    // A vault that holds an identity's keys stays; --all deletes the others and says why not.
    const inUse = await o(['vault', 'delete', 'v2', '--yes']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('alice');
    const all = await o(['vault', 'delete', '--all', '--yes']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe('v1\n');
    expect(all.stderr).toContain('Failed to delete vault v2');
    expect(existsSync(moved)).toBe(true);
  });
});
