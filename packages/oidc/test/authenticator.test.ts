/**
 * The `oidc` service on a node with a real TCP listener and real secure channels, a real OpenID
 * provider (@ockam/idp: oidc-provider) and logins in headless Chromium. Hostile tokens go through
 * the same socket a person's command uses.
 */
import { type Client, Node } from '@ockam/core';
import { ApiError, callApi, MemoryMemberStore } from '@ockam/credentials';
import { createIdentity, type Identity } from '@ockam/identity';
import { chromiumSkipReason, completeDeviceLogin, type StartedIdp, startIdp } from '@ockam/idp';
import { createSecureChannel, createSecureChannelListener, trustIdentifier } from '@ockam/secure-channel';
import { TcpTransport } from '@ockam/transport-tcp';
import { createVault } from '@ockam/vault';
import { decodeJwt, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deviceLogin,
  enrollWithOidc,
  getOidcSettings,
  MAX_ID_TOKEN_LENGTH,
  OIDC_SERVICE,
  type OidcAuthenticator,
  type OidcAuthenticatorOptions,
  presentIdToken,
  requestOidcNonce,
  startOidcAuthenticator,
} from '../src/index.js';

const skip = chromiumSkipReason();
const CLIENT = 'ockam-test';

interface Person {
  identity: Identity;
  client: Client;
  via: string[];
}

interface Authority {
  node: Node;
  port: number;
  identity: Identity;
  members: MemoryMemberStore;
  oidc: OidcAuthenticator;
  logs: string[];
}

async function startAuthorityNode(
  options: Partial<OidcAuthenticatorOptions> & { issuer: string },
): Promise<Authority> {
  const vault = createVault('node');
  const identity = await createIdentity(vault);
  const node = new Node({ name: 'authority' });
  const tcp = new TcpTransport(node);
  node.registerTransport(tcp);
  const listener = await tcp.listen('127.0.0.1:0');
  const channels = await createSecureChannelListener(node, {
    identity,
    vault,
    consumerOf: [listener.flowControlId],
  });
  const members = new MemoryMemberStore();
  const logs: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const oidc = await startOidcAuthenticator(node, {
    config: {
      issuer: options.issuer,
      clientId: CLIENT,
      claims: [
        { claim: 'email', attribute: 'email' },
        { claim: 'groups', attribute: 'groups' },
      ],
    },
    members,
    authority: identity.identifier,
    flowControlId: channels.flowControlId,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } as never,
    ...options,
  });
  return { node, port: listener.address.port, identity, members, oidc, logs };
}

async function person(edge: Node, authority: Authority): Promise<Person> {
  const vault = createVault('node');
  const identity = await createIdentity(vault);
  const channel = await createSecureChannel(edge, [`1#127.0.0.1:${authority.port}`, 'api'], {
    identity,
    vault,
    trustPolicy: trustIdentifier(authority.identity.identifier),
    timeoutMs: 10_000,
  });
  const client = edge.client();
  edge.flowControls.addConsumer(client.address, channel.flowControlId);
  return { identity, client, via: [channel.encryptorAddress.value] };
}

/** The reason of an API refusal (the first word of its message). */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!ApiError.isStatus(e)) throw e;
    return `${e.status} ${e.body?.message ?? ''}`;
  }
  throw new Error('expected a refusal');
}

/** A device login in Chromium; the ID token for `nonce`. */
function login(issuer: string, username: string, nonce: string): Promise<string> {
  return deviceLogin({
    issuer,
    clientId: CLIENT,
    scopes: ['openid', 'email', 'groups'],
    nonce,
    onPrompt: (p) =>
      completeDeviceLogin({
        verificationUri: p.verificationUri,
        userCode: p.userCode,
        username,
        password: 'pw',
      }),
  });
}

describe.skipIf(skip !== undefined)('the oidc authenticator with a real provider', () => {
  let idp: StartedIdp;
  let authority: Authority;
  let edge: Node;

  beforeAll(async () => {
    idp = await startIdp({
      users: [
        { username: 'alice', password: 'pw', claims: { email: 'alice@example.com', groups: ['db-admins'] } },
        { username: 'nogroups', password: 'pw', claims: { email: 'n@example.com' } },
      ],
      clients: [{ clientId: CLIENT }],
    });
    authority = await startAuthorityNode({ issuer: idp.issuer });
    edge = new Node({ name: 'edge' });
    edge.registerTransport(new TcpTransport(edge));
  });

  afterAll(async () => {
    await edge?.stop();
    await authority?.node.stop();
    await idp?.stop();
  });

  it('enrols a person with the mapped claims until the token expires; the token cannot be replayed or used by another identity', async () => {
    const alice = await person(edge, authority);
    expect(await getOidcSettings(alice.client, alice.via)).toEqual({
      issuer: idp.issuer,
      clientId: CLIENT,
      scopes: ['openid', 'email', 'groups'],
    });
    let userCode = '';
    const enrolled = await enrollWithOidc(alice.client, alice.via, {
      onPrompt: (p) => {
        userCode = p.userCode;
        return completeDeviceLogin({
          verificationUri: p.verificationUri,
          userCode: p.userCode,
          username: 'alice',
          password: 'pw',
        });
      },
    });
    expect(userCode).not.toBe('');
    expect(Object.fromEntries(enrolled.attributes)).toEqual({
      email: 'alice@example.com',
      groups: 'db-admins',
      'groups.db-admins': 'true',
    });
    const member = authority.members.getMember(alice.identity.identifier);
    expect(member?.expiresAt).toBe(enrolled.expiresAt);
    expect(enrolled.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(3600);

    // A second login's token, replayed, and lifted by another identity.
    const { nonce } = await requestOidcNonce(alice.client, alice.via);
    const token = await login(idp.issuer, 'alice', nonce);
    const mallory = await person(edge, authority);
    expect(await refusal(presentIdToken(mallory.client, mallory.via, token))).toMatch(/^403 nonce-unknown/);
    await presentIdToken(alice.client, alice.via, token);
    expect(await refusal(presentIdToken(alice.client, alice.via, token))).toMatch(/^403 nonce-used/);
    expect(authority.members.getMember(mallory.identity.identifier)).toBeUndefined();

    // A login without the mapped claim.
    const other = await person(edge, authority);
    const n2 = await requestOidcNonce(other.client, other.via);
    const noGroups = await login(idp.issuer, 'nogroups', n2.nonce);
    expect(await refusal(presentIdToken(other.client, other.via, noGroups))).toMatch(
      /^403 claim-missing: .*groups/,
    );

    // Logs say why, never the token.
    const logs = authority.logs.join('\n');
    expect(logs).toMatch(/nonce-used/);
    expect(logs).not.toContain(token.split('.')[2]!);
  }, 90_000);

  it('refuses garbage, oversized, unsigned, HS256 and forged tokens through the socket', async () => {
    const eve = await person(edge, authority);
    const { nonce } = await requestOidcNonce(eve.client, eve.via);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: idp.issuer,
      aud: CLIENT,
      sub: 'alice',
      nonce,
      email: 'e@example.com',
      groups: ['db-admins'],
    };
    const jwks = await (await fetch(`${idp.issuer}/jwks`)).text();
    const kid = (JSON.parse(jwks) as { keys: Array<{ kid: string }> }).keys[0]!.kid;

    expect(await refusal(presentIdToken(eve.client, eve.via, 'not a token'))).toMatch(/^403 malformed/);
    expect(
      await refusal(presentIdToken(eve.client, eve.via, `eyJ${'A'.repeat(MAX_ID_TOKEN_LENGTH)}`)),
    ).toMatch(/^403 too-large/);
    const unsigned = new UnsecuredJWT(claims)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .encode();
    expect(await refusal(presentIdToken(eve.client, eve.via, unsigned))).toMatch(
      /^403 algorithm-not-allowed/,
    );
    // The classic confusion: the provider's public JWKS used as an HMAC secret.
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(new TextEncoder().encode(jwks));
    expect(await refusal(presentIdToken(eve.client, eve.via, hs256))).toMatch(/^403 algorithm-not-allowed/);
    // Signed by a key of our own, claiming to be the provider's.
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    expect(await refusal(presentIdToken(eve.client, eve.via, forged))).toMatch(/^403 bad-signature/);
    const unknownKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'not-the-providers' })
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    expect(await refusal(presentIdToken(eve.client, eve.via, unknownKid))).toMatch(/^403 bad-signature/);
    expect(decodeJwt(forged).nonce).toBe(nonce);
    // None of them made a member, nor used the nonce.
    expect(authority.members.listMembers()).toHaveLength(1);
    // A request body larger than any token is refused before it is read as one.
    const big = new Uint8Array(MAX_ID_TOKEN_LENGTH * 4);
    expect(
      await refusal(
        callApi(
          eve.client,
          [...eve.via, OIDC_SERVICE],
          'POST',
          '/enroll',
          Uint8Array.of(0xa1, 0x01, 0x5a, 0, 1, 0, 0, ...big),
        ),
      ),
    ).toMatch(/^403 too-large/);
  }, 60_000);
});

describe('the oidc authenticator without a reachable provider', () => {
  it('answers a reason when the issuer cannot be reached, and limits requests per caller', async () => {
    const authority = await startAuthorityNode({
      issuer: 'http://127.0.0.1:1',
      requestsPerMinute: 5,
      fetchTimeoutMs: 2000,
    });
    const edge = new Node({ name: 'edge' });
    edge.registerTransport(new TcpTransport(edge));
    try {
      const p = await person(edge, authority);
      const { privateKey } = await generateKeyPair('ES256');
      const token = await new SignJWT({ iss: 'http://127.0.0.1:1', aud: CLIENT, sub: 's', nonce: 'n' })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      expect(await refusal(presentIdToken(p.client, p.via, token))).toMatch(/^500 issuer-unreachable/);
      const wrongIssuer = await new SignJWT({ iss: 'https://elsewhere.example.com', aud: CLIENT })
        .setProtectedHeader({ alg: 'ES256' })
        .sign(privateKey);
      expect(await refusal(presentIdToken(p.client, p.via, wrongIssuer))).toMatch(/^403 wrong-issuer/);
      const wrongAudience = await new SignJWT({ iss: 'http://127.0.0.1:1', aud: 'another-client' })
        .setProtectedHeader({ alg: 'ES256' })
        .sign(privateKey);
      expect(await refusal(presentIdToken(p.client, p.via, wrongAudience))).toMatch(/^403 wrong-audience/);
      const sharedAudience = await new SignJWT({
        iss: 'http://127.0.0.1:1',
        aud: [CLIENT, 'another-client'],
        azp: 'another-client',
      })
        .setProtectedHeader({ alg: 'ES256' })
        .sign(privateKey);
      expect(await refusal(presentIdToken(p.client, p.via, sharedAudience))).toMatch(
        /^403 wrong-audience: .*another party/,
      );
      await getOidcSettings(p.client, p.via);
      expect(await refusal(getOidcSettings(p.client, p.via))).toMatch(/^403 rate-limited/);
      // Another caller has its own allowance.
      const q = await person(edge, authority);
      await requestOidcNonce(q.client, q.via);
    } finally {
      await edge.stop();
      await authority.node.stop();
    }
  }, 30_000);

  it('tells a person when the authority has no oidc service', async () => {
    const authority = await startAuthorityNode({ issuer: 'http://127.0.0.1:1' });
    await authority.oidc.stop();
    const edge = new Node({ name: 'edge' });
    edge.registerTransport(new TcpTransport(edge));
    try {
      const p = await person(edge, authority);
      await expect(enrollWithOidc(p.client, p.via, { timeoutMs: 1000, onPrompt: () => {} })).rejects.toThrow(
        /is the oidc add-on configured there/,
      );
    } finally {
      await edge.stop();
      await authority.node.stop();
    }
  });
});
