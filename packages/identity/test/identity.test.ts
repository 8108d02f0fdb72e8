import { toHex } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { decodeChangeHistory, encodeChangeHistory } from '../src/codec.js';
import {
  type Change,
  createIdentity,
  DEFAULT_IDENTITY_TTL,
  IdentityError,
  identityFromChanges,
  importIdentity,
  parseIdentifier,
  rotateIdentity,
  verifyChanges,
} from '../src/index.js';
import { backends, expectReason, keyFor, makeChange } from './helpers.js';

const NOW = 1_700_000_000;

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  out[index]! ^= 0x01;
  return out;
}

for (const backend of backends) {
  describe(`identities on the ${backend.name} vault`, () => {
    for (const keyType of ['ed25519', 'p256'] as const) {
      it(`creates a ${keyType} identity whose identifier is SHA-256 of its first change data`, async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, { keyType, now: NOW });
        const [first] = identity.changes;
        expect(identity.identifier).toBe(`I${toHex(vault.sha256(first!.change.data))}`);
        expect(parseIdentifier(identity.identifier)).toBe(identity.identifier);
        expect(identity.primaryPublicKey.type).toBe(keyType);
        expect(identity.attestationsValidFrom).toBe(NOW);
        expect(identity.attestationsValidUntil).toBe(NOW + DEFAULT_IDENTITY_TTL);
        expect(first!.data.previousChange).toBeNull();
        expect(first!.change.previousSignature).toBeUndefined();
        const imported = importIdentity(identity.export(), vault);
        expect(imported.equals(identity)).toBe(true);
        expect(importIdentity(identity.changeHistory, vault).identifier).toBe(identity.identifier);
      });
    }

    it('rotates an identity: new key, same identifier, signed by both keys', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const rotated = await rotateIdentity(vault, identity, { now: NOW + 10 });
      const twice = await rotateIdentity(vault, rotated, {
        keyType: 'p256',
        now: NOW + 20,
        revokeAllPurposeKeys: true,
      });
      expect(twice.identifier).toBe(identity.identifier);
      expect(twice.changes.length).toBe(3);
      expect(twice.primaryPublicKey.type).toBe('p256');
      expect(twice.latestChange.data.revokeAllPurposeKeys).toBe(true);
      expect(twice.changes[1]!.data.previousChange).toEqual(identity.latestChangeHash);
      expect(twice.primaryPublicKey.bytes).not.toEqual(identity.primaryPublicKey.bytes);
      expect(importIdentity(twice.export(), backend.vault()).equals(twice)).toBe(true);
    });

    it('refuses to rotate an identity whose key the vault does not hold', async () => {
      const identity = await createIdentity(backend.vault());
      await expect(rotateIdentity(backend.vault(), identity)).rejects.toSatisfy((e) =>
        IdentityError.isReason(e, 'key-not-found'),
      );
    });

    it('never lets attestations_valid_from go backwards on rotation', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault, { now: NOW });
      const rotated = await rotateIdentity(vault, identity, { now: NOW - 100 });
      expect(rotated.attestationsValidFrom).toBe(NOW);
    });

    describe('rejects tampered histories', () => {
      it('with a flipped bit anywhere in a change data', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault);
        const [change] = decodeChangeHistory(identity.changeHistory);
        for (let i = 0; i < change!.data.length; i++) {
          const tampered = encodeChangeHistory([{ ...change!, data: flipBit(change!.data, i) }]);
          expectReason(
            () => importIdentity(tampered, vault),
            [
              'malformed',
              'bad-self-signature',
              'unknown-version',
              'wrong-data-type',
              'first-change-has-previous',
            ],
          );
        }
      });

      it('with a flipped bit in a signature', async () => {
        const vault = backend.vault();
        const identity = await rotateIdentity(vault, await createIdentity(vault));
        const changes = decodeChangeHistory(identity.changeHistory);
        const last = changes[1]!;
        for (const i of [0, 31, 63]) {
          const own = [
            changes[0]!,
            { ...last, signature: { ...last.signature, bytes: flipBit(last.signature.bytes, i) } },
          ];
          expectReason(() => importIdentity(encodeChangeHistory(own), vault), 'bad-self-signature');
          const prev = [
            changes[0]!,
            {
              ...last,
              previousSignature: {
                ...last.previousSignature!,
                bytes: flipBit(last.previousSignature!.bytes, i),
              },
            },
          ];
          expectReason(() => importIdentity(encodeChangeHistory(prev), vault), 'bad-previous-signature');
        }
      });

      it('with reordered or missing changes', async () => {
        const vault = backend.vault();
        const identity = await rotateIdentity(
          vault,
          await rotateIdentity(vault, await createIdentity(vault)),
        );
        const [a, b, c] = decodeChangeHistory(identity.changeHistory) as [Change, Change, Change];
        expectReason(
          () => importIdentity(encodeChangeHistory([b, a, c]), vault),
          'first-change-has-previous',
        );
        expectReason(() => importIdentity(encodeChangeHistory([a, c, b]), vault), 'previous-change-mismatch');
        expectReason(() => importIdentity(encodeChangeHistory([a, c]), vault), 'previous-change-mismatch');
        expectReason(() => importIdentity(encodeChangeHistory([b, c]), vault), 'first-change-has-previous');
        expectReason(() => importIdentity(encodeChangeHistory([]), vault), 'empty-history');
      });

      it('when truncated at any byte', async () => {
        const vault = backend.vault();
        const identity = await rotateIdentity(vault, await createIdentity(vault));
        for (let n = 0; n < identity.changeHistory.length; n++) {
          expectReason(() => importIdentity(identity.changeHistory.subarray(0, n), vault), 'malformed');
        }
      });

      it('when followed by trailing bytes', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault);
        expectReason(() => importIdentity(`${identity.export()}00`, vault), 'trailing-bytes');
        expectReason(
          () => importIdentity(`${identity.export()}${identity.export()}`, vault),
          'trailing-bytes',
        );
        expectReason(() => importIdentity('zz', vault), 'malformed');
      });

      it('when a change is signed by the wrong key', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, { now: NOW });
        const key = await keyFor(vault, identity.primaryPublicKey);
        const other = await vault.generateSigningKey('ed25519');
        const data = identity.changes[0]!.data;
        expectReason(
          () =>
            verifyChanges(
              [{ ...identity.changes[0]!.change, signature: { type: 'ed25519', bytes: new Uint8Array(64) } }],
              vault,
            ),
          'bad-self-signature',
        );
        const forged = await makeChange(vault, other, data);
        expectReason(() => verifyChanges([forged], vault), 'bad-self-signature');

        const next = await vault.generateSigningKey('ed25519');
        const nextData = {
          ...data,
          previousChange: identity.latestChangeHash,
          primaryPublicKey: { type: 'ed25519' as const, bytes: await vault.publicKey(next) },
        };
        const first = identity.changes[0]!.change;
        const byWrongPrevious = await makeChange(vault, next, nextData, other);
        const withoutPrevious = await makeChange(vault, next, nextData);
        const byWrongOwn = await makeChange(vault, other, nextData, key);
        const honest = await makeChange(vault, next, nextData, key);
        expectReason(() => verifyChanges([first, byWrongPrevious], vault), 'bad-previous-signature');
        expectReason(() => verifyChanges([first, withoutPrevious], vault), 'missing-previous-signature');
        expectReason(() => verifyChanges([first, byWrongOwn], vault), 'bad-self-signature');
        expect(verifyChanges([first, honest], vault).length).toBe(2);
      });

      it('when a signature type does not match the key type', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, { keyType: 'p256' });
        const change = identity.changes[0]!.change;
        expectReason(
          () => verifyChanges([{ ...change, signature: { ...change.signature, type: 'ed25519' } }], vault),
          'signature-type-mismatch',
        );
      });

      it('when attestations_valid_from decreases', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, { now: NOW });
        const key = await keyFor(vault, identity.primaryPublicKey);
        const next = await vault.generateSigningKey('ed25519');
        const change = await makeChange(
          vault,
          next,
          {
            ...identity.changes[0]!.data,
            previousChange: identity.latestChangeHash,
            primaryPublicKey: { type: 'ed25519', bytes: await vault.publicKey(next) },
            attestationsValidFrom: NOW - 1,
          },
          key,
        );
        expectReason(
          () => identityFromChanges([identity.changes[0]!.change, change], vault),
          'valid-from-decreased',
        );
      });

      it('when the VersionedData has an unknown version or data type', async () => {
        const vault = backend.vault();
        const identity = await createIdentity(vault, { now: NOW });
        const key = await keyFor(vault, identity.primaryPublicKey);
        const data = identity.changes[0]!.data;
        expectReason(() => verifyChanges([] as Change[], vault), 'empty-history');
        const v2 = await makeChange(vault, key, data, undefined, { version: 2 });
        expectReason(() => verifyChanges([v2], vault), 'unknown-version');
        const v0 = await makeChange(vault, key, data, undefined, { version: 0 });
        expectReason(() => verifyChanges([identity.changes[0]!.change, v0], vault), 'version-decreased');
        const credentialType = await makeChange(vault, key, data, undefined, { dataType: 3 });
        expectReason(() => verifyChanges([credentialType], vault), 'wrong-data-type');
      });
    });
  });
}

describe('identifiers', () => {
  it('parse only "I" followed by 64 hex digits', () => {
    const id = `I${'ab'.repeat(32)}`;
    expect(parseIdentifier(id)).toBe(id);
    expect(parseIdentifier(id.toUpperCase().replace(/^I/, 'I'))).toBe(id);
    for (const bad of [
      '',
      'I',
      `I${'ab'.repeat(20)}`,
      `P${'ab'.repeat(32)}`,
      `I${'zz'.repeat(32)}`,
      `${id}0`,
    ]) {
      expectReason(() => parseIdentifier(bad), 'bad-identifier');
    }
  });
});
