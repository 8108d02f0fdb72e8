import { createIdentity } from '@ockam/identity';
import { describe, expect, it } from 'vitest';
import {
  attributesEntryOf,
  issueCredential,
  MemoryAttributesStore,
  presentedCredentialsHandler,
  verifyCredential,
} from '../src/index.js';
import { makeIssuer, nowSeconds } from './helpers.js';

const enc = (s: string) => new TextEncoder().encode(s);

describe('MemoryAttributesStore', () => {
  it('keys entries by subject and issuer, and forgets them when they expire (expires <= now)', () => {
    const store = new MemoryAttributesStore();
    store.putAttributes('S', {
      attributes: new Map([['a', enc('1')]]),
      attestedBy: 'A',
      addedAt: 0,
      expiresAt: 100,
    });
    store.putAttributes('S', { attributes: new Map([['b', enc('2')]]), attestedBy: 'B', addedAt: 0 });
    expect(store.getAttributes('S', 'A', 99)?.attributes.get('a')).toEqual(enc('1'));
    expect(store.getAttributes('S', 'A', 100)).toBeUndefined();
    expect(store.getAttributes('S', 'B', 1e12)?.attestedBy).toBe('B');
    expect(store.getAttributes('T', 'A', 0)).toBeUndefined();
    expect(store.listAttributes('S', 50)).toHaveLength(2);
    expect(store.listAttributes('S', 100)).toHaveLength(1);
    expect(store.deleteExpired(100)).toBe(1);
    expect(store.deleteExpired(100)).toBe(0);
    store.putAttributes('S', { attributes: new Map(), attestedBy: 'B', addedAt: 5 });
    expect(store.getAttributes('S', 'B', 0)?.addedAt).toBe(5);
  });
});

describe('presentedCredentialsHandler', () => {
  it('stores the attributes of credentials that verify for the peer, and rejects the others', async () => {
    const issuer = await makeIssuer();
    const alice = await createIdentity(issuer.vault);
    const now = nowSeconds();
    const good = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: alice.identifier,
      attributes: { component: 'db' },
      now,
    });
    const store = new MemoryAttributesStore();
    const handle = presentedCredentialsHandler({
      trustedAuthorities: [issuer.identity],
      store,
      now: () => now,
    });
    await handle({ peerIdentifier: alice.identifier, credentials: [good] });
    const entry = store.getAttributes(alice.identifier, issuer.identity.identifier, now);
    expect(entry).toEqual(
      attributesEntryOf(verifyCredential(good, { trustedAuthorities: [issuer.identity], now }), now),
    );
    expect(entry?.expiresAt).toBe(now + 30 * 60);
    // Presented by someone else: the subject does not match the channel peer.
    await expect(
      handle({ peerIdentifier: issuer.identity.identifier, credentials: [good] }),
    ).rejects.toMatchObject({
      reason: 'subject-mismatch',
    });
    expect(store.getAttributes(issuer.identity.identifier, issuer.identity.identifier, now)).toBeUndefined();
    await expect(
      handle({ peerIdentifier: alice.identifier, credentials: [new Uint8Array([1, 2])] }),
    ).rejects.toMatchObject({
      reason: 'malformed',
    });
  });
});
