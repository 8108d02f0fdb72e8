/**
 * Issuing credentials (PROTOCOL.md §5.1, Ockam's `credentials_creation.rs`): the issuer's
 * credential-signing purpose key signs SHA-256 of the VersionedData (type 3) that wraps the
 * CredentialData; the result travels with the key's attestation as a CredentialAndPurposeKey.
 *
 * @example
 * ```ts
 * import { createPurposeKey } from '@ockam/identity';
 * import { issueCredential } from '@ockam/credentials';
 * const purposeKey = await createPurposeKey(vault, authority, 'credential-signing');
 * const bytes = await issueCredential({ vault, issuer: authority, purposeKey, subject: alice.identifier,
 *   attributes: { 'ockam-role': 'member' } });
 * ```
 */
import { type SigningVault, utf8 } from '@ockam/core';
import {
  type Attributes,
  type CredentialData,
  type Identifier,
  type Identity,
  PROJECT_MEMBER_SCHEMA,
  type PurposeKey,
  parseIdentifier,
} from '@ockam/identity';
import {
  CREDENTIAL_DATA_TYPE,
  encodeCredentialAndPurposeKey,
  encodeCredentialData,
  encodeVersionedData,
  VERSIONED_DATA_VERSION,
} from '@ockam/identity/codec';
import { CredentialError } from './credential-error.js';

/** `ockam credential issue` default: 30 minutes. */
export const DEFAULT_CLI_CREDENTIAL_TTL = 30 * 60;
/** The authority's default (`DEFAULT_CREDENTIAL_VALIDITY`): 30 days. */
export const DEFAULT_AUTHORITY_CREDENTIAL_TTL = 30 * 24 * 60 * 60;

export type AttributeValues =
  | Readonly<Record<string, string | Uint8Array>>
  | ReadonlyMap<string, string | Uint8Array>;

export interface IssueCredentialOptions {
  /** Holds the purpose key's secret. */
  vault: SigningVault;
  issuer: Identity;
  /** The issuer's credential-signing purpose key (`createPurposeKey(vault, issuer, 'credential-signing')`). */
  purposeKey: PurposeKey;
  /** Who the credential is about; with an Identity, its latest change hash is recorded too. */
  subject: Identifier | Identity;
  /** Attribute names and values (strings are UTF-8 encoded), or prepared Attributes. */
  attributes: AttributeValues | Attributes;
  /** Schema of the attributes when given as values (default PROJECT_MEMBER_SCHEMA = 1). */
  schema?: number;
  /** Validity in seconds (default {@link DEFAULT_CLI_CREDENTIAL_TTL}). */
  ttlSeconds?: number;
  /** Unix seconds (default: the clock). */
  now?: number;
}

function isAttributes(value: unknown): value is Attributes {
  return (
    typeof value === 'object' &&
    value !== null &&
    'schema' in value &&
    'entries' in value &&
    Array.isArray((value as Attributes).entries)
  );
}

/** Attributes from names and values, as the credential will carry them. */
export function toAttributes(values: AttributeValues, schema: number = PROJECT_MEMBER_SCHEMA): Attributes {
  const pairs = values instanceof Map ? [...values] : Object.entries(values);
  const entries = pairs.map(
    ([k, v]) => [utf8(k), typeof v === 'string' ? utf8(v) : new Uint8Array(v)] as const,
  );
  return { schema, entries };
}

/**
 * Issues a credential; returns the CBOR of the CredentialAndPurposeKey (export it with `toHex`).
 * Throws a CredentialError (`invalid-request`) when the credential could not verify: a purpose
 * key of another purpose or identity, or a validity window outside the purpose key's.
 */
export async function issueCredential(options: IssueCredentialOptions): Promise<Uint8Array> {
  const { vault, issuer, purposeKey } = options;
  if (purposeKey.data.publicKey.purpose !== 'credential-signing')
    throw new CredentialError('invalid-request', 'the purpose key is not a credential-signing key');
  if (purposeKey.data.subject !== issuer.identifier)
    throw new CredentialError(
      'invalid-request',
      `the purpose key belongs to ${purposeKey.data.subject}, not the issuer ${issuer.identifier}`,
    );
  const ttl = options.ttlSeconds ?? DEFAULT_CLI_CREDENTIAL_TTL;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new RangeError('ttlSeconds must be a positive integer');
  const createdAt = options.now ?? Math.floor(Date.now() / 1000);
  const expiresAt = createdAt + ttl;
  if (createdAt < purposeKey.data.createdAt || expiresAt > purposeKey.data.expiresAt)
    throw new CredentialError(
      'invalid-request',
      `the credential window ${createdAt}..${expiresAt} must lie inside the purpose key's ${purposeKey.data.createdAt}..${purposeKey.data.expiresAt}`,
    );
  const subject =
    typeof options.subject === 'string' ? parseIdentifier(options.subject) : options.subject.identifier;
  const data: CredentialData = {
    subject,
    ...(typeof options.subject === 'string'
      ? {}
      : { subjectLatestChangeHash: options.subject.latestChangeHash }),
    attributes: isAttributes(options.attributes)
      ? options.attributes
      : toAttributes(options.attributes, options.schema ?? PROJECT_MEMBER_SCHEMA),
    createdAt,
    expiresAt,
  };
  const versioned = encodeVersionedData({
    version: VERSIONED_DATA_VERSION,
    dataType: CREDENTIAL_DATA_TYPE,
    data: encodeCredentialData(data),
  });
  const key = purposeKey.key;
  if (key.type !== 'ed25519' && key.type !== 'p256')
    throw new CredentialError('invalid-request', `a ${key.type} key cannot sign`);
  // Ockam signs SHA-256 of the VersionedData bytes (PROTOCOL.md §5.1).
  const signature = { type: key.type, bytes: await vault.sign(key, vault.sha256(versioned)) };
  return encodeCredentialAndPurposeKey({
    credential: { data: versioned, signature },
    purposeKeyAttestation: purposeKey.attestation,
  });
}
