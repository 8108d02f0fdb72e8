import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CborWriter, fromHex, OckamError, toHex } from '@ockam/core';
import { createIdentity, createPurposeKey, importIdentity, rotateIdentity } from '@ockam/identity';
import { decodeCredentialAndPurposeKey, encodeCredentialAndPurposeKey } from '@ockam/identity/codec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeIdentityAndCredentials,
  encodeIdentityAndCredentials,
  MAX_PEER_CREDENTIALS,
} from '../src/identity-and-credentials.js';
import {
  DEFAULT_MAX_PEER_IDENTITY_CHANGES,
  identityVerifier,
  secureChannelIdentity,
} from '../src/identity-verifier.js';
import { decodeSecureChannelMessage, encodeSecureChannelMessage } from '../src/secure-channel-message.js';
import { and, or, trustEveryone, trustIdentifier, trustMultiIdentifiers } from '../src/trust-policy.js';
import { BACKENDS, vaultFor } from './helpers.js';

const fixture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, 'vectors/ockam-messages.json'), 'utf8'),
);

describe('Ockam-encoded secure channel messages', () => {
  it('decodes the Rust-encoded RefreshCredentials and re-encodes it byte for byte', () => {
    const bytes = fromHex(fixture.refresh_credentials);
    const m = decodeSecureChannelMessage(bytes);
    expect(m.kind).toBe('refresh-credentials');
    if (m.kind !== 'refresh-credentials') return;
    expect(importIdentity(m.changeHistory).identifier).toBe(fixture.refresh_credentials_identifier);
    expect(m.credentials).toHaveLength(1);
    const credential = decodeCredentialAndPurposeKey(m.credentials[0]!);
    expect(toHex(encodeCredentialAndPurposeKey(credential))).toBe(toHex(m.credentials[0]!));
    expect(toHex(encodeSecureChannelMessage(m))).toBe(fixture.refresh_credentials);
  });
});

describe('IdentityAndCredentials payload', () => {
  const item = (n: number) => new CborWriter().array(1).uint(n).finish();

  it('encodes [change history, attestation, [credentials]] with the parts as they are', () => {
    const bytes = encodeIdentityAndCredentials({
      changeHistory: item(1),
      purposeKeyAttestation: item(2),
      credentials: [item(3)],
    });
    expect(toHex(bytes)).toBe('83810181028181' + '03');
    expect(decodeIdentityAndCredentials(bytes)).toEqual({
      changeHistory: item(1),
      purposeKeyAttestation: item(2),
      credentials: [item(3)],
    });
  });

  it('rejects wrong shapes and trailing bytes, and never fails untyped on random input', () => {
    for (const hex of ['820180', '83018102', '838101810201', '8381018102800000']) {
      expect(() => decodeIdentityAndCredentials(fromHex(hex)), hex).toThrow(
        /Cannot decode identity and credentials/,
      );
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (b) => {
        try {
          decodeIdentityAndCredentials(b);
        } catch (e) {
          expect(OckamError.isKind(e, 'serialization')).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it(`refuses more than ${MAX_PEER_CREDENTIALS} credentials (each would cost a signature check)`, () => {
    const payload = (n: number) =>
      encodeIdentityAndCredentials({
        changeHistory: item(1),
        purposeKeyAttestation: item(2),
        credentials: Array.from({ length: n }, (_, i) => item(i)),
      });
    expect(decodeIdentityAndCredentials(payload(MAX_PEER_CREDENTIALS)).credentials).toHaveLength(
      MAX_PEER_CREDENTIALS,
    );
    expect(() => decodeIdentityAndCredentials(payload(MAX_PEER_CREDENTIALS + 1))).toThrow(
      /credentials must have/,
    );
    expect(decodeIdentityAndCredentials(payload(9), { maxCredentials: 9 }).credentials).toHaveLength(9);
  });
});

for (const backend of BACKENDS) {
  describe(`identity verification (${backend} vault)`, () => {
    const vault = vaultFor(backend);

    it('returns the identifier and attested X25519 key of a genuine identity', async () => {
      const alice = await createIdentity(vault);
      const me = await secureChannelIdentity(vault, alice);
      expect(me.identifier).toBe(alice.identifier);
      const peer = await identityVerifier().verifyPeer(me.changeHistory, me.purposeKeyAttestation);
      expect(peer.identifier).toBe(alice.identifier);
      expect(toHex(peer.secureChannelPublicKey)).toBe(toHex(vault.x25519PublicKey(me.secureChannelKey)));
      expect(await identityVerifier().verifyIdentity(me.changeHistory)).toBe(alice.identifier);
      // The purpose key is created once per vault and identity.
      expect((await secureChannelIdentity(vault, alice)).secureChannelKey.id).toBe(me.secureChannelKey.id);
    });

    it(`refuses a change history of more than ${DEFAULT_MAX_PEER_IDENTITY_CHANGES} changes before checking any signature`, async () => {
      let alice = await createIdentity(vault);
      for (let i = 1; i < 4; i++) alice = await rotateIdentity(vault, alice);
      const me = await secureChannelIdentity(vault, alice);
      let checks = 0;
      const counting = {
        sha256: (data: Uint8Array) => vault.sha256(data),
        verify: (...args: Parameters<typeof vault.verify>) => {
          checks++;
          return vault.verify(...args);
        },
      };
      expect(
        (
          await identityVerifier({ verifier: counting, maxChanges: 4 }).verifyPeer(
            me.changeHistory,
            me.purposeKeyAttestation,
          )
        ).identifier,
      ).toBe(alice.identifier);
      expect(checks).toBe(1 + 2 * 3 + 1); // first change, three rotations (two signatures each), attestation
      // The same peer again through one verifier: its signatures are remembered, not checked again.
      checks = 0;
      const kept = identityVerifier({ verifier: counting });
      for (let i = 0; i < 3; i++)
        expect((await kept.verifyPeer(me.changeHistory, me.purposeKeyAttestation)).identifier).toBe(
          alice.identifier,
        );
      expect(checks).toBe(8);
      checks = 0;
      const uncached = identityVerifier({ verifier: counting, verificationCacheEntries: 0 });
      await uncached.verifyPeer(me.changeHistory, me.purposeKeyAttestation);
      await uncached.verifyPeer(me.changeHistory, me.purposeKeyAttestation);
      expect(checks).toBe(16);
      checks = 0;
      const strict = identityVerifier({ verifier: counting, maxChanges: 3 });
      await expect(strict.verifyPeer(me.changeHistory, me.purposeKeyAttestation)).rejects.toThrow(
        /4 changes, more than the 3 accepted/,
      );
      await expect(strict.verifyIdentity(me.changeHistory)).rejects.toThrow(/more than the 3 accepted/);
      expect(checks).toBe(0);
      expect(() => identityVerifier({ maxChanges: 0 })).toThrow(RangeError);
    });

    it('rejects a credential-signing key, an attestation of another identity, a forged signature and an expired key', async () => {
      const alice = await createIdentity(vault);
      const bob = await createIdentity(vault);
      const verifier = identityVerifier();
      const signing = await createPurposeKey(vault, alice, 'credential-signing');
      await expect(verifier.verifyPeer(alice.changeHistory, signing.encoded)).rejects.toThrow(
        /secure-channel/,
      );
      const bobs = await createPurposeKey(vault, bob, 'secure-channel');
      await expect(verifier.verifyPeer(alice.changeHistory, bobs.encoded)).rejects.toThrow(/not I/);
      const forged = (await createPurposeKey(vault, alice, 'secure-channel')).encoded.slice();
      forged[forged.length - 1]! ^= 1;
      await expect(verifier.verifyPeer(alice.changeHistory, forged)).rejects.toThrow(/does not verify/);
      const short = await createPurposeKey(vault, alice, 'secure-channel', { ttl: 10 });
      const later = identityVerifier({ now: () => Math.floor(Date.now() / 1000) + 3600 });
      await expect(later.verifyPeer(alice.changeHistory, short.encoded)).rejects.toThrow(/expired/);
      const corrupt = alice.changeHistory.slice();
      corrupt[corrupt.length - 1]! ^= 1;
      await expect(verifier.verifyPeer(corrupt, short.encoded)).rejects.toThrow();
    });
  });
}

describe('trust policies', () => {
  const a = 'I' + 'aa'.repeat(32);
  const b = 'I' + 'bb'.repeat(32);
  const c = 'I' + 'cc'.repeat(32);
  const ctx = (peerIdentifier: string) => ({ peerIdentifier });

  it('trust everyone, one identifier, or a list', async () => {
    expect(await trustEveryone(ctx(a))).toBe(true);
    expect(await trustIdentifier(a)(ctx(a))).toBe(true);
    expect(await trustIdentifier(a)(ctx(b))).toBe(false);
    expect(await trustMultiIdentifiers([a, b])(ctx(b))).toBe(true);
    expect(await trustMultiIdentifiers([a, b])(ctx(c))).toBe(false);
  });

  it('combine with and/or', async () => {
    expect(await and(trustMultiIdentifiers([a, b]), trustIdentifier(b))(ctx(b))).toBe(true);
    expect(await and(trustMultiIdentifiers([a, b]), trustIdentifier(b))(ctx(a))).toBe(false);
    expect(await or(trustIdentifier(a), trustIdentifier(c))(ctx(c))).toBe(true);
    expect(await or(trustIdentifier(a), async () => false)(ctx(b))).toBe(false);
    expect(await and()(ctx(a))).toBe(true);
    expect(await or()(ctx(a))).toBe(false);
  });
});
