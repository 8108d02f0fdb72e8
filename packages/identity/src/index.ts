/**
 * @ockam/identity: Ockam identities, wire-compatible with Ockam Rust (PROTOCOL.md §4).
 *
 * An identity is a change history: each change holds a primary public key and is signed by it and,
 * after the first, by the previous key. The identifier is SHA-256 of the first change's data.
 * Purpose keys (a secure-channel X25519 key, a credential-signing key) are attested by the current
 * primary key.
 *
 * @example
 * ```ts
 * import { createVault } from '@ockam/vault';
 * import { createIdentity, createPurposeKey, importIdentity, rotateIdentity, verifyPurposeKeyAttestation } from '@ockam/identity';
 *
 * const vault = createVault();
 * const alice = await createIdentity(vault);                  // Ed25519 by default
 * const rotated = await rotateIdentity(vault, alice);         // same identifier, new key
 * const copy = importIdentity(rotated.export());              // verifies every change
 * const sc = await createPurposeKey(vault, rotated, 'secure-channel');
 * verifyPurposeKeyAttestation(sc.encoded, copy, { expectedPurpose: 'secure-channel' });
 * ```
 */
export type { Change, ChangeData, ChangeSignature, PrimaryPublicKey } from './change-history.js';
export {
  type CreateIdentityOptions,
  createIdentity,
  type RotateIdentityOptions,
  rotateIdentity,
} from './create-identity.js';
export {
  type Attributes,
  attributesFromStrings,
  attributesToStrings,
  type Credential,
  type CredentialAndPurposeKey,
  type CredentialData,
  PROJECT_MEMBER_SCHEMA,
} from './credential.js';
export {
  IDENTIFIER_LENGTH,
  type Identifier,
  identifierFromBytes,
  identifierToBytes,
  isIdentifier,
  parseIdentifier,
} from './identifier.js';
export {
  Identity,
  type ImportIdentityOptions,
  identityFromChanges,
  importIdentity,
  type SignatureVerifier,
  type VerifiedChange,
  verifyChanges,
} from './identity.js';
export { IdentityError, type IdentityErrorReason } from './identity-error.js';
export type { Signature, SignatureAlgorithm, SigningPublicKey } from './internal/cbor-helpers.js';
export { DEFAULT_IDENTITY_TTL, DEFAULT_PURPOSE_KEY_TTL, MAX_ALLOWED_TIME_DRIFT } from './internal/time.js';
export {
  type CreatePurposeKeyOptions,
  createPurposeKey,
  type PurposeKey,
  type VerifyPurposeKeyOptions,
  verifyPurposeKeyAttestation,
} from './purpose-key.js';
export type {
  Purpose,
  PurposeKeyAttestation,
  PurposeKeyAttestationData,
  PurposePublicKey,
} from './purpose-key-attestation.js';
export {
  type CachingVerifierOptions,
  cachingVerifier,
  DEFAULT_VERIFICATION_CACHE_ENTRIES,
  defaultVerifier,
  MAX_CACHED_MESSAGE,
} from './verification-cache.js';
