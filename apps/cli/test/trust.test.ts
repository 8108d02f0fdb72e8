import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ockam, tempHome } from './helpers.js';
import { run, startHttpServer } from './servers.js';

/** A "machine": its own $OCKAM_HOME. */
function machine() {
  const m = tempHome();
  return { ...m, o: (args: string[], env: NodeJS.ProcessEnv = {}) => ockam(m.home, args, { env }) };
}

async function curlHead(port: number): Promise<string> {
  return (
    (await run('curl', ['-sS', '-m', '8', '--head', `http://127.0.0.1:${port}/`])).stdout.split('\n')[0] ?? ''
  ).trim();
}

async function inletPort(m: ReturnType<typeof machine>, node: string, args: string[]): Promise<number> {
  const r = await m.o(['--output', 'json', 'tcp-inlet', 'create', '--at', node, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return Number(JSON.parse(r.stdout).bind_addr.split(':')[1]);
}

describe('projects, credentials and attribute-based access control', () => {
  const admin = machine();
  const others: Array<ReturnType<typeof machine>> = [];
  let web: Awaited<ReturnType<typeof startHttpServer>>;
  let projectHistory: string;

  const another = () => {
    const m = machine();
    others.push(m);
    return m;
  };

  async function ticket(args: string[] = []): Promise<string> {
    const r = await admin.o(['project', 'ticket', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  }

  beforeAll(async () => {
    web = await startHttpServer();
  });
  afterAll(async () => {
    web.stop();
    for (const m of others) await m.cleanup();
    await admin.cleanup();
  });

  it("runs the quick start from Ockam's README as written", async () => {
    const enroll = await admin.o(['enroll']);
    expect(enroll.code, enroll.stderr).toBe(0);
    expect(enroll.stdout).toMatch(
      /^Project default is running on node default at \/ip4\/127\.0\.0\.1\/tcp\/\d+/,
    );
    expect((await admin.o(['tcp-outlet', 'create', '--to', String(web.port)])).code).toBe(0);
    expect((await admin.o(['relay', 'create'])).stdout).toBe('/service/forward_to_default\n');
    const port = await inletPort(admin, 'default', ['--from', '127.0.0.1:0']);
    expect(await curlHead(port)).toBe('HTTP/1.0 200 OK');
    projectHistory = JSON.parse(
      (await admin.o(['--output', 'json', 'project', 'show'])).stdout,
    ).changeHistory;
    // With an authority every resource type defaults to deny-unless-credential.
    expect(JSON.parse((await admin.o(['policy', 'show', 'tcp-outlet'])).stdout)).toEqual({
      resource: 'tcp-outlet',
      action: 'handle_message',
      expression: '(= subject.has_credential true)',
    });
  });

  it('lets another machine join with a ticket and reach the outlet through the project relay', async () => {
    const b = another();
    const t = await ticket(['--attribute', 'component=web']);
    const enrolled = await b.o(['project', 'enroll', t]);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    // Piped, enroll prints Ockam's JSON: the identity, the project and the credential's attributes.
    expect(JSON.parse(enrolled.stdout)).toMatchObject({
      identity: { name: 'default', identifier: expect.stringMatching(/^I[0-9a-f]{64}$/) },
      project_name: 'default',
      credential: { attributes: { component: 'web' } },
    });
    expect((await b.o(['node', 'create', 'b1'])).code).toBe(0);
    const port = await inletPort(b, 'b1', ['--from', '127.0.0.1:0', '--via', 'default']);
    expect(await curlHead(port)).toBe('HTTP/1.0 200 OK');
    // A ticket is single-use by default.
    const c = another();
    const again = await c.o(['project', 'enroll', t]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^Error: .*(token|code|403|forbidden|unknown).*/i);
  });

  it('denies an identity that never enrolled, one with an expired credential and one from another authority', async () => {
    // Never enrolled: knows the project (an expired ticket), has no credential.
    const never = another();
    const expired = await ticket(['--expires-in', '1s']);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await never.o(['project', 'enroll', expired])).code).toBe(1);
    expect((await never.o(['node', 'create', 'x'])).code).toBe(0);
    const neverPort = await inletPort(never, 'x', [
      '--from',
      '127.0.0.1:0',
      '--via',
      'default',
      '--connection-wait',
      '0s',
    ]);
    expect(await curlHead(neverPort)).toBe('');

    // A credential from the project's authority that has expired.
    const stale = another();
    await stale.o(['identity', 'create', 'me']);
    const staleId = (await stale.o(['identity', 'show', 'me'])).stdout.trim();
    const short = await admin.o([
      'credential',
      'issue',
      '--as',
      'project-default',
      '--for',
      staleId,
      '--ttl',
      '2s',
    ]);
    expect(short.code, short.stderr).toBe(0);
    // It joins the project's trust (the project record comes from an unused ticket it never redeems).
    expect(
      (
        await stale.o([
          'credential',
          'store',
          '--issuer',
          projectHistory,
          '--credential',
          short.stdout.trim(),
          '--scope',
          'default',
        ])
      ).code,
    ).toBe(0);
    // … which needs the project record: enroll with a bad ticket fails after saving it, so save it through a real (expired) ticket.
    await stale.o(['project', 'enroll', expired]);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await stale.o(['node', 'create', 's', '--identity', 'me'])).code).toBe(0);
    const stalePort = await inletPort(stale, 's', [
      '--from',
      '127.0.0.1:0',
      '--via',
      'default',
      '--connection-wait',
      '0s',
    ]);
    expect(await curlHead(stalePort)).toBe('');

    // A valid credential, but signed by someone else.
    const foreign = another();
    await foreign.o(['identity', 'create', 'mallory']);
    const malloryId = (await foreign.o(['identity', 'show', 'mallory'])).stdout.trim();
    const forged = await foreign.o([
      'credential',
      'issue',
      '--as',
      'mallory',
      '--for',
      malloryId,
      '--attribute',
      'component=web',
      '--attribute',
      'ockam-relay=*',
    ]);
    expect(
      (
        await foreign.o([
          'credential',
          'store',
          '--issuer',
          'mallory',
          '--credential',
          forged.stdout.trim(),
          '--scope',
          'default',
        ])
      ).code,
    ).toBe(0);
    await foreign.o(['project', 'enroll', expired]);
    expect((await foreign.o(['node', 'create', 'f', '--identity', 'mallory'])).code).toBe(0);
    const foreignPort = await inletPort(foreign, 'f', [
      '--from',
      '127.0.0.1:0',
      '--via',
      'default',
      '--connection-wait',
      '0s',
    ]);
    expect(await curlHead(foreignPort)).toBe('');
    // None of them may create a relay at the project either.
    const relay = await foreign.o(['relay', 'create', 'evil', '--to', 'f']);
    expect(relay.code).toBe(1);
    // Each denial is answered at once (the outlet answers a refused Ping with Disconnect), so no
    // step waits out a timeout: what remains is starting processes and the two expiry waits.
  }, 30_000);

  it('applies a policy on the outlet at the next request, by attribute', async () => {
    const lacking = another();
    expect((await lacking.o(['project', 'enroll', await ticket()])).code).toBe(0);
    expect((await lacking.o(['node', 'create', 'g'])).code).toBe(0);
    const port = await inletPort(lacking, 'g', [
      '--from',
      '127.0.0.1:0',
      '--via',
      'default',
      '--connection-wait',
      '0s',
    ]);
    expect(await curlHead(port)).toBe('HTTP/1.0 200 OK');
    // Now only members with component=web may use the outlet.
    const set = await admin.o(['policy', 'create', '--resource', 'outlet', '--allow', 'component.web']);
    expect(set.stdout).toMatch(/\(= subject\.component\.web "true"\)|component/);
    const strict = await admin.o([
      'policy',
      'create',
      '--resource',
      'outlet',
      '--allow',
      '(= subject.component "web")',
    ]);
    expect(strict.code, strict.stderr).toBe(0);
    expect(await curlHead(port)).toBe('');
    // The admin's own inlet: the project node's credential has no component either → denied too.
    // Relax it again: the next request passes.
    expect(
      (
        await admin.o([
          'policy',
          'create',
          '--resource',
          'outlet',
          '--allow',
          '(= subject.has_credential true)',
        ])
      ).code,
    ).toBe(0);
    expect(await curlHead(port)).toBe('HTTP/1.0 200 OK');
    const list = JSON.parse((await admin.o(['--output', 'json', 'policy', 'list'])).stdout);
    expect(list).toContainEqual({
      resource: 'outlet',
      action: 'handle_message',
      expression: '(= subject.has_credential true)',
    });
    expect(
      (await admin.o(['policy', 'create', '--resource-type', 'nonsense', '--allow', 'x'])).stderr,
    ).toMatch(/^Error: Unknown resource type 'nonsense'/);
    expect(
      (await admin.o(['policy', 'create', '--resource', 'outlet', '--allow', '(= subject.x'])).stderr,
    ).toMatch(/^Error: invalid value '\(= subject.x' for '--allow <expression>': cannot parse the policy/);
  });

  it('issues, verifies and lists credentials from the command line', async () => {
    const m = another();
    await m.o(['identity', 'create', 'issuer']);
    await m.o(['identity', 'create', 'subject']);
    const subject = (await m.o(['identity', 'show', 'subject'])).stdout.trim();
    const cred = (
      await m.o([
        'credential',
        'issue',
        '--as',
        'issuer',
        '--for',
        subject,
        '--attribute',
        'role=db',
        '--ttl',
        '1h',
      ])
    ).stdout.trim();
    const v = JSON.parse(
      (await m.o(['--output', 'json', 'credential', 'verify', '--issuer', 'issuer', '--credential', cred]))
        .stdout,
    );
    expect(v).toMatchObject({ valid: true, subject, attributes: { role: 'db' } });
    // The verdict is the output (as in Ockam), not the exit code.
    const wrong = await m.o([
      '--output',
      'json',
      'credential',
      'verify',
      '--issuer',
      'subject',
      '--credential',
      cred,
    ]);
    expect(wrong.code).toBe(0);
    expect(JSON.parse(wrong.stdout)).toMatchObject({
      valid: false,
      error: expect.stringMatching(/not a trusted authority/),
    });
    const tampered = cred.slice(0, 40) + (cred[40] === '0' ? '1' : '0') + cred.slice(41);
    expect((await m.o(['credential', 'verify', '--issuer', 'issuer', '--credential', tampered])).stdout).toBe(
      'false\n',
    );
    expect(
      (await m.o(['credential', 'store', '--issuer', 'issuer', '--credential', cred, '--scope', 'lab'])).code,
    ).toBe(0);
    expect(JSON.parse((await m.o(['--output', 'json', 'credential', 'list'])).stdout)).toEqual([
      expect.objectContaining({ identity: 'subject', scope: 'lab', expired: false }),
    ]);
  });
});
