import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fromHex, randomBytes, toHex, utf8 } from '@ockam/core';
import {
  attributesFromStrings,
  createIdentity,
  createPurposeKey,
  importIdentity,
  rotateIdentity,
} from '@ockam/identity';
import {
  decodeCredentialAndPurposeKey,
  decodePurposeKeyAttestationData,
  decodeVersionedData,
  encodeCredentialAndPurposeKey,
} from '@ockam/identity/codec';
import { decodeSecureChannelMessage } from '@ockam/secure-channel/codec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CredentialError,
  DEFAULT_CLI_CREDENTIAL_TTL,
  describeCredential,
  issueCredential,
  MAX_CLOCK_SKEW,
  verifyCredential,
  verifyCredentialWithPurposeKey,
} from '../src/index.js';
import { expectReason, makeIssuer, nowSeconds, signRaw } from './helpers.js';

describe('issueCredential and verifyCredential', () => {
  it('issue a credential that verifies, with its attributes, subject, issuer and 30-minute default validity', async () => {
    const issuer = await makeIssuer();
    const alice = await createIdentity(issuer.vault);
    const now = nowSeconds();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: alice,
      attributes: { 'ockam-role': 'member', binary: new Uint8Array([0xff, 0]) },
      now,
    });
    const v = verifyCredential(bytes, {
      trustedAuthorities: [issuer.identity],
      expectedSubject: alice.identifier,
      now,
    });
    expect(v.subject).toBe(alice.identifier);
    expect(v.issuer).toBe(issuer.identity.identifier);
    expect(v.schema).toBe(1);
    expect(v.createdAt).toBe(now);
    expect(v.expiresAt).toBe(now + DEFAULT_CLI_CREDENTIAL_TTL);
    expect([...v.attributes]).toEqual([['ockam-role', 'member']]);
    expect(v.data.attributes.entries).toHaveLength(2);
    expect(v.data.subjectLatestChangeHash).toEqual(alice.latestChangeHash);
    // Hex, decoded structures and an authority given as its change history work too.
    expect(
      verifyCredential(toHex(bytes), {
        trustedAuthorities: [{ changeHistory: issuer.identity.export() }],
        now,
      }).subject,
    ).toBe(alice.identifier);
    expect(
      verifyCredential(decodeCredentialAndPurposeKey(bytes), { trustedAuthorities: [issuer.identity], now })
        .subject,
    ).toBe(alice.identifier);
  });

  it('sign SHA-256 of the VersionedData with the purpose key, exactly as Ockam', async () => {
    const issuer = await makeIssuer();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: issuer.identity.identifier,
      attributes: {},
    });
    const { credential, purposeKeyAttestation } = decodeCredentialAndPurposeKey(bytes);
    const key = decodePurposeKeyAttestationData(
      decodeVersionedData(purposeKeyAttestation.data).data,
    ).publicKey;
    expect(
      issuer.vault.verify(
        { type: 'ed25519', bytes: key.bytes },
        issuer.vault.sha256(credential.data),
        credential.signature.bytes,
      ),
    ).toBe(true);
    expect(decodeVersionedData(credential.data)).toMatchObject({ version: 1, dataType: 3 });
  });

  it('refuse to issue what could not verify', async () => {
    const issuer = await makeIssuer({ ttl: 100 });
    const other = await makeIssuer();
    const base = {
      vault: issuer.vault,
      issuer: issuer.identity,
      subject: issuer.identity.identifier,
      attributes: {},
    };
    await expect(
      issueCredential({ ...base, purposeKey: issuer.purposeKey, ttlSeconds: 1000 }),
    ).rejects.toMatchObject({ reason: 'invalid-request' });
    await expect(issueCredential({ ...base, purposeKey: other.purposeKey })).rejects.toMatchObject({
      reason: 'invalid-request',
    });
    const sc = await createPurposeKey(issuer.vault, issuer.identity, 'secure-channel');
    await expect(issueCredential({ ...base, purposeKey: sc })).rejects.toMatchObject({
      reason: 'invalid-request',
    });
    await expect(issueCredential({ ...base, purposeKey: issuer.purposeKey, ttlSeconds: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('verification rules (PROTOCOL.md §5.1), each rejected with its reason', () => {
  it('malformed: bytes that are not a CredentialAndPurposeKey', () => {
    expectReason(() => verifyCredential(randomBytes(40), { trustedAuthorities: [] }), 'malformed');
    expectReason(() => verifyCredential('zz', { trustedAuthorities: [] }), 'malformed');
  });

  it('untrusted-issuer: a purpose key attested by an identity that is not trusted', async () => {
    const issuer = await makeIssuer();
    const other = await makeIssuer();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: other.identity.identifier,
      attributes: {},
    });
    const e = expectReason(
      () => verifyCredential(bytes, { trustedAuthorities: [other.identity] }),
      'untrusted-issuer',
    );
    expect(e.kind).toBe('permission');
    expectReason(() => verifyCredential(bytes, { trustedAuthorities: [] }), 'untrusted-issuer');
  });

  it('bad-purpose-key: an attestation that does not verify against the issuer', async () => {
    const issuer = await makeIssuer();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: issuer.identity.identifier,
      attributes: {},
    });
    // The issuer rotated its key: the attestation was made on an older change.
    const rotated = await rotateIdentity(issuer.vault, issuer.identity);
    const e = expectReason(
      () => verifyCredential(bytes, { trustedAuthorities: [rotated] }),
      'bad-purpose-key',
    );
    expect((e.cause as { reason: string }).reason).toBe('stale-change-hash');
    // A forged attestation signature.
    const cpk = decodeCredentialAndPurposeKey(bytes);
    const sig = cpk.purposeKeyAttestation.signature.bytes.slice();
    sig[0]! ^= 1;
    const forged = encodeCredentialAndPurposeKey({
      ...cpk,
      purposeKeyAttestation: { ...cpk.purposeKeyAttestation, signature: { type: 'ed25519', bytes: sig } },
    });
    expectReason(
      () => verifyCredential(forged, { trustedAuthorities: [issuer.identity] }),
      'bad-purpose-key',
    );
  });

  it('wrong-key-type: a credential "signed" by a secure-channel purpose key', async () => {
    const issuer = await makeIssuer();
    const sc = await createPurposeKey(issuer.vault, issuer.identity, 'secure-channel');
    const good = decodeCredentialAndPurposeKey(
      await issueCredential({
        ...issuer,
        issuer: issuer.identity,
        subject: issuer.identity.identifier,
        attributes: {},
      }),
    );
    const bytes = encodeCredentialAndPurposeKey({
      credential: good.credential,
      purposeKeyAttestation: sc.attestation,
    });
    expectReason(() => verifyCredential(bytes, { trustedAuthorities: [issuer.identity] }), 'wrong-key-type');
  });

  it('bad-signature: altered data or signature', async () => {
    const issuer = await makeIssuer();
    const cpk = decodeCredentialAndPurposeKey(
      await issueCredential({
        ...issuer,
        issuer: issuer.identity,
        subject: issuer.identity.identifier,
        attributes: { a: 'b' },
      }),
    );
    const data = cpk.credential.data.slice();
    data[data.length - 1]! ^= 1;
    const altered = encodeCredentialAndPurposeKey({ ...cpk, credential: { ...cpk.credential, data } });
    expectReason(() => verifyCredential(altered, { trustedAuthorities: [issuer.identity] }), 'bad-signature');
    const other = await makeIssuer();
    const foreign = decodeCredentialAndPurposeKey(
      await issueCredential({
        ...other,
        issuer: other.identity,
        subject: issuer.identity.identifier,
        attributes: {},
      }),
    );
    const swapped = encodeCredentialAndPurposeKey({
      ...cpk,
      credential: { ...cpk.credential, signature: foreign.credential.signature },
    });
    expectReason(() => verifyCredential(swapped, { trustedAuthorities: [issuer.identity] }), 'bad-signature');
  });

  it('missing-subject: credential data without a subject', async () => {
    const issuer = await makeIssuer();
    const now = nowSeconds();
    const bytes = await signRaw(issuer, {
      attributes: attributesFromStrings(1, {}),
      createdAt: now,
      expiresAt: now + 60,
    });
    expectReason(() => verifyCredential(bytes, { trustedAuthorities: [issuer.identity] }), 'missing-subject');
  });

  it('subject-mismatch: a credential about someone else', async () => {
    const issuer = await makeIssuer();
    const alice = await createIdentity(issuer.vault);
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: alice.identifier,
      attributes: {},
    });
    expectReason(
      () =>
        verifyCredential(bytes, {
          trustedAuthorities: [issuer.identity],
          expectedSubject: issuer.identity.identifier,
        }),
      'subject-mismatch',
    );
  });

  it('outside-purpose-key-window: a credential outliving its purpose key, or older than it', async () => {
    const now = nowSeconds();
    const issuer = await makeIssuer({ ttl: 3600, now });
    const subject = issuer.identity.identifier;
    const attributes = attributesFromStrings(1, {});
    const late = await signRaw(issuer, { subject, attributes, createdAt: now, expiresAt: now + 3601 });
    expectReason(
      () => verifyCredential(late, { trustedAuthorities: [issuer.identity], now }),
      'outside-purpose-key-window',
    );
    const early = await signRaw(issuer, { subject, attributes, createdAt: now - 1, expiresAt: now + 10 });
    expectReason(
      () => verifyCredential(early, { trustedAuthorities: [issuer.identity], now }),
      'outside-purpose-key-window',
    );
  });

  it('created-in-future: beyond 60 s of clock skew, and not within it', async () => {
    const issuer = await makeIssuer();
    const now = nowSeconds();
    const opts = { ...issuer, issuer: issuer.identity, subject: issuer.identity.identifier, attributes: {} };
    const ahead = await issueCredential({ ...opts, now: now + 100 });
    expectReason(
      () =>
        verifyCredential(ahead, {
          trustedAuthorities: [issuer.identity],
          now: now + 100 - MAX_CLOCK_SKEW - 1,
        }),
      'created-in-future',
    );
    expect(
      verifyCredential(ahead, { trustedAuthorities: [issuer.identity], now: now + 100 - MAX_CLOCK_SKEW })
        .createdAt,
    ).toBe(now + 100);
  });

  it('expired: valid through expires_at, rejected after', async () => {
    const issuer = await makeIssuer();
    const now = nowSeconds();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: issuer.identity.identifier,
      attributes: {},
      now,
      ttlSeconds: 30,
    });
    expect(verifyCredential(bytes, { trustedAuthorities: [issuer.identity], now: now + 30 }).expiresAt).toBe(
      now + 30,
    );
    expectReason(
      () => verifyCredential(bytes, { trustedAuthorities: [issuer.identity], now: now + 31 }),
      'expired',
    );
  });

  it('check the rules in order: a credential about someone else that also expired is a subject mismatch', async () => {
    const issuer = await makeIssuer();
    const now = nowSeconds();
    const alice = await createIdentity(issuer.vault);
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: alice.identifier,
      attributes: {},
      now,
      ttlSeconds: 30,
    });
    expectReason(
      () =>
        verifyCredential(bytes, {
          trustedAuthorities: [issuer.identity],
          expectedSubject: issuer.identity.identifier,
          now: now + 100,
        }),
      'subject-mismatch',
    );
  });
});

describe('the Rust RefreshCredentials fixture (PROTOCOL.md §14 item 8)', () => {
  const extra = JSON.parse(
    readFileSync(path.resolve(import.meta.dirname, '../../identity/test/vectors/ockam-extra.json'), 'utf8'),
  ) as {
    refresh_credentials: { hex: string; subject: string; issuer: string; credential_valid: [number, number] };
  };
  const fixture = extra.refresh_credentials;
  const message = decodeSecureChannelMessage(fromHex(fixture.hex));
  if (message.kind !== 'refresh-credentials') throw new Error('not a RefreshCredentials message');
  const cpk = decodeCredentialAndPurposeKey(message.credentials[0]!);
  const purposeKey = decodePurposeKeyAttestationData(
    decodeVersionedData(cpk.purposeKeyAttestation.data).data,
  );
  const [from, until] = fixture.credential_valid;

  it('verifies inside its 30 s window, with its subject, issuer and attributes', () => {
    expect(importIdentity(message.changeHistory).identifier).toBe(fixture.subject);
    expect(purposeKey.subject).toBe(fixture.issuer);
    for (const now of [from, from + 15, until]) {
      const v = verifyCredentialWithPurposeKey(cpk.credential, purposeKey, {
        now,
        expectedSubject: fixture.subject,
      });
      expect(v.subject).toBe(fixture.subject);
      expect(v.issuer).toBe(fixture.issuer);
      expect([v.createdAt, v.expiresAt]).toEqual([from, until]);
      expect(v.attributes.get('ockam-relay')).toBe('*');
      expect(v.attributes.get('ockam-role')).toBe('enroller');
      expect(v.attributes.has('project_id')).toBe(true);
      expect(v.attributes.has('trust_context_id')).toBe(true);
    }
  });

  it('fails as expired afterwards, and its issuer is not trusted without its identity', () => {
    expectReason(
      () => verifyCredentialWithPurposeKey(cpk.credential, purposeKey, { now: until + 1 }),
      'expired',
    );
    expectReason(
      () =>
        verifyCredentialWithPurposeKey(cpk.credential, purposeKey, {
          now: from,
          expectedSubject: fixture.issuer,
        }),
      'subject-mismatch',
    );
    expectReason(
      () =>
        verifyCredential(message.credentials[0]!, {
          trustedAuthorities: [importIdentity(message.changeHistory)],
          now: from,
        }),
      'untrusted-issuer',
    );
  });
});

describe('verifyCredential on random input', () => {
  it('throws only CredentialErrors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          verifyCredential(bytes, { trustedAuthorities: [] });
        } catch (e) {
          if (!CredentialError.isReason(e)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
    expect(utf8('x')).toHaveLength(1);
  });
});

describe('describeCredential', () => {
  it('reads subject, issuer, attributes and window without verifying, and refuses bytes that are no credential', async () => {
    const issuer = await makeIssuer();
    const alice = await createIdentity(issuer.vault);
    const now = nowSeconds();
    const bytes = await issueCredential({
      ...issuer,
      issuer: issuer.identity,
      subject: alice,
      attributes: { city: 'New York' },
      ttlSeconds: 60,
      now,
    });
    const d = describeCredential(toHex(bytes));
    expect(d).toEqual({
      subject: alice.identifier,
      issuer: issuer.identity.identifier,
      attributes: new Map([['city', 'New York']]),
      createdAt: now,
      expiresAt: now + 60,
    });
    expectReason(() => describeCredential(fromHex('aabbcc', 'bad')), 'malformed');
  });
});
