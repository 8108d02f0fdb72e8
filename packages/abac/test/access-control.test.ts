import {
  Address,
  encodeBareString,
  IDENTITY_SECURE_CHANNEL_IDENTIFIER,
  Node,
  type RoutedMessage,
} from '@ockam/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ALL_RESOURCE_TYPES,
  type AttributesEntry,
  type AttributesLookup,
  abacIncomingAccessControl,
  abacOutgoingAccessControl,
  DEFAULT_RESOURCE_TYPE_POLICY,
  MemoryPolicyStore,
  Policies,
  parseResourceType,
  printExpr,
  RESOURCE_TYPES,
  resourceTypeFromCode,
  subjectEnvironment,
} from '../src/index.js';

const AUTHORITY = `I${'a'.repeat(64)}`;
const OTHER_AUTHORITY = `I${'b'.repeat(64)}`;
const ALICE = `I${'1'.repeat(64)}`;
const BOB = `I${'2'.repeat(64)}`;
const CAROL = `I${'3'.repeat(64)}`;

const enc = new TextEncoder();

/** A lookup over fixed entries: subject → entry. */
class FixedAttributes implements AttributesLookup {
  readonly entries = new Map<string, AttributesEntry>();
  set(
    subject: string,
    attestedBy: string,
    attrs: Record<string, string | Uint8Array>,
    expiresAt?: number,
  ): void {
    const attributes = new Map(
      Object.entries(attrs).map(([k, v]) => [k, typeof v === 'string' ? enc.encode(v) : v]),
    );
    this.entries.set(`${subject}/${attestedBy}`, {
      attributes,
      attestedBy,
      addedAt: 0,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
  }
  getAttributes(subject: string, attestedBy: string, now: number): AttributesEntry | undefined {
    const e = this.entries.get(`${subject}/${attestedBy}`);
    return e && (e.expiresAt === undefined || e.expiresAt > now) ? e : undefined;
  }
}

describe('Policies', () => {
  it('looks a policy up by resource name, then by resource type, else finds none', async () => {
    const policies = new Policies(new MemoryPolicyStore());
    const outlet = { name: 'db', type: 'tcp-outlet' } as const;
    expect(await policies.expressionFor(outlet)).toBeUndefined();
    await policies.storeDefaultResourceTypePolicies();
    expect(await policies.expressionFor(outlet)).toMatchObject({
      text: DEFAULT_RESOURCE_TYPE_POLICY,
      source: 'resource-type',
    });
    expect(await policies.setPolicy({ resourceName: 'db' }, 'component.db')).toBe(
      '(= subject.component.db "true")',
    );
    expect(await policies.expressionFor(outlet)).toMatchObject({
      text: '(= subject.component.db "true")',
      source: 'resource',
    });
    expect(await policies.deletePolicy({ resourceName: 'db' })).toBe(true);
    expect(await policies.deletePolicy({ resourceName: 'db' })).toBe(false);
    expect((await policies.expressionFor(outlet))?.source).toBe('resource-type');
    await policies.setPolicy({ resourceType: 'tcp-outlet' }, '(= subject.role "ops")');
    expect((await policies.expressionFor(outlet))?.text).toBe('(= subject.role "ops")');
    const listed = await policies.listPolicies();
    expect(listed.resources).toEqual([]);
    expect(listed.resourceTypes).toHaveLength(ALL_RESOURCE_TYPES.length);
  });

  it("stores the default type policies without replacing a user's unless asked", async () => {
    const policies = new Policies(new MemoryPolicyStore());
    await policies.setPolicy({ resourceType: 'relay' }, 'admin');
    await policies.storeDefaultResourceTypePolicies({ overwrite: false });
    expect(await policies.getPolicy({ resourceType: 'relay' })).toBe('(= subject.admin "true")');
    expect(await policies.getPolicy({ resourceType: 'echoer' })).toBe(DEFAULT_RESOURCE_TYPE_POLICY);
    await policies.storeDefaultResourceTypePolicies();
    expect(await policies.getPolicy({ resourceType: 'relay' })).toBe(DEFAULT_RESOURCE_TYPE_POLICY);
  });

  it('refuses a policy that does not parse and stores nothing', async () => {
    const store = new MemoryPolicyStore();
    const policies = new Policies(store);
    await expect(policies.setPolicy({ resourceName: 'x' }, '(= a')).rejects.toMatchObject({
      reason: 'syntax',
    });
    await expect(policies.setPolicy({ resourceName: 'x' }, '(foo 1)')).rejects.toMatchObject({
      reason: 'syntax',
    });
    expect(store.listResourcePolicies()).toEqual([]);
  });

  it("names resource types with Ockam's codes", () => {
    expect(RESOURCE_TYPES).toEqual({
      'tcp-inlet': 1,
      'tcp-outlet': 2,
      echoer: 3,
      'kafka-consumer': 4,
      'kafka-producer': 5,
      relay: 6,
      lessor: 7,
    });
    expect(resourceTypeFromCode(6)).toBe('relay');
    expect(resourceTypeFromCode(8)).toBeUndefined();
    expect(() => parseResourceType('inlet')).toThrow(/tcp-inlet, tcp-outlet/);
  });
});

describe('subjectEnvironment', () => {
  it('binds the identifier, the credential flag and attributes from the authority only', async () => {
    const attributes = new FixedAttributes();
    attributes.set(ALICE, AUTHORITY, {
      component: 'db',
      identifier: 'forged',
      has_credential: 'nope',
      bin: new Uint8Array([0xff]),
    });
    attributes.set(BOB, OTHER_AUTHORITY, { component: 'db' });
    const show = (m: Map<string, unknown>) =>
      Object.fromEntries([...m].map(([k, v]) => [k, printExpr(v as Parameters<typeof printExpr>[0])]));
    expect(show(await subjectEnvironment(ALICE, { attributes, authority: AUTHORITY }))).toEqual({
      'subject.identifier': `"${ALICE}"`,
      'subject.has_credential': 'true',
      'subject.component': '"db"',
    });
    expect(show(await subjectEnvironment(BOB, { attributes, authority: AUTHORITY }))).toEqual({
      'subject.identifier': `"${BOB}"`,
      'subject.has_credential': 'false',
    });
    expect(show(await subjectEnvironment(ALICE, { attributes }))).toEqual({
      'subject.identifier': `"${ALICE}"`,
    });
  });

  it('treats expired attributes as absent', async () => {
    const attributes = new FixedAttributes();
    attributes.set(ALICE, AUTHORITY, { component: 'db' }, 1000);
    const at = async (now: number) =>
      (await subjectEnvironment(ALICE, { attributes, authority: AUTHORITY, now: () => now })).get(
        'subject.has_credential',
      );
    expect(await at(999)).toMatchObject({ value: true });
    expect(await at(1000)).toMatchObject({ value: false });
  });
});

describe('access controls on the router', () => {
  let node: Node;
  let received: string[];
  let attributes: FixedAttributes;
  let policies: Policies;

  beforeEach(() => {
    node = new Node({ name: 'abac-test' });
    received = [];
    attributes = new FixedAttributes();
    // As `ockam project ticket --attribute component.db` gives them.
    attributes.set(ALICE, AUTHORITY, { 'component.db': 'true' });
    attributes.set(BOB, AUTHORITY, { 'component.web': 'true' });
    policies = new Policies(new MemoryPolicyStore());
  });
  afterEach(() => node.stop());

  const sink = {
    handleMessage: (_: unknown, m: RoutedMessage) =>
      void received.push(new TextDecoder().decode(m.message.payload.subarray(1))),
  };

  async function sendAs(identifier: string | undefined, text: string): Promise<void> {
    const client = node.client();
    await client.send(
      ['db'],
      encodeBareString(text),
      identifier === undefined ? {} : { localInfo: { secureChannelIdentifier: identifier } },
    );
    await client.stop();
  }

  it('incoming: lets through the peers the policy allows, re-reading the policy at every message', async () => {
    node.startWorker('db', sink, {
      incoming: abacIncomingAccessControl({
        policies,
        resource: { name: 'db', type: 'tcp-outlet' },
        attributes,
        authority: AUTHORITY,
      }),
    });
    await sendAs(ALICE, 'no policy yet');
    await policies.storeDefaultResourceTypePolicies();
    await sendAs(ALICE, 'alice with a credential');
    await sendAs(CAROL, 'carol without one');
    await sendAs(undefined, 'not through a channel');
    await policies.setPolicy({ resourceName: 'db' }, 'component.web');
    await sendAs(ALICE, 'alice is not web');
    await sendAs(BOB, 'bob is web');
    await policies.setPolicy(
      { resourceName: 'db' },
      '(and (= resource.id "db") (= action.id "handle_message") (= subject.identifier "' + ALICE + '"))',
    );
    await sendAs(ALICE, 'alice by identifier');
    await sendAs(BOB, 'bob by identifier');
    await policies.store.setResourcePolicy('db', 'handle_message', '(= broken');
    await sendAs(ALICE, 'a stored policy that does not parse');
    await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['alice with a credential', 'bob is web', 'alice by identifier']);
  });

  it('incoming: a fixed expression, and no authority means no credential flag', async () => {
    node.startWorker('db', sink, {
      incoming: abacIncomingAccessControl({ expression: 'component.db', attributes, authority: AUTHORITY }),
    });
    await sendAs(ALICE, 'alice');
    await sendAs(BOB, 'bob');
    await node.stopWorker('db');
    node.startWorker('db', sink, {
      incoming: abacIncomingAccessControl({ expression: '(= subject.has_credential true)', attributes }),
    });
    await sendAs(ALICE, 'alice without an authority configured');
    await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['alice']);
  });

  it('outgoing: the subject is the peer behind the first terminal address of the onward route', async () => {
    // What @ockam/secure-channel registers for a channel's encryptor.
    const encryptorTo = (name: string, peer: string) =>
      node.startWorker(
        name,
        {
          handleMessage: (_c, m) =>
            void received.push(`${name}: ${new TextDecoder().decode(m.message.payload)}`),
        },
        {
          metadata: { terminal: true, attributes: { [IDENTITY_SECURE_CHANNEL_IDENTIFIER]: peer } },
        },
      );
    encryptorTo('to-alice', ALICE);
    encryptorTo('to-bob', BOB);
    node.startWorker('plain', {
      handleMessage: (_c, m) => void received.push(`plain: ${new TextDecoder().decode(m.message.payload)}`),
    });
    node.startWorker('hop', {
      handleMessage: (ctx, m) => ctx.forward(m.message.stepForward(new Address(0, 'hop'))),
    });
    await policies.setPolicy({ resourceName: 'outlet' }, 'component.db');
    const outlet = node.startWorker(
      'outlet',
      { handleMessage() {} },
      {
        outgoing: abacOutgoingAccessControl({
          node,
          policies,
          resource: { name: 'outlet', type: 'tcp-outlet' },
          attributes,
          authority: AUTHORITY,
        }),
      },
    );
    const say = (route: string[], text: string) => outlet.send(route, new TextEncoder().encode(text));
    await say(['to-alice'], 'allowed');
    await say(['to-bob'], 'denied: bob is not db');
    await say(['plain'], 'denied: no terminal address');
    await say(['hop', 'to-alice'], 'allowed through a hop');
    await say(['hop', 'to-bob', 'to-alice'], 'denied: the first terminal is bob');
    await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['to-alice: allowed', 'to-alice: allowed through a hop']);
  });
});
