/**
 * The provider and the browser helper end to end: oidc-provider on a free port, openid-client as
 * the device (what the CLI uses), headless Chromium as the person, jose verifying the ID token
 * against the published JWKS.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumSkipReason, completeDeviceLogin, type StartedIdp, startIdp } from '../src/index.js';

const ALICE = {
  username: 'alice',
  password: 'correct horse battery staple',
  claims: { email: 'alice@example.com', email_verified: true, groups: ['db-admins'], name: 'Alice' },
};
const BOB = {
  username: 'bob',
  password: 'hunter2-but-longer',
  claims: { email: 'bob@example.com', groups: [] },
};

const skip = chromiumSkipReason();
if (skip) console.warn(`skipping the browser tests of @ockam/idp: ${skip}`);

let idp: StartedIdp;

beforeAll(async () => {
  idp = await startIdp({
    users: [ALICE, BOB],
    clients: [
      { clientId: 'ockam-cli' },
      { clientId: 'short-lived', idTokenTtlSeconds: 5, idTokenSigningAlg: 'ES256' },
    ],
  });
});
afterAll(async () => {
  await idp?.stop();
});

async function device(clientId: string) {
  const config = await client.discovery(new URL(idp.issuer), clientId, undefined, undefined, {
    execute: [client.allowInsecureRequests],
  });
  return config;
}

async function verify(idToken: string, audience: string) {
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as {
    jwks_uri: string;
  };
  return jwtVerify(idToken, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: idp.issuer,
    audience,
  });
}

/** Verifies an ID token against the JWKS and checks its header, issuer, audience, lifetime and claims. */
async function expectIdToken(
  idToken: string,
  audience: string,
  alg: string,
  ttlSeconds: number,
  claims: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { payload, protectedHeader } = await verify(idToken, audience);
  expect(protectedHeader.alg).toBe(alg);
  expect(payload).toMatchObject({ iss: idp.issuer, aud: audience, ...claims });
  expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(ttlSeconds);
  return payload;
}

/** A device (openid-client) asks for a login and polls while the person signs in in Chromium. */
async function signIn(
  clientId: string,
  parameters: Record<string, string>,
  person: { username: string; password: string; typeCode: boolean },
): Promise<{ idToken: string; pages: string[]; interval: number | undefined }> {
  const config = await device(clientId);
  const auth = await client.initiateDeviceAuthorization(config, parameters);
  expect(auth.verification_uri_complete).toContain(auth.user_code);
  const pages: string[] = [];
  const [tokens] = await Promise.all([
    client.pollDeviceAuthorizationGrant(config, auth),
    completeDeviceLogin({
      verificationUri: person.typeCode ? auth.verification_uri : (auth.verification_uri_complete ?? ''),
      ...(person.typeCode ? { userCode: auth.user_code } : {}),
      username: person.username,
      password: person.password,
      onPage: (kind) => pages.push(kind),
    }),
  ]);
  if (!tokens.id_token) throw new Error('no ID token');
  return { idToken: tokens.id_token, pages, interval: auth.interval };
}

/** One poll of the token endpoint for a device code: the OAuth error it answers. */
async function pollOnce(issuer: string, deviceCode: string, clientId: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: deviceCode,
      client_id: clientId,
    }),
  });
  expect(res.status).toBe(400);
  return ((await res.json()) as { error: string }).error;
}

describe('startIdp', () => {
  it('serves a discovery document for the device grant and a JWKS of public keys', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const d = (await res.json()) as Record<string, unknown>;
    expect(d.issuer).toBe(idp.issuer);
    expect(d.device_authorization_endpoint).toBe(`${idp.issuer}/device/auth`);
    expect(d.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:device_code');
    expect(d.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'groups']));
    expect(d.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'email_verified', 'groups']));
    expect(d.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS256', 'ES256']));
    const jwks = (await (await fetch(String(d.jwks_uri))).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((k) => [k.kty, k.alg, k.use])).toEqual(
      expect.arrayContaining([
        ['RSA', 'RS256', 'sig'],
        ['EC', 'ES256', 'sig'],
      ]),
    );
    // Public halves only.
    for (const k of jwks.keys)
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(secret);
  });

  it('answers an unknown client and an unknown grant with OAuth errors', async () => {
    const res = await fetch(`${idp.issuer}/device/auth`, {
      method: 'POST',
      body: new URLSearchParams({ client_id: 'nobody', scope: 'openid' }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });
});

describe('hostile requests', () => {
  it('answers a form larger than 16 KiB with 413 and closes the connection without reading the rest', async () => {
    const { port } = new URL(idp.issuer);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('error', reject);
      // Resolves only when the server closes: 1 MiB announced, 20 KiB sent.
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.write(
        'POST /interaction/abc/login HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
          'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1048576\r\n\r\n',
      );
      socket.write(Buffer.alloc(20 * 1024, 'a'));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toContain('form larger than 16384 bytes');
    // And it still serves.
    expect((await fetch(`${idp.issuer}/.well-known/openid-configuration`)).status).toBe(200);
  });

  it("keeps two providers in one process apart: their own keys, and one does not know the other's device codes", async () => {
    const other = await startIdp({ users: [ALICE], clients: [{ clientId: 'ockam-cli' }] });
    try {
      const kids = async (issuer: string) =>
        ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map(
          (k) => k.kid,
        );
      const mine = await kids(idp.issuer);
      for (const kid of await kids(other.issuer)) expect(mine).not.toContain(kid);
      const auth = await client.initiateDeviceAuthorization(await device('ockam-cli'), { scope: 'openid' });
      expect(await pollOnce(idp.issuer, auth.device_code, 'ockam-cli')).toBe('authorization_pending');
      expect(await pollOnce(other.issuer, auth.device_code, 'ockam-cli')).toBe('invalid_grant');
    } finally {
      await other.stop();
    }
  });
});

describe.skipIf(skip !== undefined)('a device login completed in headless Chromium', () => {
  it('signs alice in through verification_uri_complete: the ID token verifies and carries her claims and the nonce', async () => {
    const nonce = randomUUID();
    const { idToken, pages, interval } = await signIn(
      'ockam-cli',
      { scope: 'openid email groups', nonce },
      { ...ALICE, typeCode: false },
    );
    expect(interval).toBe(1);
    // The code came in the URI; the person confirmed the device, signed in and consented.
    expect(pages).toEqual(['confirm', 'login', 'consent', 'success']);
    const payload = await expectIdToken(idToken, 'ockam-cli', 'RS256', 3600, {
      sub: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['db-admins'],
      nonce,
    });
    // `name` is a profile claim, and profile was not asked for.
    expect(payload).not.toHaveProperty('name');
  });

  it('signs bob in by typing the user code; a short-lived client gets a short ES256 token and no nonce it did not send', async () => {
    const { idToken, pages } = await signIn(
      'short-lived',
      { scope: 'openid email groups' },
      { ...BOB, typeCode: true },
    );
    expect(pages).toEqual(['code', 'confirm', 'login', 'consent', 'success']);
    const payload = await expectIdToken(idToken, 'short-lived', 'ES256', 5, {
      sub: 'bob',
      email: 'bob@example.com',
      groups: [],
    });
    expect(payload).not.toHaveProperty('nonce');
    // A token for one client is not one for another.
    await expect(verify(idToken, 'ockam-cli')).rejects.toThrow(/aud/);
  });

  it('refuses a wrong password on its login page, and the device gets no token', async () => {
    const config = await device('ockam-cli');
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid email groups' });
    await expect(
      completeDeviceLogin({
        verificationUri: auth.verification_uri_complete ?? auth.verification_uri,
        username: ALICE.username,
        password: 'not her password',
      }),
    ).rejects.toThrow(/device login refused \(login page\): .*Invalid username or password/);
    // The device is still waiting: its poll says so.
    expect(await pollOnce(idp.issuer, auth.device_code, 'ockam-cli')).toBe('authorization_pending');
  });

  it('refuses an unknown user the same way', async () => {
    const config = await device('ockam-cli');
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
    await expect(
      completeDeviceLogin({
        verificationUri: auth.verification_uri_complete ?? '',
        username: 'mallory',
        password: 'x',
      }),
    ).rejects.toThrow(/Invalid username or password/);
  });
});
