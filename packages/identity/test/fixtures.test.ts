/** Ockam Rust fixtures: identities.json (shared/vectors/ockam) and test/vectors/ockam-extra.json. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CborReader, fromHex, toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import {
  decodeChangeData,
  decodeChangeHistory,
  decodeCredentialData,
  decodePurposeKeyAttestationData,
  decodeVersionedData,
  encodeChangeData,
  encodeChangeHistory,
  encodeCredentialAndPurposeKey,
  encodeCredentialData,
  encodePurposeKeyAttestationData,
  readChangeHistory,
  readCredentialAndPurposeKey,
} from '../src/codec.js';
import { attributesToStrings, importIdentity, verifyPurposeKeyAttestation } from '../src/index.js';
import { backends, expectReason } from './helpers.js';

interface Fixture {
  name: string;
  change_history: string;
  identifier: string;
  ed25519_secret?: string;
}

const shared = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, '../../../../shared/vectors/ockam/identities.json'), 'utf8'),
) as {
  identities: Fixture[];
};
const extra = JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, 'vectors/ockam-extra.json'), 'utf8'),
) as {
  p256_identity: Fixture;
  refresh_credentials: { hex: string; subject: string; issuer: string; credential_valid: [number, number] };
};

for (const backend of backends) {
  describe(`Ockam identity fixtures on the ${backend.name} vault`, () => {
    for (const fixture of [...shared.identities, extra.p256_identity]) {
      it(`imports "${fixture.name}" and yields ${fixture.identifier}`, () => {
        const identity = importIdentity(fixture.change_history, backend.vault());
        expect(identity.identifier).toBe(fixture.identifier);
        expect(identity.export()).toBe(fixture.change_history);
        // Our encoder writes exactly what minicbor wrote.
        const changes = decodeChangeHistory(fromHex(fixture.change_history));
        expect(toHex(encodeChangeHistory(changes))).toBe(fixture.change_history);
        for (const { change } of identity.changes) {
          const versioned = decodeVersionedData(change.data);
          expect(encodeChangeData(decodeChangeData(versioned.data))).toEqual(versioned.data);
        }
      });

      if (fixture.ed25519_secret !== undefined) {
        const secret = fixture.ed25519_secret;
        it(`re-signs "${fixture.name}" with its secret and reproduces the exact bytes`, async () => {
          const vault = backend.vault();
          const key = await vault.importSigningKey('ed25519', fromHex(secret));
          const identity = importIdentity(fixture.change_history, vault);
          expect(await vault.publicKey(key)).toEqual(identity.primaryPublicKey.bytes);
          const [first] = identity.changes;
          const signature = await vault.sign(key, vault.sha256(first!.change.data));
          expect(toHex(signature)).toBe(toHex(first!.change.signature.bytes));
          const rebuilt = encodeChangeHistory([
            { data: first!.change.data, signature: { type: 'ed25519', bytes: signature } },
          ]);
          expect(toHex(rebuilt)).toBe(fixture.change_history);
        });
      }
    }

    it('rejects the identity.rs fixture when its expected identifier is another one', () => {
      const [fixture] = shared.identities;
      expectReason(
        () =>
          importIdentity(fixture!.change_history, backend.vault(), {
            expectedIdentifier: extra.p256_identity.identifier,
          }),
        'bad-identifier',
      );
    });

    it('decodes the RefreshCredentials message from Ockam Rust: identity, credential and issuer attestation', () => {
      const vault = backend.vault();
      const r = new CborReader(fromHex(extra.refresh_credentials.hex), 'RefreshCredentials');
      r.arrayOf(2, 2);
      r.arrayOf(2, 2);
      expect(r.uint()).toBe(1);
      r.arrayOf(1, 1);
      r.arrayOf(2, 2);
      const historyStart = r.position;
      readChangeHistory(r);
      const history = fromHex(extra.refresh_credentials.hex).subarray(historyStart, r.position);
      const identity = importIdentity(history, vault);
      expect(identity.identifier).toBe(extra.refresh_credentials.subject);

      expect(r.array()).toBe(1);
      const start = r.position;
      const cpk = readCredentialAndPurposeKey(r);
      expect(encodeCredentialAndPurposeKey(cpk)).toEqual(
        fromHex(extra.refresh_credentials.hex).subarray(start, r.position),
      );

      const credential = decodeVersionedData(cpk.credential.data);
      expect([credential.version, credential.dataType]).toEqual([1, 3]);
      const data = decodeCredentialData(credential.data);
      expect(encodeCredentialData(data)).toEqual(credential.data);
      expect(data.subject).toBe(extra.refresh_credentials.subject);
      expect([data.createdAt, data.expiresAt]).toEqual(extra.refresh_credentials.credential_valid);
      expect(data.attributes.schema).toBe(1);
      expect(attributesToStrings(data.attributes)).toEqual({
        'ockam-relay': '*',
        'ockam-role': 'enroller',
        project_id: '767d461c-9851-4c0b-bfc6-6d3334b5bcc2',
        trust_context_id: '767d461c-9851-4c0b-bfc6-6d3334b5bcc2',
      });

      const attestation = decodeVersionedData(cpk.purposeKeyAttestation.data);
      expect([attestation.version, attestation.dataType]).toEqual([1, 2]);
      const pk = decodePurposeKeyAttestationData(attestation.data);
      expect(encodePurposeKeyAttestationData(pk)).toEqual(attestation.data);
      expect(pk.subject).toBe(extra.refresh_credentials.issuer);
      expect(pk.publicKey.purpose).toBe('credential-signing');
      expect(pk.expiresAt - pk.createdAt).toBe(5 * 365 * 24 * 3600);
      // The issuer's credential key signed SHA-256 of the credential's VersionedData (PROTOCOL.md §5.1).
      const ok = vault.verify(
        { type: pk.publicKey.type, bytes: pk.publicKey.bytes },
        vault.sha256(cpk.credential.data),
        cpk.credential.signature.bytes,
      );
      expect(ok).toBe(true);
      // The attestation is about the issuer, not about this identity.
      expectReason(
        () =>
          verifyPurposeKeyAttestation(cpk.purposeKeyAttestation, identity, {
            now: pk.createdAt,
            verifier: vault,
          }),
        'subject-mismatch',
      );
    });
  });
}
