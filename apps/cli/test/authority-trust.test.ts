/**
 * Trust without a project, as Ockam's scripts set it up: nodes created with
 * `--authority-identity HEX --credential-scope S`, a credential issued with `credential issue`
 * and handed to a running node with `credential store --at NODE --scope S`. The node with a
 * credential is let in; the one without is refused by its peer's services (deny by default).
 * Also `space create` without any project.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ockam, shell, tempHome } from './helpers.js';

describe('trust anchored in a credential issuer, without a project', () => {
  const m = tempHome();
  afterAll(() => m.cleanup());
  const ok = async (args: string[]) => {
    const r = await ockam(m.home, args, { timeoutMs: 90_000 });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };

  it('space create before any enrollment fails with what to do', async () => {
    const r = await ockam(m.home, ['space', 'create']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Please enroll using 'ockam enroll' before using this command/);
  });

  it('a node presents the credential stored for its scope; a node without one is refused', {
    timeout: 180_000,
  }, async () => {
    for (const n of ['authority', 'i1', 'i2']) await ok(['identity', 'create', n]);
    const authorityId = await ok(['identity', 'show', 'authority']);
    const authority = await ok(['identity', 'show', 'authority', '--full', '--encoding', 'hex']);
    const i1 = await ok(['identity', 'show', 'i1']);
    const credential = await ok([
      'credential',
      'issue',
      '--as',
      'authority',
      '--for',
      i1,
      '--attribute',
      'city=New York',
      '--encoding',
      'hex',
    ]);
    await ok([
      'node',
      'create',
      'n1',
      '--identity',
      'i1',
      '--authority-identity',
      authority,
      '--credential-scope',
      'test',
    ]);
    await ok(['node', 'create', 'n2', '--identity', 'i2', '--authority-identity', authority]);
    expect((await ockam(m.home, ['--output', 'json', 'node', 'show', 'n2'])).code).toBe(0);

    // Stored for a node that is running: it presents it from now on.
    expect(
      await ok([
        'credential',
        'store',
        '--issuer',
        authorityId,
        '--credential',
        credential,
        '--at',
        'n1',
        '--scope',
        'test',
      ]),
    ).toBe(credential);

    const allowed = await shell(
      m.home,
      'ockam secure-channel create --from n1 --identity i1 --to /node/n2/service/api | ockam message send --timeout 5 hello --from n1 --to -/service/echo',
    );
    expect(allowed.stdout.trim(), allowed.stderr).toBe('hello');

    const refused = await shell(
      m.home,
      'ockam secure-channel create --from n2 --identity i2 --to /node/n1/service/api | ockam message send --timeout 2 hello --from n2 --to -/service/echo',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stdout.trim()).not.toBe('hello');

    // A credential from another issuer is not what n1's authority attests: refused at --at.
    const other = await ok(['credential', 'issue', '--as', 'i2', '--for', i1, '--encoding', 'hex']);
    const i2Id = await ok(['identity', 'show', 'i2']);
    const wrong = await ockam(m.home, [
      'credential',
      'store',
      '--issuer',
      i2Id,
      '--credential',
      other,
      '--at',
      'n1',
      '--scope',
      'test',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/not a trusted authority/);
  });
});
