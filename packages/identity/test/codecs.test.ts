/** Property tests: every codec round-trips, and no decoder throws anything but a typed error. */
import { OckamError, toHex } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeAttributes,
  decodeChange,
  decodeChangeData,
  decodeChangeHistory,
  decodeCredential,
  decodeCredentialAndPurposeKey,
  decodeCredentialData,
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  decodeVersionedData,
  encodeAttributes,
  encodeChange,
  encodeChangeData,
  encodeChangeHistory,
  encodeCredential,
  encodeCredentialAndPurposeKey,
  encodeCredentialData,
  encodePurposeKeyAttestation,
  encodePurposeKeyAttestationData,
  encodeVersionedData,
  type VersionedData,
} from '../src/codec.js';
import {
  type Attributes,
  type Change,
  type ChangeData,
  type Credential,
  type CredentialAndPurposeKey,
  type CredentialData,
  createIdentity,
  createPurposeKey,
  importIdentity,
  type PurposeKeyAttestation,
  type PurposeKeyAttestationData,
  type PurposePublicKey,
  type Signature,
  type SigningPublicKey,
  verifyPurposeKeyAttestation,
} from '../src/index.js';
import { backends } from './helpers.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const timestamp = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const identifier = bytes(32).map((b) => `I${toHex(b)}`);
const signingPublicKey: fc.Arbitrary<SigningPublicKey> = fc.oneof(
  bytes(32).map((b) => ({ type: 'ed25519' as const, bytes: b })),
  bytes(65).map((b) => ({ type: 'p256' as const, bytes: b })),
);
const signature: fc.Arbitrary<Signature> = fc.record({
  type: fc.constantFrom('ed25519' as const, 'p256' as const),
  bytes: bytes(64),
});
const versionedData: fc.Arbitrary<VersionedData> = fc.record({
  version: fc.integer({ min: 0, max: 255 }),
  dataType: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 300 }),
});
const changeData: fc.Arbitrary<ChangeData> = fc.record({
  previousChange: fc.option(bytes(32), { nil: null }),
  primaryPublicKey: signingPublicKey,
  revokeAllPurposeKeys: fc.boolean(),
  attestationsValidFrom: timestamp,
  attestationsValidUntil: timestamp,
});
const change: fc.Arbitrary<Change> = fc
  .tuple(fc.uint8Array({ maxLength: 200 }), signature, fc.option(signature, { nil: undefined }))
  .map(([data, sig, prev]) =>
    prev === undefined ? { data, signature: sig } : { data, signature: sig, previousSignature: prev },
  );
const purposePublicKey: fc.Arbitrary<PurposePublicKey> = fc.oneof(
  bytes(32).map((b) => ({ purpose: 'secure-channel' as const, type: 'x25519' as const, bytes: b })),
  signingPublicKey.map((k) => ({ purpose: 'credential-signing' as const, type: k.type, bytes: k.bytes })),
);
const attestationData: fc.Arbitrary<PurposeKeyAttestationData> = fc.record({
  subject: identifier,
  subjectLatestChangeHash: bytes(32),
  publicKey: purposePublicKey,
  createdAt: timestamp,
  expiresAt: timestamp,
});
const attestation: fc.Arbitrary<PurposeKeyAttestation> = fc.record({
  data: fc.uint8Array({ maxLength: 200 }),
  signature,
});
const attributes: fc.Arbitrary<Attributes> = fc
  .tuple(
    timestamp,
    fc.uniqueArray(fc.tuple(fc.uint8Array({ maxLength: 20 }), fc.uint8Array({ maxLength: 40 })), {
      selector: ([k]) => toHex(k),
      maxLength: 8,
    }),
  )
  .map(([schema, entries]) => ({
    schema,
    entries: entries.sort(([a], [b]) => Buffer.compare(a, b)),
  }));
const credentialData: fc.Arbitrary<CredentialData> = fc
  .tuple(
    fc.option(identifier, { nil: undefined }),
    fc.option(bytes(32), { nil: undefined }),
    attributes,
    timestamp,
    timestamp,
  )
  .map(([subject, hash, attrs, createdAt, expiresAt]) => ({
    ...(subject === undefined ? {} : { subject }),
    ...(hash === undefined ? {} : { subjectLatestChangeHash: hash }),
    attributes: attrs,
    createdAt,
    expiresAt,
  }));
const credential: fc.Arbitrary<Credential> = fc.record({
  data: fc.uint8Array({ maxLength: 200 }),
  signature,
});
const credentialAndPurposeKey: fc.Arbitrary<CredentialAndPurposeKey> = fc.record({
  credential,
  purposeKeyAttestation: attestation,
});

// biome-ignore lint/suspicious/noExplicitAny: a table of heterogeneous codecs
const codecs: Array<[string, fc.Arbitrary<any>, (v: any) => Uint8Array, (b: Uint8Array) => unknown]> = [
  ['VersionedData', versionedData, encodeVersionedData, decodeVersionedData],
  ['ChangeData', changeData, encodeChangeData, decodeChangeData],
  ['Change', change, encodeChange, decodeChange],
  ['ChangeHistory', fc.array(change, { maxLength: 4 }), encodeChangeHistory, decodeChangeHistory],
  [
    'PurposeKeyAttestationData',
    attestationData,
    encodePurposeKeyAttestationData,
    decodePurposeKeyAttestationData,
  ],
  ['PurposeKeyAttestation', attestation, encodePurposeKeyAttestation, decodePurposeKeyAttestation],
  ['Attributes', attributes, encodeAttributes, decodeAttributes],
  ['CredentialData', credentialData, encodeCredentialData, decodeCredentialData],
  ['Credential', credential, encodeCredential, decodeCredential],
  [
    'CredentialAndPurposeKey',
    credentialAndPurposeKey,
    encodeCredentialAndPurposeKey,
    decodeCredentialAndPurposeKey,
  ],
];

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!OckamError.is(e)) throw e;
  }
}

/** Random bytes, and valid encodings with a few bytes changed, dropped or appended. */
function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(
        valid,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      )
      .map(([b, edits]) => {
        const out = b.slice();
        for (const [i, v] of edits) if (out.length > 0) out[i % out.length] = v;
        return out;
      }),
    fc.tuple(valid, fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1))),
    fc
      .tuple(valid, fc.uint8Array({ minLength: 1, maxLength: 4 }))
      .map(([b, extra]) => new Uint8Array([...b, ...extra])),
  );
}

describe('CBOR codecs', () => {
  for (const [name, arbitrary, encode, decode] of codecs) {
    it(`${name} round-trips through encode and decode`, () => {
      fc.assert(
        fc.property(arbitrary, (value) => {
          const encoded = encode(value);
          expect(decode(encoded)).toEqual(value);
          expect(encode(decode(encoded))).toEqual(encoded);
        }),
        { numRuns: 200 },
      );
    });

    it(`${name} decoder throws only typed errors on random and mutated bytes`, () => {
      fc.assert(
        fc.property(mutated(arbitrary.map(encode)), (input) => onlyTypedErrors(() => decode(input))),
        { numRuns: 500 },
      );
    });
  }

  it('Attributes are written in byte order of their keys whatever the input order', () => {
    const a = {
      schema: 1,
      entries: [
        [new Uint8Array([2]), new Uint8Array([1])],
        [new Uint8Array([1, 0]), new Uint8Array([2])],
        [new Uint8Array([1]), new Uint8Array([3])],
      ] as const,
    };
    expect(toHex(encodeAttributes(a))).toBe('8201a341014103420100410241024101');
    expect(() =>
      encodeAttributes({
        schema: 1,
        entries: [
          [new Uint8Array([1]), new Uint8Array()],
          [new Uint8Array([1]), new Uint8Array()],
        ],
      }),
    ).toThrow(RangeError);
    expect(() =>
      decodeAttributes(new Uint8Array([0x82, 0x01, 0xa2, 0x41, 0x01, 0x40, 0x41, 0x01, 0x40])),
    ).toThrow(/duplicate/);
  });
});

for (const backend of backends) {
  describe(`verifiers on the ${backend.name} vault`, () => {
    it('importIdentity and verifyPurposeKeyAttestation throw only typed errors on random and mutated input', async () => {
      const vault = backend.vault();
      const identity = await createIdentity(vault);
      const sc = await createPurposeKey(vault, identity, 'secure-channel');
      fc.assert(
        fc.property(mutated(fc.constant(identity.changeHistory)), (input) =>
          onlyTypedErrors(() => importIdentity(input, vault)),
        ),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(mutated(fc.constant(sc.encoded)), (input) =>
          onlyTypedErrors(() => verifyPurposeKeyAttestation(input, identity, { verifier: vault })),
        ),
        { numRuns: 300 },
      );
    });
  });
}
