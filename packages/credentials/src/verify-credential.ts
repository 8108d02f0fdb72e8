/**
 * Verifying credentials by every rule of PROTOCOL.md §5.1, in order (Ockam's
 * `credentials_verification.rs`); the error names the rule broken.
 *
 * @example
 * ```ts
 * import { verifyCredential } from '@ockam/credentials';
 * const verified = verifyCredential(bytes, { trustedAuthorities: [authority], expectedSubject: alice.identifier });
 * verified.attributes.get('ockam-role'); // 'member'
 * ```
 */
import { fromHex, OckamError } from '@ockam/core';
import {
  type Attributes,
  type Credential,
  type CredentialAndPurposeKey,
  type CredentialData,
  defaultVerifier,
  type Identifier,
  type Identity,
  IdentityError,
  importIdentity,
  type PurposeKeyAttestationData,
  type SignatureVerifier,
  verifyPurposeKeyAttestation,
} from '@ockam/identity';
import {
  CREDENTIAL_DATA_TYPE,
  decodeCredentialAndPurposeKey,
  decodeCredentialData,
  decodePurposeKeyAttestationData,
  decodeVersionedData,
  VERSIONED_DATA_VERSION,
} from '@ockam/identity/codec';
import { CredentialError } from './credential-error.js';

/** How far in the future `created_at` may be (§5.1 rule 8). */
export const MAX_CLOCK_SKEW = 60;

/** A trusted authority: a verified Identity, or its change history (hex or bytes) to import. */
export type TrustedAuthority =
  | Identity
  | { readonly changeHistory: string | Uint8Array; readonly identifier?: Identifier };

export interface VerifyCredentialOptions {
  trustedAuthorities: readonly TrustedAuthority[];
  /** The identity the credential must be about (§5.1 rule 6); checked when given. */
  expectedSubject?: Identifier;
  /** Unix seconds (default: the clock). */
  now?: number;
  /** Signature checks (default: `@ockam/identity`'s `defaultVerifier()`, shared by the process). */
  verifier?: SignatureVerifier;
}

export interface VerifiedCredential {
  readonly subject: Identifier;
  readonly issuer: Identifier;
  readonly schema: number;
  /** Attributes whose names and values are UTF-8 (others are in `data.attributes` only). */
  readonly attributes: ReadonlyMap<string, string>;
  /** Unix seconds. */
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly data: CredentialData;
  readonly purposeKey: PurposeKeyAttestationData;
  readonly credential: Credential;
}

const fatal = new TextDecoder('utf-8', { fatal: true });

/** Attribute names and values that are UTF-8, as strings. */
export function attributesAsText(attributes: Attributes): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of attributes.entries) {
    try {
      out.set(fatal.decode(k), fatal.decode(v));
    } catch {
      // Binary attributes are kept in the credential data only.
    }
  }
  return out;
}

function decodeInput(input: Uint8Array | string | CredentialAndPurposeKey): CredentialAndPurposeKey {
  if (typeof input === 'object' && !(input instanceof Uint8Array)) return input;
  try {
    return decodeCredentialAndPurposeKey(typeof input === 'string' ? fromHex(input, 'credential') : input);
  } catch (cause) {
    throw new CredentialError(
      'malformed',
      `not a credential: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

function resolveAuthority(authority: TrustedAuthority, verifier: SignatureVerifier): Identity {
  if ('identifier' in authority && 'changes' in authority) return authority as Identity;
  const a = authority as { changeHistory: string | Uint8Array; identifier?: Identifier };
  return importIdentity(
    a.changeHistory,
    verifier,
    a.identifier === undefined ? {} : { expectedIdentifier: a.identifier },
  );
}

/**
 * Verifies a CredentialAndPurposeKey (CBOR bytes, hex, or decoded) against trusted authorities,
 * by every rule of §5.1 in order:
 * 1–2. the issuer's purpose key attestation verifies, and its subject is a trusted authority
 *      (`untrusted-issuer` first here: without the issuer's identity nothing can be verified);
 * 3. the key is a credential-signing key (`wrong-key-type`);
 * 4. the signature over SHA-256 of the data verifies (`bad-signature`);
 * 5. the credential names a subject (`missing-subject`);
 * 6. the subject is `expectedSubject` (`subject-mismatch`);
 * 7. the credential window lies inside the purpose key window (`outside-purpose-key-window`);
 * 8. `created_at` is at most 60 s in the future (`created-in-future`);
 * 9. it has not expired (`expired`).
 */
export function verifyCredential(
  input: Uint8Array | string | CredentialAndPurposeKey,
  options: VerifyCredentialOptions,
): VerifiedCredential {
  const verifier = options.verifier ?? defaultVerifier();
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const cpk = decodeInput(input);

  let issuerId: Identifier;
  try {
    issuerId = decodePurposeKeyAttestationData(
      decodeVersionedData(cpk.purposeKeyAttestation.data).data,
    ).subject;
  } catch (cause) {
    throw new CredentialError('malformed', 'the purpose key attestation cannot be decoded', { cause });
  }
  const trusted = options.trustedAuthorities.map((a) => resolveAuthority(a, verifier));
  const issuer = trusted.find((a) => a.identifier === issuerId);
  if (issuer === undefined)
    throw new CredentialError(
      'untrusted-issuer',
      `the credential is issued by ${issuerId}, which is not a trusted authority (${trusted.map((a) => a.identifier).join(', ') || 'none'})`,
    );
  let purposeKey: PurposeKeyAttestationData;
  try {
    purposeKey = verifyPurposeKeyAttestation(cpk.purposeKeyAttestation, issuer, { now, verifier });
  } catch (cause) {
    if (IdentityError.isReason(cause) || OckamError.is(cause))
      throw new CredentialError(
        'bad-purpose-key',
        `the issuer's purpose key does not verify: ${(cause as Error).message}`,
        { cause },
      );
    throw cause;
  }
  return finish(cpk.credential, purposeKey, { ...options, now, verifier });
}

/**
 * Rules 3–9 of §5.1 for a credential whose issuer purpose key was verified elsewhere (or, in
 * tests, is taken on trust). Prefer {@link verifyCredential}.
 */
export function verifyCredentialWithPurposeKey(
  credential: Credential,
  purposeKey: PurposeKeyAttestationData,
  options: Omit<VerifyCredentialOptions, 'trustedAuthorities'> = {},
): VerifiedCredential {
  const verifier = options.verifier ?? defaultVerifier();
  const now = options.now ?? Math.floor(Date.now() / 1000);
  return finish(credential, purposeKey, { ...options, now, verifier });
}

function finish(
  credential: Credential,
  purposeKey: PurposeKeyAttestationData,
  options: { expectedSubject?: Identifier; now: number; verifier: SignatureVerifier },
): VerifiedCredential {
  const { now, verifier } = options;
  const key = purposeKey.publicKey;
  if (key.purpose !== 'credential-signing')
    throw new CredentialError(
      'wrong-key-type',
      'the attested key is a secure-channel key, not a credential-signing key',
    );
  if (
    credential.signature.type !== key.type ||
    !verifier.verify(
      { type: key.type, bytes: key.bytes },
      verifier.sha256(credential.data),
      credential.signature.bytes,
    )
  )
    throw new CredentialError(
      'bad-signature',
      "the credential's signature does not verify with the issuer's purpose key",
    );

  let data: CredentialData;
  try {
    const versioned = decodeVersionedData(credential.data);
    if (versioned.version !== VERSIONED_DATA_VERSION)
      throw new Error(`unknown VersionedData version ${versioned.version}`);
    if (versioned.dataType !== CREDENTIAL_DATA_TYPE)
      throw new Error(`data_type ${versioned.dataType} is not a credential`);
    data = decodeCredentialData(versioned.data);
  } catch (cause) {
    throw new CredentialError(
      'malformed',
      `the credential data cannot be decoded: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (data.subject === undefined)
    throw new CredentialError('missing-subject', 'the credential names no subject');
  if (options.expectedSubject !== undefined && data.subject !== options.expectedSubject)
    throw new CredentialError(
      'subject-mismatch',
      `the credential is about ${data.subject}, not ${options.expectedSubject}`,
    );
  if (data.createdAt < purposeKey.createdAt || data.expiresAt > purposeKey.expiresAt)
    throw new CredentialError(
      'outside-purpose-key-window',
      `the credential window ${data.createdAt}..${data.expiresAt} is not inside the purpose key's ${purposeKey.createdAt}..${purposeKey.expiresAt}`,
    );
  if (data.createdAt > now + MAX_CLOCK_SKEW)
    throw new CredentialError(
      'created-in-future',
      `created at ${data.createdAt}, more than ${MAX_CLOCK_SKEW} s after now (${now})`,
    );
  if (data.expiresAt < now)
    throw new CredentialError('expired', `the credential expired at ${data.expiresAt} (now ${now})`);
  return {
    subject: data.subject,
    issuer: purposeKey.subject,
    schema: data.attributes.schema,
    attributes: attributesAsText(data.attributes),
    createdAt: data.createdAt,
    expiresAt: data.expiresAt,
    data,
    purposeKey,
    credential,
  };
}

/** What a credential says, read without verifying it. */
export interface CredentialDescription {
  readonly subject: Identifier | undefined;
  /** The identifier the purpose key attestation names (unverified). */
  readonly issuer: Identifier;
  readonly attributes: ReadonlyMap<string, string>;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * Reads a credential's subject, issuer, attributes and window WITHOUT verifying anything: for
 * displaying credentials that were verified when they were stored (`ockam credential list`).
 * Never base a decision on it; use {@link verifyCredential}. Throws `malformed` on bad bytes.
 */
export function describeCredential(input: Uint8Array | string): CredentialDescription {
  const cpk = decodeInput(input);
  try {
    const issuer = decodePurposeKeyAttestationData(
      decodeVersionedData(cpk.purposeKeyAttestation.data).data,
    ).subject;
    const versioned = decodeVersionedData(cpk.credential.data);
    if (versioned.dataType !== CREDENTIAL_DATA_TYPE)
      throw new Error(`data_type ${versioned.dataType} is not a credential`);
    const data = decodeCredentialData(versioned.data);
    return {
      subject: data.subject,
      issuer,
      attributes: attributesAsText(data.attributes),
      createdAt: data.createdAt,
      expiresAt: data.expiresAt,
    };
  } catch (cause) {
    throw new CredentialError('malformed', `the credential cannot be decoded: ${(cause as Error).message}`, {
      cause,
    });
  }
}
