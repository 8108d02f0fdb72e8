/**
 * The flags and commands Ockam's own scripts use for identities, credentials and a standalone
 * authority (its bats `local/authority.bats` flow), run with our command: export and import an
 * identity, issue and verify by identifier, `authority create` + `project import --project-file` +
 * `project ticket --identity` + `project enroll [TICKET] --identity`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

function machine() {
  const m = tempHome();
  const o = (args: string[]) => ockam(m.home, args, { timeoutMs: 90_000 });
  const ok = async (args: string[]) => {
    const r = await o(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  return { ...m, o, ok };
}

/** A free port for the authority (Ockam's scripts pick one at random as well). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("Ockam's identity, credential and authority commands", () => {
  const a = machine();
  const b = machine();
  const files = mkdtempSync(join(tmpdir(), 'ock-files-'));
  afterAll(async () => {
    await a.cleanup();
    await b.cleanup();
    rmSync(files, { recursive: true, force: true });
  });

  it('exports an identity with --full --encoding hex and imports it elsewhere under a name, with the same identifier', async () => {
    await a.ok(['identity', 'create', 'alice']);
    const id = await a.ok(['identity', 'show', 'alice']);
    const hex = await a.ok(['identity', 'show', 'alice', '--full', '--encoding', 'hex']);
    expect(hex).toMatch(/^81[0-9a-f]+$/);

    expect(
      JSON.parse(
        await a.ok(['--output', 'json', 'identity', 'show', 'alice', '--full', '--encoding', 'hex']),
      ),
    ).toEqual({
      encoded: hex,
    });
    // Without an encoding, --full describes each change as Ockam does.
    const described = await a.ok(['identity', 'show', 'alice', '--full']);
    expect(described).toBe(await a.ok(['identity', 'show', 'alice', '--full', '--encoding', 'plain']));
    expect(described).toMatch(
      new RegExp(
        `^Identifier: ${id}\\n  Change\\[0\\]:\\n    identifier: +${id.slice(1)}\\n    primary_public_key: +EdDSACurve25519: [0-9a-f]{64}\\n    revoke_all_purpose_keys: false$`,
      ),
    );
    const noFull = await a.o(['identity', 'show', 'alice', '--encoding', 'hex']);
    expect(noFull.stderr).toMatch(/--encoding requires --full/);

    expect(await b.ok(['identity', 'create', 'alice', '--identity', hex])).toBe(
      `Identity ${id} imported as alice`,
    );
    expect(await b.ok(['identity', 'show', 'alice'])).toBe(id);
    // A changed byte in a signature: refused, nothing stored.
    const tampered = `${hex.slice(0, -2)}${hex.endsWith('00') ? '01' : '00'}`;
    const bad = await b.o(['identity', 'create', 'mallory', '--identity', tampered]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: Invalid identity: /);
    expect((await b.o(['identity', 'show', 'mallory'])).code).toBe(1);
  });

  it('issues a credential with --encoding hex that the other home verifies and stores by the issuer identifier', async () => {
    const alice = await a.ok(['identity', 'show', 'alice']);
    const bob = await b.ok(['identity', 'show']);
    const cred = await a.ok([
      'credential',
      'issue',
      '--as',
      'alice',
      '--for',
      bob,
      '--attribute',
      'team=blue',
      '--encoding',
      'hex',
    ]);
    expect(cred).toMatch(/^82[0-9a-f]+$/);
    expect(await a.ok(['credential', 'issue', '--as', 'alice', '--for', bob, '--encoding', 'plain'])).toMatch(
      new RegExp(`^Credential:\\n  subject: ${bob}\\n  issuer: ${alice}\\n`),
    );
    const verified = JSON.parse(
      await b.ok(['--output', 'json', 'credential', 'verify', '--issuer', alice, '--credential', cred]),
    );
    expect(verified).toMatchObject({
      valid: true,
      subject: bob,
      issuer: alice,
      attributes: { team: 'blue' },
    });
    const path = join(files, 'bob.cred');
    writeFileSync(path, `${cred}\n`);
    // Piped, verify prints its verdict as Ockam does: `true` or `false`, with success either way.
    expect(await b.ok(['credential', 'verify', '--issuer', alice, '--credential-path', path])).toBe('true');
    const bad = join(files, 'bad.cred');
    writeFileSync(bad, 'aabbcc\n');
    expect(await b.ok(['credential', 'verify', '--issuer', alice, '--credential-path', bad])).toBe('false');
    const badStore = await b.o([
      'credential',
      'store',
      '--issuer',
      alice,
      '--credential-path',
      bad,
      '--scope',
      'x',
    ]);
    expect(badStore.code).toBe(1);
    expect(badStore.stderr).toMatch(/Credential is not verified/);
    // Piped, store prints the stored credential; list prints Ockam's JSON with the attributes.
    expect(
      await b.ok(['credential', 'store', '--issuer', alice, '--credential-path', path, '--scope', 'blue']),
    ).toBe(cred);
    expect(JSON.parse(await b.ok(['credential', 'list']))).toEqual([
      expect.objectContaining({
        credential: expect.objectContaining({ attributes: { team: 'blue' }, issuer: alice, subject: bob }),
        is_verified: true,
        scope: 'blue',
      }),
    ]);
    // Filters, as Ockam's: by subject and by issuer.
    expect(JSON.parse(await b.ok(['credential', 'list', '--subject', bob, '--issuer', alice]))).toHaveLength(
      1,
    );
    expect(JSON.parse(await b.ok(['credential', 'list', '--issuer', bob]))).toEqual([]);
    expect(JSON.parse(await b.ok(['credential', 'list', '--subject', alice]))).toEqual([]);
    // An identifier this home does not know is refused with what to do.
    const unknown = await b.o([
      'credential',
      'verify',
      '--issuer',
      `I${'0'.repeat(64)}`,
      '--credential',
      cred,
    ]);
    expect(unknown.stderr).toMatch(
      /is not known here: import it first with 'ockam identity create NAME --identity HEX'/,
    );
    const both = await b.o([
      'credential',
      'verify',
      '--issuer',
      alice,
      '--credential',
      cred,
      '--credential-path',
      path,
    ]);
    expect(both.stderr).toMatch(/exactly one of --credential and --credential-path/);
  });

  it("runs Ockam's standalone authority flow: authority create, project import, project enroll and project ticket --identity", async () => {
    await a.ok(['identity', 'create', 'enroller']);
    await a.ok(['identity', 'create', 'm1']);
    const enroller = await a.ok(['identity', 'show', 'enroller']);
    const m1 = await a.ok(['identity', 'show', 'm1']);
    const port = await freePort();
    const trusted = JSON.stringify({
      [enroller]: { 'ockam-role': 'enroller' },
      [m1]: { sample_attr: 'sample_val' },
    });
    await a.ok([
      'authority',
      'create',
      '--tcp-listener-address',
      `127.0.0.1:${port}`,
      '--project-identifier',
      '1',
      '--trusted-identities',
      trusted,
    ]);
    // As in Ockam, the authority's identity is named "authority" unless --identity says otherwise.
    const authority = await a.ok(['identity', 'show', '--full', '--encoding', 'hex', 'authority']);
    const projectFile = join(files, 'project.json');
    // The project identity of Ockam's bats files (a project node that does not run here).
    writeFileSync(
      projectFile,
      JSON.stringify({
        id: '1',
        name: 'default',
        space_name: 'together-porgy',
        access_route: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
        users: [],
        space_id: '1',
        identity: 'I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819',
        project_change_history:
          '81825837830101583285f68200815820f405e06d988fa8039cce1cd0ae607e46847c1b64bc459ca9d89dd9b21ae30681f41a654cebe91a7818eee98200815840494c9b70e8a9ad5593fceb478f722a513b4bd39fa70f4265d584253bc24617d0eb498ce532273f6d0d5326921e013696fce57c20cc6c4008f74b816810f0b009',
        authority_access_route: `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
        authority_identity: authority,
        version: '605c4632ded93eb17edeeef31fa3860db225b3ab-2023-12-05',
        running: false,
        operation_id: null,
        user_roles: [],
      }),
    );
    expect(await a.ok(['project', 'import', '--project-file', projectFile])).toBe(
      'Successfully imported project default (identifier I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819)',
    );
    // A pre-trusted member gets its credential without a ticket.
    const member = JSON.parse(await a.ok(['--output', 'json', 'project', 'enroll', '--identity', 'm1']));
    expect(member.attributes).toMatchObject({ sample_attr: 'sample_val', trust_context_id: '1' });
    // An identity that is no member gets nothing.
    await a.ok(['identity', 'create', 'm6']);
    expect((await a.o(['project', 'enroll', '--identity', 'm6'])).code).toBe(1);

    const ticket = await a.ok([
      'project',
      'ticket',
      '--identity',
      'enroller',
      '--attribute',
      'sample_attr=m2_member',
    ]);
    const json = JSON.parse(Buffer.from(ticket, 'hex').toString('utf8'));
    expect(Object.keys(json)).toEqual(['one_time_code', 'project']);
    expect(json.project).toMatchObject({
      id: '1',
      name: 'default',
      access_route: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      authority_access_route: `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
      authority_identity: authority,
    });
    // Only an enroller may make tickets.
    expect((await a.o(['project', 'ticket', '--identity', 'm1'])).code).toBe(1);

    const ticketFile = join(files, 'm2.ticket');
    writeFileSync(ticketFile, `${ticket}\n`);
    const enrolled = JSON.parse(await b.ok(['--output', 'json', 'project', 'enroll', ticketFile]));
    expect(enrolled.attributes).toMatchObject({ sample_attr: 'm2_member' });
    const shown = JSON.parse(await b.ok(['--output', 'json', 'project', 'show']));
    expect(shown).toMatchObject({
      route: '/dnsaddr/127.0.0.1/tcp/4000',
      authorityRoute: `/dnsaddr/127.0.0.1/tcp/${port}`,
      authorityChangeHistory: authority,
    });
    // A member presenting a ticket is told it is already one, and gets its credential anyway, as
    // with Ockam's command.
    const spare = await a.ok(['project', 'ticket', '--identity', 'enroller']);
    const again = JSON.parse(
      await a.ok(['--output', 'json', 'project', 'enroll', spare, '--identity', 'm1']),
    );
    expect(again.attributes).toMatchObject({ sample_attr: 'sample_val' });
    // The ticket was for one use.
    expect((await ockam(a.home, ['project', 'enroll', ticket, '--identity', 'm6'])).code).toBe(1);
  });

  it("prints our own project's tickets in Ockam's legacy JSON form, with /dnsaddr routes to the project node", async () => {
    const c = machine();
    const d = machine();
    try {
      await c.ok(['enroll']);
      const project = JSON.parse(await c.ok(['--output', 'json', 'project', 'show']));
      const ticket = await c.ok(['project', 'ticket', '--attribute', 'component=db']);
      const json = JSON.parse(Buffer.from(ticket, 'hex').toString('utf8'));
      const port = project.route.split('/').pop();
      expect(json).toEqual({
        one_time_code: expect.stringMatching(/^[0-9a-f]{64}$/),
        project: {
          id: project.id,
          name: 'default',
          space_name: '',
          access_route: `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
          users: [],
          space_id: '',
          identity: project.identifier,
          authority_access_route: `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
          authority_identity: project.changeHistory,
          version: null,
          running: null,
          operation_id: null,
          user_roles: [],
          project_change_history: project.changeHistory,
        },
      });
      // Read back: the project node is its own authority.
      const enrolled = JSON.parse(await d.ok(['--output', 'json', 'project', 'enroll', ticket]));
      expect(enrolled.attributes).toMatchObject({ component: 'db' });
      expect(JSON.parse(await d.ok(['--output', 'json', 'project', 'show']))).toMatchObject({
        route: project.route.replace('/ip4/', '/dnsaddr/'),
        authorityRoute: null,
        authorityChangeHistory: null,
      });
    } finally {
      await c.cleanup();
      await d.cleanup();
    }
  });
});
