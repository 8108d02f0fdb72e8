import { abacIncomingAccessControl } from '@ockam/abac';
import { encodeBareBytes, Node } from '@ockam/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeApiErrorBody, decodeApiResponse, encodeApiRequest } from '../src/codec.js';
import {
  ApiError,
  addMember,
  callApi,
  createEnrollmentToken,
  deleteMember,
  listMemberIds,
  listMembers,
  MemoryAttributesStore,
  presentEnrollmentToken,
  presentedCredentialsHandler,
  requestCredential,
  showMember,
  verifyCredential,
} from '../src/index.js';
import {
  type Actor,
  type AuthorityHarness,
  actor,
  authorityHarness,
  type Connection,
  connect,
  listeningNode,
} from './harness.js';
import { until } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function expectStatus(p: Promise<unknown>, status: number, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(ApiError.isStatus(e, status), String(e)).toBe(true);
    if (message) expect((e as ApiError).body?.message).toMatch(message);
    return;
  }
  throw new Error(`expected status ${status}`);
}

describe('authority services over TCP and secure channels', () => {
  let h: AuthorityHarness;
  let edge: Node;
  let adminConn: Connection;

  beforeEach(async () => {
    h = await authorityHarness();
    cleanups.push(() => h.node.stop());
    edge = new Node({ name: 'edge' });
    cleanups.push(() => edge.stop());
    adminConn = await connect(edge, h.port, h.admin, h.authority.identity);
  });

  async function join(who: Actor): Promise<Connection> {
    return connect(edge, h.port, who, h.authority.identity);
  }

  it("enrolls a newcomer with a token, who then fetches a credential with the token's attributes", async () => {
    const code = await createEnrollmentToken(adminConn.client, adminConn.via, {
      attributes: new Map([['component', 'db']]),
    });
    const alice = await actor();
    const conn = await join(alice);
    await expectStatus(requestCredential(conn.client, conn.via), 403, /unauthorized member/);
    await presentEnrollmentToken(conn.client, conn.via, code);
    const credential = await requestCredential(conn.client, conn.via);
    const v = verifyCredential(credential, {
      trustedAuthorities: [h.authority.identity],
      expectedSubject: alice.identity.identifier,
      now: h.clock,
    });
    expect(Object.fromEntries(v.attributes)).toEqual({ component: 'db', trust_context_id: 'p1' });
    expect(v.expiresAt - v.createdAt).toBe(30 * 24 * 3600);
    expect(h.members.getMember(alice.identity.identifier)).toMatchObject({
      addedBy: h.admin.identity.identifier,
      preTrusted: false,
    });
    // An existing member cannot use a token again.
    const second = await createEnrollmentToken(adminConn.client, adminConn.via);
    await expectStatus(presentEnrollmentToken(conn.client, conn.via, second), 403, /Already a member/);
  });

  it('gives a member with an expiry credentials that end with it, and none once it has passed', async () => {
    const alice = await actor();
    h.members.addMember({
      identifier: alice.identity.identifier,
      attributes: new Map([['groups', 'db-admins']]),
      addedBy: h.authority.identity.identifier,
      addedAt: h.clock,
      preTrusted: false,
      expiresAt: h.clock + 120,
    });
    const conn = await join(alice);
    const v = verifyCredential(await requestCredential(conn.client, conn.via), {
      trustedAuthorities: [h.authority.identity],
      expectedSubject: alice.identity.identifier,
      now: h.clock,
    });
    expect(v.expiresAt).toBe(h.clock + 120);
    expect((await showMember(adminConn.client, adminConn.via, alice.identity.identifier)).expiresAt).toBe(
      h.clock + 120,
    );
    h.clock += 120;
    await expectStatus(requestCredential(conn.client, conn.via), 403, /unauthorized member/);
  });

  it('refuses a token used up or expired, and honours ttl_count', async () => {
    const once = await createEnrollmentToken(adminConn.client, adminConn.via);
    const [a, b, c, d] = await Promise.all([actor(), actor(), actor(), actor()]);
    const [ca, cb, cc, cd] = await Promise.all([join(a), join(b), join(c), join(d)]);
    await presentEnrollmentToken(ca.client, ca.via, once);
    await expectStatus(presentEnrollmentToken(cb.client, cb.via, once), 403, /Unknown enrollment token/);
    const twice = await createEnrollmentToken(adminConn.client, adminConn.via, { ttlCount: 2 });
    await presentEnrollmentToken(cb.client, cb.via, twice);
    await presentEnrollmentToken(cc.client, cc.via, twice);
    expect(h.tokens.size).toBe(0);
    const short = await createEnrollmentToken(adminConn.client, adminConn.via, { ttlSeconds: 60 });
    h.clock += 60;
    await expectStatus(presentEnrollmentToken(cd.client, cd.via, short), 403, /Unknown enrollment token/);
    const defaults = await createEnrollmentToken(adminConn.client, adminConn.via);
    h.clock += 599;
    await presentEnrollmentToken(cd.client, cd.via, defaults);
    expect(h.members.getMember(d.identity.identifier)).toBeDefined();
  });

  it('lets only enrollers add, list, show and delete members', async () => {
    const [alice, bob, carol] = await Promise.all([actor(), actor(), actor()]);
    await addMember(adminConn.client, adminConn.via, alice.identity.identifier, new Map([['role', 'dev']]));
    const conn = await join(alice);
    await expectStatus(addMember(conn.client, conn.via, bob.identity.identifier), 403, /Non-enroller/);
    await expectStatus(
      createEnrollmentToken(conn.client, conn.via),
      403,
      /Non-enroller is trying to issue an enrollment token/,
    );
    await expectStatus(listMembers(conn.client, conn.via), 403);
    await expectStatus(deleteMember(conn.client, conn.via, alice.identity.identifier), 403);
    expect((await listMemberIds(adminConn.client, adminConn.via)).sort()).toEqual(
      [alice.identity.identifier, h.admin.identity.identifier].sort(),
    );
    const all = await listMembers(adminConn.client, adminConn.via);
    expect(all.get(alice.identity.identifier)?.attributes.get('role')).toBe('dev');
    expect(all.get(h.admin.identity.identifier)?.attributes.get('ockam-role')).toBe('enroller');
    expect((await showMember(adminConn.client, adminConn.via, alice.identity.identifier)).attestedBy).toBe(
      h.admin.identity.identifier,
    );
    await expectStatus(showMember(adminConn.client, adminConn.via, carol.identity.identifier), 404);
    await deleteMember(adminConn.client, adminConn.via, alice.identity.identifier);
    await expectStatus(requestCredential(conn.client, conn.via), 403);
    // A pre-trusted identity cannot be deleted, not even by itself.
    await expectStatus(
      deleteMember(adminConn.client, adminConn.via, h.admin.identity.identifier),
      403,
      /pre trusted/,
    );
  });

  it('gives admins ockam-relay=* and lets enrollers (admins without an account authority) mint enroller tokens', async () => {
    const credential = await requestCredential(adminConn.client, adminConn.via);
    const v = verifyCredential(credential, { trustedAuthorities: [h.authority.identity], now: h.clock });
    expect(Object.fromEntries(v.attributes)).toEqual({
      'ockam-role': 'enroller',
      'ockam-relay': '*',
      trust_context_id: 'p1',
    });
    const code = await createEnrollmentToken(adminConn.client, adminConn.via, {
      attributes: new Map([['ockam-role', 'enroller']]),
    });
    expect(code).toHaveLength(32);
  });

  it('answers 400 without a secure channel, 404 on unknown paths and 400 on malformed bodies', async () => {
    const local = h.node.client();
    const plain = decodeApiResponse(
      (await local.request(['credential_issuer'], encodeApiRequest('POST', '/'))).payload,
    );
    expect(plain.header.status).toBe(400);
    expect(decodeApiErrorBody(plain.body!).message).toBe('secure channel required');
    await local.stop();
    await expectStatus(
      callApi(adminConn.client, [...adminConn.via, 'credential_issuer'], 'GET', '/nowhere'),
      404,
      /unknown path/,
    );
    await expectStatus(
      callApi(
        adminConn.client,
        [...adminConn.via, 'enrollment_token_acceptor'],
        'POST',
        '/',
        new Uint8Array([0xa1, 0x01, 0x41, 0x00]),
      ),
      400,
    );
    await expectStatus(
      callApi(adminConn.client, [...adminConn.via, 'direct_authenticator'], 'POST', '/'),
      400,
      /a body is required/,
    );
    const garbage = await adminConn.client.request(
      [...adminConn.via, 'direct_authenticator'],
      encodeBareBytes(new Uint8Array([1, 2, 3])),
    );
    expect(decodeApiResponse(garbage.payload).header.status).toBe(400);
  });
});

describe('authority with an account authority that enforces admin checks', () => {
  it('lets only project admins mint enroller tokens, add or delete enrollers, and gives them relay and TLS attributes', async () => {
    const accountAuthorityId = `I${'c'.repeat(64)}`;
    const accountAttributes = new MemoryAttributesStore();
    const h = await authorityHarness({
      accountAuthority: {
        identifier: accountAuthorityId,
        attributes: accountAttributes,
        enforceAdminChecks: true,
      },
    });
    cleanups.push(() => h.node.stop());
    const projectAdmin = await actor();
    accountAttributes.putAttributes(projectAdmin.identity.identifier, {
      attributes: new Map([['project', new TextEncoder().encode('p1')]]),
      attestedBy: accountAuthorityId,
      addedAt: h.clock,
    });
    const edge = new Node({ name: 'edge' });
    cleanups.push(() => edge.stop());
    const enroller = await connect(edge, h.port, h.admin, h.authority.identity);
    const admin = await connect(edge, h.port, projectAdmin, h.authority.identity);
    const enrollerRole = new Map([['ockam-role', 'enroller']]);
    await expectStatus(
      createEnrollmentToken(enroller.client, enroller.via, { attributes: enrollerRole }),
      403,
      /Not admin/,
    );
    expect(
      await createEnrollmentToken(enroller.client, enroller.via, { attributes: new Map([['x', 'y']]) }),
    ).toHaveLength(32);
    expect(await createEnrollmentToken(admin.client, admin.via, { attributes: enrollerRole })).toHaveLength(
      32,
    );
    const other = await actor();
    await expectStatus(
      addMember(enroller.client, enroller.via, other.identity.identifier, enrollerRole),
      403,
    );
    await addMember(admin.client, admin.via, other.identity.identifier, enrollerRole);
    await expectStatus(
      deleteMember(enroller.client, enroller.via, other.identity.identifier),
      403,
      /Not admin/,
    );
    await deleteMember(admin.client, admin.via, other.identity.identifier);
    const v = verifyCredential(await requestCredential(admin.client, admin.via), {
      trustedAuthorities: [h.authority.identity],
      now: h.clock,
    });
    expect(Object.fromEntries(v.attributes)).toEqual({
      trust_context_id: 'p1',
      'ockam-relay': '*',
      'ockam-tls-certificate': 'true',
    });
    const plain = verifyCredential(await requestCredential(enroller.client, enroller.via), {
      trustedAuthorities: [h.authority.identity],
      now: h.clock,
    });
    expect(plain.attributes.has('ockam-relay')).toBe(false);
  });
});

describe('credentials presented in a secure channel drive ABAC', () => {
  it('a member presenting its credential reaches a policy-protected service; others do not', async () => {
    const h = await authorityHarness();
    cleanups.push(() => h.node.stop());
    const edge = new Node({ name: 'edge' });
    cleanups.push(() => edge.stop());
    const adminConn = await connect(edge, h.port, h.admin, h.authority.identity);
    const code = await createEnrollmentToken(adminConn.client, adminConn.via, {
      attributes: new Map([['component.db', 'true']]),
    });

    // The server verifies presented credentials into its attribute store and guards `db` with a policy.
    const serverActor = await actor();
    const attributes = new MemoryAttributesStore();
    const server = await listeningNode('server', serverActor, {
      verifyCredentials: presentedCredentialsHandler({
        trustedAuthorities: [h.authority.identity],
        store: attributes,
      }),
    });
    cleanups.push(() => server.node.stop());
    const received: string[] = [];
    server.node.startWorker(
      'db',
      { handleMessage: (_c, m) => void received.push(m.message.localInfo.secureChannelIdentifier ?? '?') },
      {
        incoming: abacIncomingAccessControl({
          expression: 'component.db',
          attributes,
          authority: h.authority.identity.identifier,
        }),
      },
    );
    server.node.flowControls.addConsumer('db', server.channels.flowControlId);

    const alice = await actor();
    const toAuthority = await connect(edge, h.port, alice, h.authority.identity);
    await presentEnrollmentToken(toAuthority.client, toAuthority.via, code);
    const credential = await requestCredential(toAuthority.client, toAuthority.via);

    const withCredential = await connect(edge, server.port, alice, serverActor.identity, [credential]);
    // Presented credentials are verified after the handshake; wait until they are stored.
    await until(
      () =>
        attributes.getAttributes(alice.identity.identifier, h.authority.identity.identifier, h.clock) !==
        undefined,
    );
    const mallory = await actor();
    const withoutCredential = await connect(edge, server.port, mallory, serverActor.identity);
    await withoutCredential.client.send([...withoutCredential.via, 'db'], new Uint8Array([1]));
    await withCredential.client.send([...withCredential.via, 'db'], new Uint8Array([2]));
    const deadline = Date.now() + 5000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([alice.identity.identifier]);
    expect(
      attributes
        .getAttributes(alice.identity.identifier, h.authority.identity.identifier, h.clock)
        ?.attributes.has('component.db'),
    ).toBe(true);
  });
});

describe('authority services that are turned off', () => {
  it('without direct authentication members cannot be added directly; tickets and credentials still work', async () => {
    const h = await authorityHarness({ directAuthentication: false });
    const edge = new Node({ name: 'edge' });
    cleanups.push(
      () => h.node.stop(),
      () => edge.stop(),
    );
    const admin = await connect(edge, h.port, h.admin, h.authority.identity);
    const alice = await actor();
    // Nothing answers at direct_authenticator (the probe's client is done after its timeout).
    const probe = await connect(edge, h.port, h.admin, h.authority.identity);
    await expect(
      addMember(probe.client, probe.via, alice.identity.identifier, new Map(), { timeoutMs: 1_000 }),
    ).rejects.toThrow(/direct_authenticator/);
    const otc = await createEnrollmentToken(admin.client, admin.via);
    const conn = await connect(edge, h.port, alice, h.authority.identity);
    await presentEnrollmentToken(conn.client, conn.via, otc);
    expect(
      verifyCredential(await requestCredential(conn.client, conn.via), {
        trustedAuthorities: [h.authority.identity],
        now: h.clock,
      }).subject,
    ).toBe(alice.identity.identifier);
  });

  it('without token enrollment no ticket is issued; members are added directly', async () => {
    const h = await authorityHarness({ tokenEnrollment: false });
    const edge = new Node({ name: 'edge' });
    cleanups.push(
      () => h.node.stop(),
      () => edge.stop(),
    );
    const admin = await connect(edge, h.port, h.admin, h.authority.identity);
    // Nothing answers at enrollment_token_issuer (the probe's client is done after its timeout).
    const probe = await connect(edge, h.port, h.admin, h.authority.identity);
    await expect(createEnrollmentToken(probe.client, probe.via, {}, { timeoutMs: 1_000 })).rejects.toThrow(
      /enrollment_token_issuer/,
    );
    const alice = await actor();
    await addMember(admin.client, admin.via, alice.identity.identifier, new Map([['role', 'dev']]));
    const conn = await connect(edge, h.port, alice, h.authority.identity);
    expect(
      verifyCredential(await requestCredential(conn.client, conn.via), {
        trustedAuthorities: [h.authority.identity],
        now: h.clock,
      }).attributes.get('role'),
    ).toBe('dev');
  });
});
