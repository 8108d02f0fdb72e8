/**
 * The provider and the browser helper end to end: oidc-provider on a free port, openid-client as
 * the device (what the CLI uses), headless Chromium as the person, jose verifying the ID token
 * against the published JWKS.
 */
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
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

describe.skipIf(skip !== undefined)('a device login completed in headless Chromium', () => {
  it('signs alice in through verification_uri_complete: the ID token verifies and carries her claims and the nonce', async () => {
    const config = await device('ockam-cli');
    const nonce = randomUUID();
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid email groups', nonce });
    expect(auth.verification_uri_complete).toContain(auth.user_code);
    expect(auth.interval).toBe(1);
    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(config, auth),
      completeDeviceLogin({
        verificationUri: auth.verification_uri_complete ?? auth.verification_uri,
        username: ALICE.username,
        password: ALICE.password,
      }),
    ]);
    const idToken = tokens.id_token;
    if (!idToken) throw new Error('no ID token');
    expect(decodeProtectedHeader(idToken).alg).toBe('RS256');
    const { payload } = await verify(idToken, 'ockam-cli');
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: 'ockam-cli',
      sub: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      groups: ['db-admins'],
      nonce,
    });
    // `name` is a profile claim, and profile was not asked for.
    expect(payload).not.toHaveProperty('name');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });

  it('signs bob in by typing the user code; a short-lived client gets a short ES256 token and no nonce it did not send', async () => {
    const config = await device('short-lived');
    const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid email groups' });
    const [tokens] = await Promise.all([
      client.pollDeviceAuthorizationGrant(config, auth),
      completeDeviceLogin({
        verificationUri: auth.verification_uri,
        userCode: auth.user_code,
        username: BOB.username,
        password: BOB.password,
      }),
    ]);
    const idToken = tokens.id_token ?? '';
    expect(decodeProtectedHeader(idToken).alg).toBe('ES256');
    const { payload } = await verify(idToken, 'short-lived');
    expect(payload).toMatchObject({
      iss: idp.issuer,
      aud: 'short-lived',
      sub: 'bob',
      email: 'bob@example.com',
      groups: [],
    });
    expect(payload).not.toHaveProperty('nonce');
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(5);
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
    const res = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: auth.device_code,
        client_id: 'ockam-cli',
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('authorization_pending');
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
