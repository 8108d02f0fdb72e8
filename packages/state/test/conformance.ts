/**
 * The conformance suite of `NodeStateStore`: every store (in memory, SQLite, PostgreSQL) runs it,
 * so they agree on what is written, what clashes, what expires, in which order things are listed
 * and which values are refused. A factory gives two handles on one fresh, empty store (two
 * connections, two `State`s on one file, or the same object in memory): what one writes, the other
 * reads, and both may write at once.
 */
import type { Member } from '@ockam/credentials';
import { describe, expect, it } from 'vitest';
import type { IdentityRecord } from '../src/identities.js';
import { type NodeStateStore, type ProjectInput, STATE_LIMITS } from '../src/store.js';

export interface OpenedStores {
  /** Two handles on the same data. */
  readonly a: NodeStateStore;
  readonly b: NodeStateStore;
  close(): Promise<void>;
}

const AUTHORITY = `I${'aa'.repeat(32)}`;
const ALICE = `I${'01'.repeat(32)}`;
const BOB = `I${'02'.repeat(32)}`;
const CAROL = `I${'03'.repeat(32)}`;
/** Names the SQL of a careless store would choke on, and text from outside ASCII. */
const AWKWARD = [`o'brien`, `"quoted"`, `semi;colon --comment`, 'back\\slash', 'Zoë 🚀 مرحبا', '%_*'];
/** Every byte value once. */
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

async function refusal(fn: () => unknown): Promise<{ kind?: string; message: string }> {
  try {
    await fn();
  } catch (e) {
    return e as { kind?: string; message: string };
  }
  throw new Error('expected the store to refuse');
}

/** Resolves once the clock has moved past `t` (so the next stamp differs); never sleeps blindly. */
async function clockPast(t: number): Promise<void> {
  while (Date.now() <= t) await new Promise((r) => setImmediate(r));
}

function identity(name: string, createdAt: number, changeHistory = ALL_BYTES): IdentityRecord {
  return { name, identifier: ALICE, vaultName: 'default', changeHistory, isDefault: false, createdAt };
}

function project(name: string, extra: Partial<ProjectInput> = {}): ProjectInput {
  return {
    name,
    id: `id-${name}`,
    identifier: ALICE,
    changeHistory: ALL_BYTES,
    route: '/ip4/127.0.0.1/tcp/4000',
    nodeName: null,
    ...extra,
  };
}

function member(identifier: string, addedAt: number, extra: Partial<Member> = {}): Member {
  return {
    identifier,
    attributes: new Map([['role', 'db']]),
    addedBy: AUTHORITY,
    addedAt,
    preTrusted: false,
    ...extra,
  };
}

function token(code: number, extra: Record<string, unknown> = {}) {
  return {
    oneTimeCode: new Uint8Array(32).fill(code),
    reference: `ref-${code}`,
    issuedBy: AUTHORITY,
    createdAt: 100,
    expiresAt: 1_000,
    ttlCount: 1,
    attributes: new Map([['component', 'web']]),
    ...extra,
  };
}

/** Runs the suite against one kind of store. */
export function describeNodeStateStore(kind: string, open: () => Promise<OpenedStores>): void {
  const withStores = (fn: (s: OpenedStores) => Promise<void>) => async () => {
    const s = await open();
    try {
      await fn(s);
    } finally {
      await s.close();
    }
  };

  describe(`NodeStateStore conformance: ${kind}`, () => {
    it(
      'identities: create, read, list by createdAt then name, rotate only from the current history, delete',
      withStores(async ({ a, b }) => {
        await a.identities.create(identity('b', 5));
        await a.identities.create(identity('a', 5));
        await b.identities.create(identity('c', 1, Uint8Array.of(1)));
        expect((await b.identities.list()).map((i) => i.name)).toEqual(['c', 'a', 'b']);
        expect(await b.identities.get('a')).toEqual(identity('a', 5));
        expect(await a.identities.get('nobody')).toBeUndefined();
        // A compare-and-set: a rotation from a stale history changes nothing.
        expect(await b.identities.replaceChangeHistory('c', Uint8Array.of(9), Uint8Array.of(2))).toBe(false);
        expect(await b.identities.replaceChangeHistory('c', Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(
          true,
        );
        expect((await a.identities.get('c'))?.changeHistory).toEqual(Uint8Array.of(1, 2));
        expect(await a.identities.replaceChangeHistory('nobody', Uint8Array.of(1), Uint8Array.of(2))).toBe(
          false,
        );
        expect(await a.identities.delete('a')).toBe(true);
        expect(await b.identities.delete('a')).toBe(false);
        expect((await b.identities.list()).map((i) => i.name)).toEqual(['c', 'b']);
      }),
    );

    it(
      'a create of an existing key is a StateError already-exists, from either handle, and changes nothing',
      withStores(async ({ a, b }) => {
        await a.identities.create(identity('alice', 1));
        for (const s of [a, b]) {
          const e = await refusal(() => s.identities.create(identity('alice', 2, Uint8Array.of(7))));
          expect(e.kind).toBe('already-exists');
        }
        expect(await b.identities.get('alice')).toEqual(identity('alice', 1));
        expect(await a.identities.list()).toHaveLength(1);
      }),
    );

    it(
      'projects: an upsert writes every field given (a left-out authority becomes null) and keeps createdAt',
      withStores(async ({ a, b }) => {
        await a.projects.put(
          project('p', {
            authorityChangeHistory: Uint8Array.of(1, 2, 3),
            authorityRoute: '/ip4/10.0.0.1/tcp/1',
          }),
        );
        const first = await b.projects.get('p');
        expect(first).toMatchObject({ authorityChangeHistory: Uint8Array.of(1, 2, 3), nodeName: null });
        await clockPast(first!.createdAt);
        await b.projects.put(project('p', { route: '/ip4/127.0.0.1/tcp/5000', nodeName: 'n1' }));
        const second = await a.projects.get('p');
        expect(second).toEqual({
          ...project('p', { route: '/ip4/127.0.0.1/tcp/5000', nodeName: 'n1' }),
          authorityChangeHistory: null,
          authorityRoute: null,
          createdAt: first!.createdAt,
        });
        expect(await a.projects.delete('p')).toBe(true);
        expect(await b.projects.get('p')).toBeUndefined();
        expect(await b.projects.delete('p')).toBe(false);
      }),
    );

    it(
      'projects are listed by createdAt, then name; an upsert does not move one',
      withStores(async ({ a, b }) => {
        await a.projects.put(project('zeta'));
        await clockPast((await a.projects.get('zeta'))!.createdAt);
        await a.projects.put(project('alpha'));
        await b.projects.put(project('zeta', { id: 'other' }));
        expect((await b.projects.list()).map((p) => [p.name, p.id])).toEqual([
          ['zeta', 'other'],
          ['alpha', 'id-alpha'],
        ]);
      }),
    );

    it(
      'resources: listed in the order of their first put; an upsert replaces the config in place',
      withStores(async ({ a, b }) => {
        await a.resources.put('n1', 'tcp-outlet', 'z', { to: '127.0.0.1:1' });
        await a.resources.put('n1', 'tcp-inlet', 'a', { from: '127.0.0.1:2' });
        await b.resources.put('n1', 'relay', 'm', { at: '/project/default' });
        await b.resources.put('n2', 'relay', 'other', {});
        await b.resources.put('n1', 'tcp-outlet', 'z', { to: '127.0.0.1:3' });
        expect(await a.resources.list('n1')).toEqual([
          { kind: 'tcp-outlet', name: 'z', config: { to: '127.0.0.1:3' } },
          { kind: 'tcp-inlet', name: 'a', config: { from: '127.0.0.1:2' } },
          { kind: 'relay', name: 'm', config: { at: '/project/default' } },
        ]);
        expect((await b.resources.list('n1', 'relay')).map((r) => r.name)).toEqual(['m']);
        expect(await a.resources.delete('n1', 'relay', 'm')).toBe(true);
        expect(await a.resources.delete('n1', 'relay', 'm')).toBe(false);
        expect(await b.resources.deleteAll('n1')).toBe(2);
        expect(await a.resources.list('n1')).toEqual([]);
        expect((await a.resources.list('n2')).map((r) => r.name)).toEqual(['other']);
      }),
    );

    it(
      'members: an upsert replaces every field; listed by addedAt then identifier; pre-trusted ones stay',
      withStores(async ({ a, b }) => {
        const ma = a.members(AUTHORITY);
        const mb = b.members(AUTHORITY);
        await ma.addMember(member(BOB, 5));
        await ma.addMember(member(ALICE, 5));
        await mb.addMember(member(`I${'03'.repeat(32)}`, 1));
        await mb.addMember(member(BOB, 7, { attributes: new Map([['x', 'y']]), addedBy: ALICE }));
        expect(await ma.getMember(BOB)).toEqual(
          member(BOB, 7, { attributes: new Map([['x', 'y']]), addedBy: ALICE }),
        );
        expect((await ma.listMembers()).map((m) => m.identifier)).toEqual([
          `I${'03'.repeat(32)}`,
          ALICE,
          BOB,
        ]);
        // Another authority's members are not these.
        expect(await b.members(`I${'bb'.repeat(32)}`).listMembers()).toEqual([]);
        // bootstrapPreTrusted replaces the pre-trusted set, and takes over a member with its fields.
        await ma.bootstrapPreTrusted([member(ALICE, 9, { addedBy: BOB })]);
        await mb.bootstrapPreTrusted([member(BOB, 10, { attributes: new Map() })]);
        expect(await ma.getMember(ALICE)).toBeUndefined();
        expect(await ma.getMember(BOB)).toEqual(member(BOB, 10, { attributes: new Map(), preTrusted: true }));
        expect(await mb.deleteMember(BOB)).toBe(false);
        expect(await mb.deleteMember(`I${'03'.repeat(32)}`)).toBe(true);
        expect(await ma.deleteMember(`I${'03'.repeat(32)}`)).toBe(false);
        expect((await ma.listMembers()).map((m) => m.identifier)).toEqual([BOB]);
      }),
    );

    it(
      "members: a membership's expiry (an OIDC login's) is kept, and an upsert without one clears it",
      withStores(async ({ a, b }) => {
        await a.members(AUTHORITY).addMember(member(ALICE, 5, { expiresAt: 3605 }));
        expect(await b.members(AUTHORITY).getMember(ALICE)).toEqual(member(ALICE, 5, { expiresAt: 3605 }));
        await b.members(AUTHORITY).addMember(member(ALICE, 6));
        expect(await a.members(AUTHORITY).getMember(ALICE)).toEqual(member(ALICE, 6));
      }),
    );

    it(
      'members: an add deletes the memberships expired by its addedAt (never pre-trusted ones), at most once a minute',
      withStores(async ({ a, b }) => {
        const ma = a.members(AUTHORITY);
        const names = async () => (await b.members(AUTHORITY).listMembers()).map((m) => m.identifier).sort();
        await ma.addMember(member(ALICE, 1000, { expiresAt: 1010 }));
        await ma.bootstrapPreTrusted([member(CAROL, 1000, { expiresAt: 1001 })]);
        // 1010 is past at 1020, but the last prune (at the first add, 1000) was under a minute ago.
        await ma.addMember(member(BOB, 1020));
        expect(await names()).toEqual([ALICE, BOB, CAROL].sort());
        await ma.addMember(member(BOB, 1100));
        expect(await names()).toEqual([BOB, CAROL].sort());
      }),
    );

    it(
      'tokens: a use consumes one of ttlCount, the last deletes it, and a token at its expiry is gone',
      withStores(async ({ a, b }) => {
        const ta = a.tokens(AUTHORITY);
        const tb = b.tokens(AUTHORITY);
        await ta.storeToken(token(1, { ttlCount: 2 }));
        await ta.storeToken(token(2, { expiresAt: 500 }));
        await ta.storeToken(token(3));
        // Another authority does not know these codes.
        expect(await b.tokens(`I${'bb'.repeat(32)}`).useToken(new Uint8Array(32).fill(1), 0)).toBeUndefined();
        expect(await tb.useToken(new Uint8Array(32).fill(1), 0)).toMatchObject({
          reference: 'ref-1',
          ttlCount: 2,
        });
        expect(await ta.useToken(new Uint8Array(32).fill(1), 0)).toMatchObject({ ttlCount: 1 });
        expect(await tb.useToken(new Uint8Array(32).fill(1), 0)).toBeUndefined();
        // expiresAt <= now is expired: at 499 the token works, at 500 it is gone (and stays gone).
        await ta.storeToken(token(4, { expiresAt: 500, ttlCount: 5 }));
        expect(await tb.useToken(new Uint8Array(32).fill(4), 499)).toMatchObject({ reference: 'ref-4' });
        expect(await tb.useToken(new Uint8Array(32).fill(2), 500)).toBeUndefined();
        expect(await tb.useToken(new Uint8Array(32).fill(4), 0)).toBeUndefined();
        // A use returns the token as stored: its attributes and times.
        expect(await ta.useToken(new Uint8Array(32).fill(3), 999)).toEqual(token(3));
      }),
    );

    it(
      'tokens: storing a code again replaces the whole token, not only its count and expiry',
      withStores(async ({ a, b }) => {
        await a.tokens(AUTHORITY).storeToken(token(1, { ttlCount: 1 }));
        const again = token(1, {
          reference: 'second',
          issuedBy: ALICE,
          createdAt: 200,
          expiresAt: 2_000,
          ttlCount: 3,
          attributes: new Map([['role', 'admin']]),
        });
        await b.tokens(AUTHORITY).storeToken(again);
        expect(await a.tokens(AUTHORITY).useToken(new Uint8Array(32).fill(1), 1_500)).toEqual(again);
      }),
    );

    it(
      'tokens: concurrent uses from two handles get exactly ttlCount of them',
      withStores(async ({ a, b }) => {
        await a.tokens(AUTHORITY).storeToken(token(7, { ttlCount: 3 }));
        const code = new Uint8Array(32).fill(7);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).tokens(AUTHORITY).useToken(code, 10)),
        );
        expect(
          results
            .filter((r) => r !== undefined)
            .map((r) => r!.ttlCount)
            .sort(),
        ).toEqual([1, 2, 3]);
      }),
    );

    it(
      'attributes: an upsert replaces the entry (a left-out expiry means none); expired ones are hidden, then deleted',
      withStores(async ({ a, b }) => {
        const sa = a.attributes('n1');
        const sb = b.attributes('n1');
        const bytes = (s: string) => new TextEncoder().encode(s);
        await sa.putAttributes(ALICE, {
          attestedBy: BOB,
          attributes: new Map([['k', bytes('v')]]),
          addedAt: 1,
          expiresAt: 50,
        });
        await sa.putAttributes(ALICE, {
          attestedBy: AUTHORITY,
          attributes: new Map([['bin', ALL_BYTES]]),
          addedAt: 2,
          expiresAt: 100,
        });
        await sa.putAttributes(BOB, {
          attestedBy: AUTHORITY,
          attributes: new Map(),
          addedAt: 3,
          expiresAt: 10,
        });
        expect((await sb.listAttributes(ALICE, 0)).map((e) => e.attestedBy)).toEqual([BOB, AUTHORITY]);
        expect((await sb.getAttributes(ALICE, AUTHORITY, 99))?.attributes.get('bin')).toEqual(ALL_BYTES);
        expect(await sb.getAttributes(ALICE, AUTHORITY, 100)).toBeUndefined();
        expect((await sb.listAttributes(ALICE, 50)).map((e) => e.attestedBy)).toEqual([AUTHORITY]);
        expect(await b.attributes('n2').getAttributes(ALICE, AUTHORITY, 0)).toBeUndefined();
        expect(await sb.deleteExpired(50)).toBe(2);
        expect(await sa.deleteExpired(50)).toBe(0);
        await sb.putAttributes(ALICE, {
          attestedBy: AUTHORITY,
          attributes: new Map([['k', bytes('w')]]),
          addedAt: 4,
        });
        expect(await sa.getAttributes(ALICE, AUTHORITY, 10 ** 12)).toEqual({
          attestedBy: AUTHORITY,
          attributes: new Map([['k', bytes('w')]]),
          addedAt: 4,
        });
      }),
    );

    it(
      'policies: set, replace, delete; listed by resource (or type) then action; per node',
      withStores(async ({ a, b }) => {
        const pa = a.policies('n1');
        const pb = b.policies('n1');
        await pa.setResourcePolicy('outlet-b', 'handle_message', '(= subject.x "1")');
        await pa.setResourcePolicy('outlet-a', 'handle_message', '(= subject.x "2")');
        await pb.setResourcePolicy('outlet-b', 'handle_message', '(= subject.x "3")');
        await pb.setResourceTypePolicy('tcp-outlet', 'handle_message', 'true');
        await pb.setResourceTypePolicy('tcp-inlet', 'handle_message', 'false');
        expect(await pa.listResourcePolicies()).toEqual([
          { resourceName: 'outlet-a', action: 'handle_message', expression: '(= subject.x "2")' },
          { resourceName: 'outlet-b', action: 'handle_message', expression: '(= subject.x "3")' },
        ]);
        expect((await pa.listResourcePolicies('outlet-a')).map((p) => p.expression)).toEqual([
          '(= subject.x "2")',
        ]);
        expect((await pa.listResourceTypePolicies()).map((p) => p.resourceType)).toEqual([
          'tcp-inlet',
          'tcp-outlet',
        ]);
        expect(await pa.getResourceTypePolicy('tcp-outlet', 'handle_message')).toEqual({
          resourceType: 'tcp-outlet',
          action: 'handle_message',
          expression: 'true',
        });
        expect(await a.policies('n2').listResourcePolicies()).toEqual([]);
        expect(await pb.deleteResourcePolicy('outlet-a', 'handle_message')).toBe(true);
        expect(await pa.deleteResourcePolicy('outlet-a', 'handle_message')).toBe(false);
        expect(await pa.getResourcePolicy('outlet-a', 'handle_message')).toBeUndefined();
        expect(await pa.deleteResourceTypePolicy('tcp-inlet', 'handle_message')).toBe(true);
        expect((await pb.listResourceTypePolicies('tcp-inlet')).length).toBe(0);
      }),
    );

    it(
      'concurrent upserts of one key from two handles leave one row with one of the values, in place',
      withStores(async ({ a, b }) => {
        await a.resources.put('n', 'relay', 'first', {});
        await a.resources.put('n', 'relay', 'k', { v: -1 });
        await a.resources.put('n', 'relay', 'last', {});
        const values = Array.from({ length: 16 }, (_, i) => i);
        await Promise.all(
          values.flatMap((i) => {
            const s = i % 2 ? a : b;
            return [
              s.resources.put('n', 'relay', 'k', { v: i }),
              s.members(AUTHORITY).addMember(member(ALICE, i)),
              s.policies('n').setResourcePolicy('r', 'handle_message', `(= subject.v "${i}")`),
              s.projects.put(project('p', { id: `id-${i}` })),
            ];
          }),
        );
        const listed = await b.resources.list('n');
        expect(listed.map((r) => r.name)).toEqual(['first', 'k', 'last']);
        expect(values).toContain((listed[1]!.config as { v: number }).v);
        const members = await a.members(AUTHORITY).listMembers();
        expect(members).toHaveLength(1);
        expect(values).toContain(members[0]!.addedAt);
        expect(await b.policies('n').listResourcePolicies()).toHaveLength(1);
        expect((await a.projects.list()).map((p) => p.name)).toEqual(['p']);
      }),
    );

    it(
      'values with quotes, SQL, unicode and every byte come back exactly as stored',
      withStores(async ({ a, b }) => {
        for (const name of AWKWARD) {
          await a.resources.put(name, name, name, { text: `${name}\u0000\n\t"'`, nested: [name, null, 1.5] });
          await a.policies(name).setResourcePolicy(name, name, `(= subject.name "${name}")`);
          await a
            .members(name)
            .addMember(member(name, 1, { attributes: new Map([[name, `${name}\u0000`]]) }));
          await a.projects.put(project(name, { id: name, nodeName: name, changeHistory: ALL_BYTES }));
        }
        for (const name of AWKWARD) {
          expect(await b.resources.list(name)).toEqual([
            { kind: name, name, config: { text: `${name}\u0000\n\t"'`, nested: [name, null, 1.5] } },
          ]);
          expect((await b.policies(name).getResourcePolicy(name, name))?.expression).toBe(
            `(= subject.name "${name}")`,
          );
          expect((await b.members(name).getMember(name))?.attributes).toEqual(
            new Map([[name, `${name}\u0000`]]),
          );
          expect(await b.projects.get(name)).toMatchObject({
            id: name,
            nodeName: name,
            changeHistory: ALL_BYTES,
          });
        }
        // LIKE-style wildcards are not wildcards: '%_*' names only itself.
        expect((await b.resources.list('%')).length).toBe(0);
      }),
    );

    it(
      'a name with NUL or a lone surrogate, an empty name, and a text with NUL are refused as invalid',
      withStores(async ({ a }) => {
        for (const bad of ['a\u0000b', 'lone \ud800 surrogate', '']) {
          expect((await refusal(() => a.resources.put('n', 'relay', bad, {}))).kind).toBe('invalid');
          expect((await refusal(() => a.identities.create(identity(bad, 1)))).kind).toBe('invalid');
          expect((await refusal(() => a.members(AUTHORITY).addMember(member(bad, 1)))).kind).toBe('invalid');
        }
        expect(
          (await refusal(() => a.policies('n').setResourcePolicy('r', 'handle_message', 'x\u0000'))).kind,
        ).toBe('invalid');
        expect(await a.resources.list('n')).toEqual([]);
        expect(await a.identities.list()).toEqual([]);
      }),
    );

    it(
      `names up to ${STATE_LIMITS.nameBytes} bytes and values up to ${STATE_LIMITS.valueBytes} bytes are kept; one byte more is refused`,
      withStores(async ({ a, b }) => {
        // Multi-byte characters: the bound is in bytes of UTF-8, not in characters.
        const name = `${'é'.repeat((STATE_LIMITS.nameBytes - 2) / 2)}xx`;
        expect(new TextEncoder().encode(name).length).toBe(STATE_LIMITS.nameBytes);
        const big = new Uint8Array(STATE_LIMITS.valueBytes).fill(0xfe);
        await a.identities.create(identity(name, 1, big));
        expect(await b.identities.get(name)).toEqual(identity(name, 1, big));
        await a.resources.put('n', 'relay', name, 'x'.repeat(STATE_LIMITS.valueBytes - 2));
        expect(((await b.resources.list('n'))[0]!.config as string).length).toBe(STATE_LIMITS.valueBytes - 2);
        await a.policies('n').setResourcePolicy(name, 'handle_message', 'y'.repeat(STATE_LIMITS.valueBytes));

        const e1 = await refusal(() => a.identities.create(identity(`${name}x`, 1)));
        expect(e1).toMatchObject({ kind: 'invalid' });
        expect(e1.message).toMatch(/1025 bytes; the limit is 1024/);
        const e2 = await refusal(() =>
          a.identities.create(identity('z', 1, new Uint8Array(STATE_LIMITS.valueBytes + 1))),
        );
        expect(e2).toMatchObject({ kind: 'invalid' });
        const e3 = await refusal(() =>
          a.resources.put('n', 'relay', 'r', 'x'.repeat(STATE_LIMITS.valueBytes - 1)),
        );
        expect(e3).toMatchObject({ kind: 'invalid' });
        const e4 = await refusal(() =>
          a.policies('n').setResourcePolicy('p', 'handle_message', 'y'.repeat(STATE_LIMITS.valueBytes + 1)),
        );
        expect(e4).toMatchObject({ kind: 'invalid' });
        expect((await b.identities.list()).map((i) => i.name)).toEqual([name]);
      }),
    );

    it(
      'what a caller changes after a put, or in what a get returned, changes nothing stored',
      withStores(async ({ a, b }) => {
        const history = Uint8Array.of(1, 2, 3);
        await a.identities.create(identity('x', 1, history));
        history[0] = 9;
        const got = await a.identities.get('x');
        got!.changeHistory[1] = 9;
        expect((await b.identities.get('x'))?.changeHistory).toEqual(Uint8Array.of(1, 2, 3));
        const config = { list: [1] };
        await a.resources.put('n', 'relay', 'r', config);
        config.list.push(2);
        ((await a.resources.list('n'))[0]!.config as { list: number[] }).list.push(3);
        expect((await b.resources.list('n'))[0]!.config).toEqual({ list: [1] });
      }),
    );
  });
}
