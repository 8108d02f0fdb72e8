/**
 * Matrix item 3 (issue 15): identities and credentials between our `ockam` and Ockam Rust 0.139's.
 * Each side exports with `identity show --full --encoding hex`; the other imports with
 * `identity create NAME --identity HEX` (Ockam's way: it verifies the history and stores it) and
 * must print the same identifier. Credentials from `credential issue --encoding hex` verify on the
 * other side with `credential verify --issuer IDENTIFIER` and are kept with `credential store`.
 * Ockam's command cannot rotate a key (no such subcommand in 0.139); ours rotates and Ockam's must
 * take the longer history and what the new key signs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ockam, rustMissing } from '../src/ockam.js';

const IDENTIFIER = /^I[0-9a-f]{64}$/;

/** `identity show NAME` on either side: the identifier alone. */
async function identifierOf(o: Ockam, name: string): Promise<string> {
  const id = (await o.ok(['identity', 'show', name])).trim();
  expect(id).toMatch(IDENTIFIER);
  return id;
}

/** The exported change history (hex), as Ockam's scripts take it. */
async function exportOf(o: Ockam, name: string): Promise<string> {
  const hex = (await o.ok(['identity', 'show', name, '--full', '--encoding', 'hex'])).trim();
  expect(hex).toMatch(/^[0-9a-f]+$/);
  return hex;
}

/** Rust's `credential verify` exits 0 either way; its JSON says whether the credential is valid. */
async function rustVerifies(rust: Ockam, issuer: string, credential: string): Promise<boolean> {
  const r = await rust.json<{ is_valid: boolean }>([
    'credential',
    'verify',
    '--issuer',
    issuer,
    '--credential',
    credential,
  ]);
  return r.is_valid;
}

describe.skipIf(rustMissing())('identities and credentials with Ockam Rust 0.139', () => {
  let ours: Ockam;
  let rust: Ockam;

  beforeAll(async () => {
    ours = Ockam.ours();
    rust = Ockam.rust();
    await ours.ok(['identity', 'create', 'alice']);
    await rust.ok(['identity', 'create', 'bob']);
    // Rust's `credential store` keeps a credential for a node (the default one), starting one when
    // there is none: start it here, so that the command prints only its own result.
    await rust.createNode('r0', ['--identity', 'bob']);
  });
  afterAll(async () => {
    await ours?.dispose();
    await rust?.dispose();
  });

  it("an identity our command makes is imported by Ockam's with the same identifier", async () => {
    const alice = await identifierOf(ours, 'alice');
    await rust.ok(['identity', 'create', 'alice', '--identity', await exportOf(ours, 'alice')]);
    expect(await identifierOf(rust, 'alice')).toBe(alice);
    // Ockam's re-export of what it imported is byte for byte ours.
    expect(await exportOf(rust, 'alice')).toBe(await exportOf(ours, 'alice'));
  });

  it("an identity Ockam's command makes is imported and verified by ours with the same identifier", async () => {
    const bob = await identifierOf(rust, 'bob');
    const hex = await exportOf(rust, 'bob');
    expect((await ours.ok(['identity', 'verify', hex])).trim()).toBe(bob);
    await ours.ok(['identity', 'create', 'bob', '--identity', hex]);
    expect(await identifierOf(ours, 'bob')).toBe(bob);
    expect(await exportOf(ours, 'bob')).toBe(hex);
  });

  it('a tampered export is refused by both commands', async () => {
    const hex = await exportOf(ours, 'alice');
    // The last byte is inside the first change's Ed25519 signature.
    const tampered = `${hex.slice(0, -2)}${hex.endsWith('00') ? '01' : '00'}`;
    expect((await ours.run(['identity', 'create', 'mallory', '--identity', tampered])).code).not.toBe(0);
    expect((await rust.run(['identity', 'create', 'mallory', '--identity', tampered])).code).not.toBe(0);
    expect((await rust.run(['identity', 'show', 'mallory'])).code).not.toBe(0);
  });

  it("a credential our command issues verifies in Ockam's and is stored there", async () => {
    const alice = await identifierOf(ours, 'alice');
    const bob = await identifierOf(rust, 'bob');
    const credential = (
      await ours.ok([
        'credential',
        'issue',
        '--as',
        'alice',
        '--for',
        bob,
        '--attribute',
        'component=db',
        '--encoding',
        'hex',
      ])
    ).trim();
    expect(await rustVerifies(rust, alice, credential)).toBe(true);
    // Trusting another issuer, the same credential is invalid.
    expect(await rustVerifies(rust, bob, credential)).toBe(false);
    const stored = await rust.json<{ issuer: string; credential: string }>([
      'credential',
      'store',
      '--issuer',
      alice,
      '--scope',
      'interop',
      '--credential',
      credential,
    ]);
    expect(stored.issuer).toBe(alice);
    expect(stored.credential).toBe(credential);
    const list = await rust.ok(['credential', 'list']);
    expect(list).toContain('component');
  });

  it("a credential Ockam's command issues verifies in ours with its attributes, and is stored", async () => {
    const bob = await identifierOf(rust, 'bob');
    const me = await ours.identifier();
    const credential = (
      await rust.ok([
        'credential',
        'issue',
        '--as',
        'bob',
        '--for',
        me,
        '--attribute',
        'component=web',
        '--encoding',
        'hex',
      ])
    ).trim();
    expect(credential).toMatch(/^[0-9a-f]+$/);
    const verified = await ours.json<{
      valid: boolean;
      subject: string;
      issuer: string;
      attributes: Record<string, string>;
      expiresAt: number;
      createdAt: number;
    }>(['credential', 'verify', '--issuer', bob, '--credential', credential]);
    expect(verified).toMatchObject({
      valid: true,
      subject: me,
      issuer: bob,
      attributes: { component: 'web' },
    });
    // Ockam's `credential issue` defaults to 30 minutes.
    expect(verified.expiresAt - verified.createdAt).toBe(30 * 60);
    // Trusting another issuer, ours says it is not valid (as Ockam: the verdict, with success).
    const wrong = await ours.run(['credential', 'verify', '--issuer', 'alice', '--credential', credential]);
    expect(wrong.code).toBe(0);
    expect(wrong.stdout.trim()).toBe('false');
    await ours.ok(['credential', 'store', '--issuer', bob, '--scope', 'interop', '--credential', credential]);
    // Ockam's list shape: the credential (hex and what it says), its scope.
    const list = await ours.json<
      Array<{ scope: string; credential: { credential: string; issuer: string } }>
    >(['credential', 'list']);
    expect(list.find((c) => c.scope === 'interop')?.credential).toMatchObject({ credential, issuer: bob });
  });

  it("after our command rotates a key, Ockam's imports the longer history and verifies what the new key signs", async () => {
    const alice = await identifierOf(ours, 'alice');
    const before = await exportOf(ours, 'alice');
    await ours.ok(['identity', 'rotate', 'alice']);
    const after = await exportOf(ours, 'alice');
    expect(after.length).toBeGreaterThan(before.length);
    expect(await identifierOf(ours, 'alice')).toBe(alice);
    // Ockam's command has no rotation of its own; it takes the rotated history as a newer one.
    await rust.ok(['identity', 'create', 'alice-rotated', '--identity', after]);
    expect(await identifierOf(rust, 'alice-rotated')).toBe(alice);
    const bob = await identifierOf(rust, 'bob');
    const credential = (
      await ours.ok([
        'credential',
        'issue',
        '--as',
        'alice',
        '--for',
        bob,
        '--attribute',
        'k=v',
        '--encoding',
        'hex',
      ])
    ).trim();
    expect(await rustVerifies(rust, alice, credential)).toBe(true);
  });
});
