import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Identities, OckamHome, State } from '@ockam/state';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

const VECTORS = resolve(import.meta.dirname, '../../../../shared/vectors');

describe('ockam vault and ockam identity', () => {
  let home: string;
  let cleanup: () => Promise<void>;

  beforeAll(() => {
    ({ home, cleanup } = tempHome());
  });
  afterAll(async () => {
    await cleanup();
  });

  it('creates the default vault and identity on first use', async () => {
    const r = await ockam(home, ['identity', 'show']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^I[0-9a-f]{64}\n$/);
    const vaults = JSON.parse((await ockam(home, ['--output', 'json', 'vault', 'list'])).stdout);
    expect(vaults).toEqual([
      {
        vault: expect.objectContaining({
          name: 'default',
          is_default: true,
          vault_type: { DatabaseVault: { use_aws_kms: 'No' } },
          master_key: 'key-file',
        }),
      },
    ]);
    const ids = JSON.parse((await ockam(home, ['--output', 'json', 'identity', 'list'])).stdout);
    expect(ids).toEqual([
      expect.objectContaining({
        name: 'default',
        identifier: r.stdout.trim(),
        vault_name: 'default',
        key_type: 'ed25519',
        changes: 1,
        is_default: true,
      }),
    ]);
  });

  it('keeps every state file private to the user', () => {
    // The first vault keeps its keys in the main database, under the key file's master key.
    for (const f of ['database.sqlite3', 'vaults/default.key'])
      expect(statSync(join(home, f)).mode & 0o777, f).toBe(0o600);
    expect(statSync(join(home, 'vaults')).mode & 0o777).toBe(0o700);
  });

  it('creates Ed25519 and P-256 identities in named vaults and sets the default', async () => {
    // Piped, a created vault's name alone, as Ockam prints it.
    expect((await ockam(home, ['vault', 'create', 'v1'])).stdout).toBe('v1\n');
    const p = JSON.parse(
      (
        await ockam(home, [
          '--output',
          'json',
          'identity',
          'create',
          'bob',
          '--vault',
          'v1',
          '--key-type',
          'p256',
        ])
      ).stdout,
    );
    expect(p).toMatchObject({ name: 'bob', vault_name: 'v1', key_type: 'p256', changes: 1 });
    expect((await ockam(home, ['identity', 'default', 'bob'])).stdout).toBe('bob\n');
    expect((await ockam(home, ['identity', 'show'])).stdout).toBe(`${p.identifier}\n`);
  });

  it('rotates a key and keeps the identifier; the new history verifies with two changes', async () => {
    const before = (await ockam(home, ['identity', 'show', 'bob'])).stdout;
    const r = JSON.parse((await ockam(home, ['--output', 'json', 'identity', 'rotate', 'bob'])).stdout);
    expect(`${r.identifier}\n`).toBe(before);
    expect(r.changes).toBe(2);
    const full = (
      await ockam(home, ['identity', 'show', 'bob', '--full', '--encoding', 'hex'])
    ).stdout.trim();
    const v = JSON.parse((await ockam(home, ['--output', 'json', 'identity', 'verify', full])).stdout);
    expect(v).toEqual({ identifier: r.identifier, keyType: 'p256', changes: 2 });
  });

  it('verifies every Ockam fixture identity and prints its identifier', async () => {
    const fixtures = JSON.parse(readFileSync(join(VECTORS, 'ockam/identities.json'), 'utf8'))
      .identities as Array<{ change_history: string; identifier: string }>;
    expect(fixtures.length).toBeGreaterThan(3);
    for (const f of fixtures) {
      const r = await ockam(home, ['identity', 'verify', f.change_history]);
      expect(r, f.identifier).toMatchObject({ code: 0, stdout: `${f.identifier}\n` });
    }
  });

  it('rejects tampered histories with the reason', async () => {
    const full = (
      await ockam(home, ['identity', 'show', 'bob', '--full', '--encoding', 'hex'])
    ).stdout.trim();
    const flip = (hex: string, at: number) =>
      hex.slice(0, at) + (Number.parseInt(hex[at]!, 16) ^ 1).toString(16) + hex.slice(at + 1);
    const cases = [
      flip(full, full.length - 10),
      flip(full, 60),
      `${full}00`,
      full.slice(0, full.length - 2),
      'zz',
    ];
    for (const bad of cases) {
      const r = await ockam(home, ['identity', 'verify', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: Invalid identity: .+\n$/);
      expect(r.stdout).toBe('');
    }
  });

  it('refuses to delete a vault that holds an identity, then deletes in order', async () => {
    expect((await ockam(home, ['vault', 'delete', 'v1'])).stderr).toBe(
      'Error: Vault v1 holds the keys of identities bob; delete them first\n',
    );
    expect((await ockam(home, ['identity', 'delete', 'bob'])).code).toBe(0);
    expect((await ockam(home, ['vault', 'delete', 'v1'])).stdout).toBe('v1\n');
    expect(readdirSync(join(home, 'vaults')).filter((f) => f.startsWith('v1'))).toEqual([]);
  });

  it('never stores a secret key in the clear', async () => {
    const state = new State(new OckamHome(home));
    const ids = new Identities(state);
    const { identity, vault } = await ids.loadIdentity('default');
    const key = await vault.vault.getKey(
      vault.vault
        .sha256(identity.primaryPublicKey.bytes)
        .reduce((s, b) => s + b.toString(16).padStart(2, '0'), ''),
    );
    expect(key).toBeDefined();
    const secret = Buffer.from(await vault.vault.exportSecretKey(key!));
    vault.close();
    state.close();
    for (const f of readdirSync(home, { recursive: true }) as string[]) {
      const p = join(home, f);
      if (statSync(p).isFile()) expect(readFileSync(p).includes(secret), p).toBe(false);
    }
  });

  it('protects a vault with a passphrase from the environment, and fails clearly without it', async () => {
    const env = { OCKAM_VAULT_PASSPHRASE: 'correct horse battery staple' };
    expect((await ockam(home, ['--output', 'json', 'vault', 'create', 'locked'], { env })).stdout).toMatch(
      /"master_key": "passphrase"/,
    );
    expect((await ockam(home, ['identity', 'create', 'carol', '--vault', 'locked'], { env })).code).toBe(0);
    const rotateWithout = await ockam(home, ['identity', 'rotate', 'carol'], {
      env: { OCKAM_VAULT_PASSPHRASE: '' },
    });
    expect(rotateWithout.stderr).toBe(
      'Error: Vault locked is protected by a passphrase: set OCKAM_VAULT_PASSPHRASE to open it\n',
    );
    const wrong = await ockam(home, ['identity', 'rotate', 'carol'], {
      env: { OCKAM_VAULT_PASSPHRASE: 'wrong' },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^Error: .*(master key|passphrase).*\n$/i);
    // The wrong passphrase changed nothing: the right one still works.
    expect((await ockam(home, ['identity', 'rotate', 'carol'], { env })).code).toBe(0);
  });

  it('gives one-line errors for bad names and unknown things', async () => {
    expect((await ockam(home, ['identity', 'show', 'nobody'])).stderr).toBe(
      "Error: Identity nobody does not exist (see 'ockam identity list')\n",
    );
    expect((await ockam(home, ['identity', 'create', '../x'])).stderr).toMatch(
      /^Error: Invalid identity name '\.\.\/x'/,
    );
    expect((await ockam(home, ['identity', 'create', 'default'])).stderr).toBe(
      'Error: Identity default already exists\n',
    );
    expect((await ockam(home, ['identity', 'create', 'x', '--key-type', 'rsa'])).code).toBe(2);
    expect((await ockam(home, ['vault', 'show', 'nope'])).stderr).toBe(
      "Error: Vault nope does not exist (see 'ockam vault list')\n",
    );
  });
});
