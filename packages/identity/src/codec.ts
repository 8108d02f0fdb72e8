/**
 * `@ockam/identity/codec`: the CBOR encodings of identities (change histories), purpose key
 * attestations, credentials and the versioned data that signs them, as they travel between nodes.
 * A program that creates, imports and verifies identities needs none of these
 * (`importIdentity`, `createPurposeKey`, `Identity#export` do the encoding); they are here for
 * tests, fuzzers, tooling and the packages that build credentials.
 *
 * @example
 * ```ts
 * import { decodeChangeHistory, encodeChangeHistory } from '@ockam/identity/codec';
 * const changes = decodeChangeHistory(bytes); // throws an IdentityError on malformed CBOR
 * const again = encodeChangeHistory(changes);
 * ```
 */
export {
  decodeChange,
  decodeChangeData,
  decodeChangeHistory,
  encodeChange,
  encodeChangeData,
  encodeChangeHistory,
  readChange,
  readChangeData,
  readChangeHistory,
  writeChange,
  writeChangeData,
  writeChangeHistory,
} from './change-history.js';
export {
  decodeAttributes,
  decodeCredential,
  decodeCredentialAndPurposeKey,
  decodeCredentialData,
  encodeAttributes,
  encodeCredential,
  encodeCredentialAndPurposeKey,
  encodeCredentialData,
  readAttributes,
  readCredential,
  readCredentialAndPurposeKey,
  readCredentialData,
  writeAttributes,
  writeCredential,
  writeCredentialAndPurposeKey,
  writeCredentialData,
} from './credential.js';
export {
  decodePurposeKeyAttestation,
  decodePurposeKeyAttestationData,
  encodePurposeKeyAttestation,
  encodePurposeKeyAttestationData,
  readPurposeKeyAttestation,
  readPurposeKeyAttestationData,
  readPurposePublicKey,
  writePurposeKeyAttestation,
  writePurposeKeyAttestationData,
  writePurposePublicKey,
} from './purpose-key-attestation.js';
export {
  CHANGE_DATA_TYPE,
  CREDENTIAL_DATA_TYPE,
  decodeVersionedData,
  encodeVersionedData,
  PURPOSE_KEY_DATA_TYPE,
  readVersionedData,
  VERSIONED_DATA_VERSION,
  type VersionedData,
  writeVersionedData,
} from './versioned-data.js';
