import { createVault } from '@ockam/vault';
import { describe, expect, it } from 'vitest';
import {
  cachingVerifier,
  createIdentity,
  createPurposeKey,
  defaultVerifier,
  importIdentity,
  MAX_CACHED_MESSAGE,
  rotateIdentity,
  type SignatureVerifier,
  verifyPurposeKeyAttestation,
} from '../src/index.js';

const vault = createVault();

/** The vault's checks, counted. */
function counting(): SignatureVerifier & { checks: number } {
  const v = {
    checks: 0,
    sha256: (data: Uint8Array) => vault.sha256(data),
    verify: (...args: Parameters<typeof vault.verify>) => {
      v.checks++;
      return vault.verify(...args);
    },
  };
  return v;
}

describe('cachingVerifier', () => {
  it('checks the signatures of a change history and an attestation once, then answers from memory', async () => {
    const alice = await rotateIdentity(vault, await createIdentity(vault));
    const sc = await createPurposeKey(vault, alice, 'secure-channel');
    const inner = counting();
    const verifier = cachingVerifier(inner);
    for (let i = 0; i < 3; i++) {
      const copy = importIdentity(alice.changeHistory, verifier);
      expect(copy.identifier).toBe(alice.identifier);
      expect(verifyPurposeKeyAttestation(sc.encoded, copy, { verifier }).publicKey.bytes).toEqual(
        sc.data.publicKey.bytes,
      );
    }
    expect(inner.checks).toBe(1 + 2 + 1); // first change, the rotation (two signatures), attestation
  });

  it('still applies every rule other than the signature arithmetic: an expired key stays expired', async () => {
    const alice = await createIdentity(vault);
    const short = await createPurposeKey(vault, alice, 'secure-channel', { ttl: 10 });
    const verifier = cachingVerifier(counting());
    verifyPurposeKeyAttestation(short.encoded, alice, { verifier });
    expect(() =>
      verifyPurposeKeyAttestation(short.encoded, alice, { verifier, now: short.data.expiresAt + 1 }),
    ).toThrow(/expired/);
  });

  it('never remembers a failure, nor a check of different bytes', async () => {
    const alice = await createIdentity(vault);
    const inner = counting();
    const verifier = cachingVerifier(inner);
    const digest = vault.sha256(new Uint8Array([1, 2, 3]));
    const key = await vault.generateSigningKey('ed25519');
    const publicKey = { type: 'ed25519' as const, bytes: await vault.publicKey(key) };
    const signature = await vault.sign(key, digest);
    const forged = signature.slice();
    forged[0]! ^= 1;
    for (let i = 0; i < 2; i++) expect(verifier.verify(publicKey, digest, forged)).toBe(false);
    expect(inner.checks).toBe(2);
    expect(verifier.verify(publicKey, digest, signature)).toBe(true);
    expect(verifier.verify(publicKey, digest, signature)).toBe(true);
    expect(inner.checks).toBe(3);
    // The same signature over another digest, or under another key, is checked (and fails).
    const other = vault.sha256(new Uint8Array([4]));
    expect(verifier.verify(publicKey, other, signature)).toBe(false);
    expect(verifier.verify({ type: 'ed25519', bytes: alice.primaryPublicKey.bytes }, digest, signature)).toBe(
      false,
    );
    expect(inner.checks).toBe(5);
  });

  it('keeps at most maxEntries results, the least recently used leaving first, and long messages none', async () => {
    const inner = counting();
    const verifier = cachingVerifier(inner, { maxEntries: 2 });
    const key = await vault.generateSigningKey('ed25519');
    const publicKey = { type: 'ed25519' as const, bytes: await vault.publicKey(key) };
    const signed = await Promise.all(
      [1, 2, 3].map(async (n) => {
        const digest = vault.sha256(new Uint8Array([n]));
        return { digest, signature: await vault.sign(key, digest) };
      }),
    );
    const check = (i: number) =>
      expect(verifier.verify(publicKey, signed[i]!.digest, signed[i]!.signature)).toBe(true);
    check(0);
    check(1);
    check(0); // 0 is now the most recent
    expect(inner.checks).toBe(2);
    check(2); // evicts 1
    expect(inner.checks).toBe(3);
    check(0);
    expect(inner.checks).toBe(3);
    check(1);
    expect(inner.checks).toBe(4);

    const long = new Uint8Array(MAX_CACHED_MESSAGE + 1);
    const longSignature = await vault.sign(key, long);
    expect(verifier.verify(publicKey, long, longSignature)).toBe(true);
    expect(verifier.verify(publicKey, long, longSignature)).toBe(true);
    expect(inner.checks).toBe(6);

    expect(cachingVerifier(inner, { maxEntries: 0 })).toBe(inner);
    expect(() => cachingVerifier(inner, { maxEntries: -1 })).toThrow(RangeError);
  });
});

describe('defaultVerifier', () => {
  it('is one verifier per process that accepts genuine signatures and refuses forged ones', async () => {
    expect(defaultVerifier()).toBe(defaultVerifier());
    const identity = await createIdentity(vault);
    const bytes = identity.export();
    expect(importIdentity(bytes).identifier).toBe(identity.identifier);
    expect(importIdentity(bytes, defaultVerifier()).identifier).toBe(identity.identifier);
    const forged = Uint8Array.from(bytes);
    forged[forged.length - 1]! ^= 1;
    expect(() => importIdentity(forged)).toThrow();
    expect(() => importIdentity(forged, defaultVerifier())).toThrow();
  });
});
