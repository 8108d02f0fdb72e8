import { describe, expect, it } from 'vitest';
import { decodePurposeKeyAttestation, encodePurposeKeyAttestation } from '../src/codec.js';
import {
  createIdentity,
  createPurposeKey,
  DEFAULT_PURPOSE_KEY_TTL,
  type PurposeKeyAttestationData,
  rotateIdentity,
  verifyPurposeKeyAttestation,
} from '../src/index.js';
import { backends, expectReason, keyFor, makeAttestation } from './helpers.js';

const NOW = 1_700_000_000;

for (const backend of backends) {
  describe(`purpose keys on the ${backend.name} vault`, () => {
    it('creates a secure-channel X25519 key attested for five years', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const sc = await createPurposeKey(vault, identity, 'secure-channel', { now: NOW });
      expect(sc.key.type).toBe('x25519');
      expect(sc.data.publicKey).toEqual({
        purpose: 'secure-channel',
        type: 'x25519',
        bytes: vault.x25519PublicKey(sc.key),
      });
      expect(sc.data.expiresAt - sc.data.createdAt).toBe(DEFAULT_PURPOSE_KEY_TTL);
      expect(decodePurposeKeyAttestation(sc.encoded)).toEqual(sc.attestation);
      const verified = verifyPurposeKeyAttestation(sc.encoded, identity, {
        now: NOW,
        verifier: vault,
        expectedPurpose: 'secure-channel',
      });
      expect(verified).toEqual(sc.data);
    });

    for (const keyType of ['ed25519', 'p256'] as const) {
      it(`creates a ${keyType} credential-signing key on a ${keyType === 'ed25519' ? 'P-256' : 'Ed25519'} identity`, async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, {
          now: NOW,
          keyType: keyType === 'ed25519' ? 'p256' : 'ed25519',
        });
        const credential = await createPurposeKey(vault, identity, 'credential-signing', {
          keyType,
          now: NOW,
        });
        expect(credential.data.publicKey.type).toBe(keyType);
        expect(credential.data.publicKey.bytes).toEqual(await vault.publicKey(credential.key));
        expect(
          verifyPurposeKeyAttestation(credential.attestation, identity, { now: NOW + 100, verifier: vault }),
        ).toEqual(credential.data);
      });
    }

    it('caps a purpose key at the end of the identity attestation window', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW, ttl: 3600 });
      const sc = await createPurposeKey(vault, identity, 'secure-channel', { now: NOW });
      expect(sc.data.expiresAt).toBe(NOW + 3600);
      verifyPurposeKeyAttestation(sc.attestation, identity, { now: NOW, verifier: vault });
    });

    it('rejects an expired key and one created more than 60 s in the future', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const sc = await createPurposeKey(vault, identity, 'secure-channel', { now: NOW + 1000, ttl: 100 });
      const at = (now: number) => () =>
        verifyPurposeKeyAttestation(sc.attestation, identity, { now, verifier: vault });
      expect(at(NOW + 1000 - 60)()).toEqual(sc.data);
      expectReason(at(NOW + 1000 - 61), 'created-in-future');
      expect(at(NOW + 1100)()).toEqual(sc.data);
      expectReason(at(NOW + 1101), 'expired');
    });

    it('rejects an attestation made before the identity rotated', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const sc = await createPurposeKey(vault, identity, 'secure-channel', { now: NOW });
      const rotated = await rotateIdentity(vault, identity, { now: NOW + 1 });
      expectReason(
        () => verifyPurposeKeyAttestation(sc.attestation, rotated, { now: NOW + 2, verifier: vault }),
        'stale-change-hash',
      );
      const fresh = await createPurposeKey(vault, rotated, 'secure-channel', { now: NOW + 2 });
      expect(
        verifyPurposeKeyAttestation(fresh.attestation, rotated, { now: NOW + 2, verifier: vault }).subject,
      ).toBe(identity.identifier);
    });

    it('rejects an attestation about another identity, or of another purpose', async () => {
      const vault = backend.vault();
      const alice = await createIdentity(vault, { now: NOW });
      const bob = await createIdentity(vault, { now: NOW });
      const sc = await createPurposeKey(vault, alice, 'secure-channel', { now: NOW });
      expectReason(
        () => verifyPurposeKeyAttestation(sc.attestation, bob, { now: NOW, verifier: vault }),
        'subject-mismatch',
      );
      expectReason(
        () =>
          verifyPurposeKeyAttestation(sc.attestation, alice, {
            now: NOW,
            verifier: vault,
            expectedPurpose: 'credential-signing',
          }),
        'wrong-purpose',
      );
    });

    it('rejects a key whose window is outside the identity window', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW, ttl: 1000 });
      const key = await keyFor(vault, identity.primaryPublicKey);
      const base: PurposeKeyAttestationData = {
        subject: identity.identifier,
        subjectLatestChangeHash: identity.latestChangeHash,
        publicKey: { purpose: 'secure-channel', type: 'x25519', bytes: new Uint8Array(32).fill(9) },
        createdAt: NOW,
        expiresAt: NOW + 1000,
      };
      const ok = await makeAttestation(vault, key, base);
      expect(verifyPurposeKeyAttestation(ok, identity, { now: NOW, verifier: vault })).toEqual(base);
      const tooLate = await makeAttestation(vault, key, { ...base, expiresAt: NOW + 1001 });
      expectReason(
        () => verifyPurposeKeyAttestation(tooLate, identity, { now: NOW, verifier: vault }),
        'outside-identity-window',
      );
      const tooEarly = await makeAttestation(vault, key, { ...base, createdAt: NOW - 1 });
      expectReason(
        () => verifyPurposeKeyAttestation(tooEarly, identity, { now: NOW, verifier: vault }),
        'outside-identity-window',
      );
      const wrongType = await makeAttestation(vault, key, base, 3);
      expectReason(
        () => verifyPurposeKeyAttestation(wrongType, identity, { now: NOW, verifier: vault }),
        'wrong-data-type',
      );
      const other = await vault.generateSigningKey('ed25519');
      const forged = await makeAttestation(vault, other, base);
      expectReason(
        () => verifyPurposeKeyAttestation(forged, identity, { now: NOW, verifier: vault }),
        'bad-signature',
      );
    });

    it('rejects a tampered or truncated attestation', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const sc = await createPurposeKey(vault, identity, 'secure-channel', { now: NOW });
      for (let i = 0; i < sc.encoded.length; i++) {
        const tampered = sc.encoded.slice();
        tampered[i]! ^= 0x01;
        expectReason(() => verifyPurposeKeyAttestation(tampered, identity, { now: NOW, verifier: vault }));
      }
      for (let n = 0; n < sc.encoded.length; n++) {
        expectReason(
          () =>
            verifyPurposeKeyAttestation(sc.encoded.subarray(0, n), identity, { now: NOW, verifier: vault }),
          'malformed',
        );
      }
      const sig = { ...sc.attestation.signature, bytes: sc.attestation.signature.bytes.slice() };
      sig.bytes[5]! ^= 0x80;
      expectReason(
        () =>
          verifyPurposeKeyAttestation({ ...sc.attestation, signature: sig }, identity, {
            now: NOW,
            verifier: vault,
          }),
        'bad-signature',
      );
      expectReason(
        () =>
          verifyPurposeKeyAttestation(
            new Uint8Array([...encodePurposeKeyAttestation(sc.attestation), 0]),
            identity,
            { now: NOW, verifier: vault },
          ),
        'malformed',
      );
    });

    it('refuses to attest for an identity whose key the vault does not hold', async () => {
      const identity = await createIdentity(backend.vault());
      await expect(createPurposeKey(backend.vault(), identity, 'secure-channel')).rejects.toSatisfy(
        (e) => (e as { reason?: string }).reason === 'key-not-found',
      );
    });
  });
}
