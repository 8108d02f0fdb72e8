/**
 * Issue 19, "Enterprise identity providers": a project's authority trusts a real OpenID provider
 * (@ockam/idp: oidc-provider on 127.0.0.1) and people enrol with `project enroll --oidc` /
 * `enroll --oidc`, logging in with headless Chromium as a person would. Their groups become
 * attributes that an outlet's policy checks; tokens that must not be accepted are refused at
 * the authority with a reason: another issuer, another audience, a replay, an expired token.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { Node } from '@ockam/core';
import { ApiError } from '@ockam/credentials';
import { createIdentity } from '@ockam/identity';
import { chromiumSkipReason, completeDeviceLogin, type StartedIdp, startIdp } from '@ockam/idp';
import {
  CLOCK_TOLERANCE_SECONDS,
  deviceLogin,
  getOidcSettings,
  presentIdToken,
  requestOidcNonce,
} from '@ockam/oidc';
import { createSecureChannel, trustIdentifier } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCKAM_BIN, ockam, tempHome } from './helpers.js';

const skip = chromiumSkipReason();
const PROMPT = /Open (\S+) and enter the code (\S+)/;

/** Runs `ockam args…`, logs in as `username` when it prints where to, and returns its result. */
async function enrolWithLogin(home: string, args: string[], username: string) {
  const child: ChildProcess = spawn(process.execPath, [OCKAM_BIN, ...args], {
    env: { ...process.env, OCKAM_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  let login: Promise<void> | undefined;
  child.stderr!.on('data', (d) => {
    stderr += d;
    const m = PROMPT.exec(stderr);
    if (m && login === undefined)
      login = completeDeviceLogin({ verificationUri: m[1]!, userCode: m[2]!, username, password: 'pw' });
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  expect(login, stderr).toBeDefined();
  await login;
  return { code, stdout, stderr };
}

function echoServer(): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** Sends `text` through `port`; resolves with what came back before the connection closed or the reply was complete. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(text));
    s.on('data', (d) => {
      got += d;
      if (got.length >= text.length) s.end();
    });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
}

describe.skipIf(skip !== undefined)('people enrol through an OpenID provider', () => {
  const m = tempHome();
  let idp: StartedIdp;
  let otherIdp: StartedIdp;
  let echo: Server;
  /** Every ID token this test handled: none may appear in the authority's log. */
  const tokens: string[] = [];
  const ok = async (args: string[]) => {
    const r = await ockam(m.home, args, { timeoutMs: 90_000 });
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    const users = [
      { username: 'alice', password: 'pw', claims: { email: 'alice@example.com', groups: ['db-admins'] } },
      { username: 'bob', password: 'pw', claims: { email: 'bob@example.com', groups: ['staff'] } },
    ];
    [idp, otherIdp, echo] = await Promise.all([
      startIdp({
        users,
        clients: [
          { clientId: 'ockam' },
          { clientId: 'another-app' },
          { clientId: 'short', idTokenTtlSeconds: 2 },
        ],
      }),
      startIdp({ users, clients: [{ clientId: 'ockam' }] }),
      echoServer(),
    ]);
  });
  afterAll(async () => {
    await m.cleanup();
    echo?.close();
    await idp?.stop();
    await otherIdp?.stop();
  });

  /** A secure channel from this process to the project's authority, as a fresh identity. */
  async function authorityChannel() {
    const p = JSON.parse(await ok(['--output', 'json', 'project', 'show', 'default']));
    const port = Number(/\/tcp\/(\d+)/.exec(p.route)![1]);
    const node = new Node({ name: 'tester' });
    node.registerTransport(new TcpTransport(node));
    const vault = createVault('node');
    const identity = await createIdentity(vault);
    const channel = await createSecureChannel(node, [`1#127.0.0.1:${port}`, 'api'], {
      identity,
      vault,
      trustPolicy: trustIdentifier(p.identifier),
      timeoutMs: 15_000,
    });
    const client = node.client();
    node.flowControls.addConsumer(client.address, channel.flowControlId);
    return { node, client, via: [channel.encryptorAddress.value] };
  }

  async function loginFor(issuer: string, clientId: string, nonce: string): Promise<string> {
    const token = await deviceLogin({
      issuer,
      clientId,
      scopes: ['openid', 'email', 'groups'],
      nonce,
      onPrompt: (p) =>
        completeDeviceLogin({
          verificationUri: p.verificationUri,
          userCode: p.userCode,
          username: 'alice',
          password: 'pw',
        }),
    });
    tokens.push(token);
    return token;
  }

  /** `project addon configure oidc` for the first provider, with this client and claims. */
  const configure = (clientId: string, ...claims: string[]) =>
    ok([
      'project',
      'addon',
      'configure',
      'oidc',
      '--issuer',
      idp.issuer,
      '--client-id',
      clientId,
      ...claims.flatMap((c) => ['--attribute-from-claim', c]),
    ]);

  async function refusal(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (e) {
      if (ApiError.isStatus(e)) return `${e.status} ${e.body?.message ?? ''}`;
      throw e;
    }
    throw new Error('expected a refusal');
  }

  it('a person in db-admins reaches the outlet; one in staff enrols but is refused by it', async () => {
    await ok(['enroll']);
    for (const who of ['alice', 'bob']) await ok(['identity', 'create', who]);
    // Plain http only for loopback issuers.
    const insecure = await ockam(m.home, [
      'project',
      'addon',
      'configure',
      'oidc',
      '--issuer',
      'http://login.example.com',
      '--client-id',
      'x',
    ]);
    expect(insecure.stderr).toMatch(/must use https \(plain http only on 127\.0\.0\.1, localhost or ::1\)/);
    expect(await configure('ockam', 'email', 'groups')).toMatch(/now enrols people who log in at/);
    expect(JSON.parse(await ok(['--output', 'json', 'project', 'addon', 'list']))).toEqual([
      expect.objectContaining({ id: 'oidc', enabled: true }),
    ]);
    const echoPort = (echo.address() as { port: number }).port;
    await ok(['node', 'create', 'db']);
    await ok([
      'tcp-outlet',
      'create',
      '--at',
      'db',
      '--to',
      String(echoPort),
      '--allow',
      '(= subject.groups "db-admins")',
    ]);

    const alice = await enrolWithLogin(
      m.home,
      ['project', 'enroll', '--oidc', '--identity', 'alice'],
      'alice',
    );
    expect(alice.code, alice.stderr).toBe(0);
    // Piped, the result is Ockam's enroll JSON; the credential ends when the ID token does (1 h).
    const aliceCredential = JSON.parse(alice.stdout).credential;
    expect(aliceCredential.attributes).toMatchObject({ email: 'alice@example.com', groups: 'db-admins' });
    expect(aliceCredential.expires_at - aliceCredential.created_at).toBeLessThanOrEqual(3600);
    // `enroll --oidc` joins the default project the same way.
    const bob = await enrolWithLogin(m.home, ['enroll', '--oidc', '--identity', 'bob'], 'bob');
    expect(bob.code, bob.stderr).toBe(0);
    expect(JSON.parse(bob.stdout).credential.attributes).toMatchObject({ groups: 'staff' });

    await ok(['node', 'create', 'alice-node', '--identity', 'alice']);
    await ok(['node', 'create', 'bob-node', '--identity', 'bob']);
    const to = '/node/db/secure/api/service/outlet';
    const aliceInlet = JSON.parse(
      await ok(['--output', 'json', 'tcp-inlet', 'create', '--at', 'alice-node', '--to', to]),
    );
    const bobInlet = JSON.parse(
      await ok([
        '--output',
        'json',
        'tcp-inlet',
        'create',
        '--at',
        'bob-node',
        '--to',
        to,
        '--no-connection-wait',
      ]),
    );
    const port = (a: string) => Number(a.split(':').pop());
    expect(await roundTrip(port(aliceInlet.bind_addr), 'hello through the portal')).toBe(
      'hello through the portal',
    );
    expect(await roundTrip(port(bobInlet.bind_addr), 'let me in')).toBe('');
    // It was the policy: one that asks for the staff group (its flag attribute) lets bob in, not alice.
    await ok([
      'policy',
      'create',
      '--at',
      'db',
      '--resource',
      'outlet',
      '--allow',
      '(= subject.groups.staff "true")',
    ]);
    expect(await roundTrip(port(bobInlet.bind_addr), 'let me in')).toBe('let me in');
    expect(await roundTrip(port(aliceInlet.bind_addr), 'hello again')).toBe('');
    // Starting the project again (ockam enroll) keeps its add-on.
    await ok(['enroll']);
    expect(JSON.parse(await ok(['--output', 'json', 'project', 'addon', 'list']))).toEqual([
      expect.objectContaining({ id: 'oidc', enabled: true }),
    ]);
  }, 120_000);

  it('refuses, with reasons, a token from another issuer, for another audience, replayed, or expired', async () => {
    const { node, client, via } = await authorityChannel();
    try {
      expect((await getOidcSettings(client, via)).issuer).toBe(idp.issuer);
      const n1 = await requestOidcNonce(client, via);
      const foreign = await loginFor(otherIdp.issuer, 'ockam', n1.nonce);
      expect(await refusal(presentIdToken(client, via, foreign))).toMatch(/^403 wrong-issuer/);
      const n2 = await requestOidcNonce(client, via);
      const otherApp = await loginFor(idp.issuer, 'another-app', n2.nonce);
      expect(await refusal(presentIdToken(client, via, otherApp))).toMatch(/^403 wrong-audience/);
      const n3 = await requestOidcNonce(client, via);
      const token = await loginFor(idp.issuer, 'ockam', n3.nonce);
      expect(Object.fromEntries((await presentIdToken(client, via, token)).attributes)).toMatchObject({
        groups: 'db-admins',
      });
      expect(await refusal(presentIdToken(client, via, token))).toMatch(/^403 nonce-used/);
    } finally {
      await node.stop();
    }

    // The same project, now trusting a client whose ID tokens live 2 s.
    await configure('short', 'groups');
    const again = await authorityChannel();
    try {
      const n = await requestOidcNonce(again.client, again.via);
      const short = await loginFor(idp.issuer, 'short', n.nonce);
      const exp = decodeJwt(short).exp!;
      await expect
        .poll(() => Date.now() / 1000 > exp + CLOCK_TOLERANCE_SECONDS, { timeout: 20_000, interval: 200 })
        .toBe(true);
      expect(await refusal(presentIdToken(again.client, again.via, short))).toMatch(/^403 expired/);
    } finally {
      await again.node.stop();
    }
    const logs = await ok(['node', 'logs', 'default']);
    for (const reason of ['wrong-issuer', 'wrong-audience', 'nonce-used', 'expired'])
      expect(logs).toContain(reason);
    for (const t of tokens) expect(logs).not.toContain(t.split('.')[2]!);
    await ok(['project', 'addon', 'disable', 'oidc']);
    expect(JSON.parse(await ok(['--output', 'json', 'project', 'addon', 'list']))).toEqual([
      expect.objectContaining({ id: 'oidc', enabled: false }),
    ]);
  }, 120_000);
});
