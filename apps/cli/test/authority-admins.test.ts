/**
 * A standalone authority (`ockam authority create`) with an account authority: project admins
 * are identities holding the account authority's credential with `project=<id>`, presented once
 * on a secure channel (`secure-channel create --credential`); with `--enforce-admin-checks`
 * enrollers are not admins. Members come pre-trusted, by tickets (counted, expiring) and, unless
 * `--no-direct-authentication`, by `project-member add`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A project file naming the authority's identity and route (the project node itself is elsewhere). */
function projectFile(dir: string, authority: string, port: number): string {
  const path = join(dir, 'project.json');
  writeFileSync(
    path,
    JSON.stringify({
      id: '1',
      name: 'default',
      access_route: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
      identity: 'I923829d0397a06fa862be5a87b7966959b8ef99ab6455b843ca9131a747b4819',
      project_change_history:
        '81825837830101583285f68200815820f405e06d988fa8039cce1cd0ae607e46847c1b64bc459ca9d89dd9b21ae30681f41a654cebe91a7818eee98200815840494c9b70e8a9ad5593fceb478f722a513b4bd39fa70f4265d584253bc24617d0eb498ce532273f6d0d5326921e013696fce57c20cc6c4008f74b816810f0b009',
      authority_access_route: `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
      authority_identity: authority,
    }),
  );
  return path;
}

describe('a standalone authority with project admins, enrollers and members', () => {
  let m = tempHome();
  let dir = mkdtempSync(join(tmpdir(), 'ock-auth-'));
  afterEach(async () => {
    await m.cleanup();
    rmSync(dir, { recursive: true, force: true });
    m = tempHome();
    dir = mkdtempSync(join(tmpdir(), 'ock-auth-'));
  });
  const o = (args: string[]) => ockam(m.home, args, { timeoutMs: 90_000 });
  const ok = async (args: string[]) => {
    const r = await o(args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  const id = (name: string) => ok(['identity', 'show', name]);
  /** `authority create` on a free port, project id 1, with these pre-trusted members and flags; its port. */
  const startAuthority = async (trusted: string, ...flags: string[]) => {
    const port = await freePort();
    await ok([
      'authority',
      'create',
      '--tcp-listener-address',
      `127.0.0.1:${port}`,
      '--project-identifier',
      '1',
      '--trusted-identities',
      trusted,
      ...flags,
    ]);
    return port;
  };

  it('an account-authority credential makes an admin; admins make enrollers, enrollers only members', {
    timeout: 240_000,
  }, async () => {
    for (const n of ['authority', 'account', 'admin', 'm1', 'm2', 'm3', 'e1'])
      await ok(['identity', 'create', n]);
    const account = await ok(['identity', 'show', 'account', '--full', '--encoding', 'hex']);
    const authority = await ok(['identity', 'show', 'authority', '--full', '--encoding', 'hex']);
    const adminCredential = await ok([
      'credential',
      'issue',
      '--as',
      'account',
      '--for',
      await id('admin'),
      '--attribute',
      'project=1',
      '--encoding',
      'hex',
    ]);
    await ok(['node', 'create', 'admin', '--identity', 'admin', '--authority-identity', account]);
    const port = await startAuthority(
      JSON.stringify({ [await id('m1')]: { sample_attr: 'sample_val' } }),
      '--no-direct-authentication',
      '--account-authority',
      account,
      '--enforce-admin-checks',
    );
    // The admin presents its admin credential once; the authority remembers it.
    await ok([
      'secure-channel',
      'create',
      '--from',
      'admin',
      '--to',
      `/dnsaddr/127.0.0.1/tcp/${port}/service/api`,
      '--identity',
      'admin',
      '--credential',
      adminCredential,
    ]);
    await ok(['project', 'import', '--project-file', projectFile(dir, authority, port)]);

    const admin = JSON.parse(await ok(['project', 'enroll', '--identity', 'admin']));
    expect(admin.identity.name).toBe('admin');
    expect(admin.credential.attributes).toMatchObject({ 'ockam-relay': '*' });
    const m1 = JSON.parse(await ok(['project', 'enroll', '--identity', 'm1']));
    expect(m1.credential.attributes).toMatchObject({ sample_attr: 'sample_val', trust_context_id: '1' });

    // A ticket for two members, used twice, then refused.
    const twice = await ok([
      'project',
      'ticket',
      '--identity',
      'admin',
      '--usage-count',
      '2',
      '--attribute',
      'g=x',
    ]);
    expect(
      JSON.parse(await ok(['project', 'enroll', twice, '--identity', 'm2'])).credential.attributes.g,
    ).toBe('x');
    expect(
      JSON.parse(await ok(['project', 'enroll', twice, '--identity', 'm3'])).credential.attributes.g,
    ).toBe('x');
    await ok(['identity', 'create', 'm4']);
    expect((await o(['project', 'enroll', twice, '--identity', 'm4'])).code).toBe(1);

    // The admin makes an enroller; the enroller makes member tickets but no enroller tickets.
    const enrollerTicket = await ok(['project', 'ticket', '--identity', 'admin', '--enroller']);
    const e1 = JSON.parse(await ok(['project', 'enroll', enrollerTicket, '--identity', 'e1']));
    expect(e1.credential.attributes['ockam-role']).toBe('enroller');
    await ok(['project', 'ticket', '--identity', 'e1']);
    expect((await o(['project', 'ticket', '--identity', 'e1', '--enroller'])).code).toBe(1);

    // --no-direct-authentication: nobody adds members directly.
    expect((await o(['project-member', 'list-ids', '--identity', 'admin'])).code).toBe(1);
  });

  it('without --enforce-admin-checks, a pre-trusted enroller is an admin and makes enrollers', {
    timeout: 240_000,
  }, async () => {
    for (const n of ['authority', 'account', 'm1', 'm2']) await ok(['identity', 'create', n]);
    const account = await ok(['identity', 'show', 'account', '--full', '--encoding', 'hex']);
    const authority = await ok(['identity', 'show', 'authority', '--full', '--encoding', 'hex']);
    const port = await startAuthority(
      JSON.stringify({ [await id('m1')]: { 'ockam-role': 'enroller', sample_attr: 'sample_val' } }),
      '--no-direct-authentication',
      '--account-authority',
      account,
    );
    await ok(['project', 'import', '--project-file', projectFile(dir, authority, port)]);
    const ticket = await ok([
      'project',
      'ticket',
      '--identity',
      'm1',
      '--enroller',
      '--attribute',
      'sample_attr=m2',
    ]);
    const m2 = JSON.parse(await ok(['project', 'enroll', ticket, '--identity', 'm2']));
    expect(m2.credential.attributes).toMatchObject({ sample_attr: 'm2', 'ockam-role': 'enroller' });
  });

  it('an enroller lists, adds, shows and deletes members; an expired ticket enrolls nobody', {
    timeout: 240_000,
  }, async () => {
    for (const n of ['authority', 'enroller', 'm', 'late']) await ok(['identity', 'create', n]);
    const authority = await ok(['identity', 'show', 'authority', '--full', '--encoding', 'hex']);
    const authorityId = await id('authority');
    const enroller = await id('enroller');
    const member = await id('m');
    const port = await startAuthority(JSON.stringify({ [enroller]: { 'ockam-role': 'enroller' } }));
    // As in Ockam, piped output is JSON: the authority's node is running.
    expect(JSON.parse(await ok(['node', 'show', 'authority']))).toMatchObject({ status: 'running' });
    await ok(['project', 'import', '--project-file', projectFile(dir, authority, port)]);

    expect(JSON.parse(await ok(['project-member', 'list-ids', '--identity', 'enroller']))).toEqual([
      enroller,
    ]);
    await ok([
      'project-member',
      'add',
      member,
      '--identity',
      'enroller',
      '--attribute',
      'key=value',
      '--relay=*',
    ]);
    const members = JSON.parse(await ok(['project-member', 'list', '--identity', 'enroller']));
    expect(members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          identifier: enroller,
          attributes: expect.objectContaining({
            attributes: { 'ockam-role': 'enroller' },
            attested_by: authorityId,
          }),
        }),
        expect.objectContaining({
          identifier: member,
          attributes: expect.objectContaining({
            attributes: { key: 'value', 'ockam-relay': '*' },
            attested_by: enroller,
          }),
        }),
      ]),
    );
    expect(JSON.parse(await ok(['project-member', 'show', member, '--identity', 'enroller']))).toMatchObject({
      identifier: member,
      attributes: { attributes: { key: 'value' }, attested_by: enroller },
    });
    await ok(['project-member', 'delete', member, '--identity', 'enroller']);
    expect(JSON.parse(await ok(['project-member', 'list-ids', '--identity', 'enroller']))).toEqual([
      enroller,
    ]);

    // node create --enrollment-ticket: the node's identity enrolls first, then the node joins the project.
    await ok(['identity', 'create', 'n3']);
    const forNode = await ok(['project', 'ticket', '--identity', 'enroller', '--attribute', 'role=n3']);
    await ok(['node', 'create', 'n3', '--identity', 'n3', '--enrollment-ticket', forNode]);
    expect(JSON.parse(await ok(['credential', 'list']))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          identity: 'n3',
          scope: 'default',
          credential: expect.objectContaining({ attributes: expect.objectContaining({ role: 'n3' }) }),
        }),
      ]),
    );

    // A ticket that expires before it is used.
    const ticket = await ok(['project', 'ticket', '--identity', 'enroller', '--expires-in', '1s']);
    await new Promise((r) => setTimeout(r, 2_100)); // the ticket's own lifetime, not a wait for a condition
    expect((await o(['project', 'enroll', ticket, '--identity', 'late'])).code).toBe(1);
  });
});
