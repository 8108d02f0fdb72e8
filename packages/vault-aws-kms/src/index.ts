/**
 * `@ockam/vault-aws-kms`: a vault's identity and credential signing keys in AWS KMS (P-256,
 * ECDSA_SHA_256), as Ockam's `ockam vault create --aws-kms`. `@ockam/state` loads it for a vault
 * created with `signingKeys: { kind: 'aws-kms' }`; the secure channel's X25519 keys stay in software.
 */
export {
  ALIAS_PREFIX,
  type AwsKmsSigningKeysConfig,
  openSigningKeyBackend,
  PENDING_DELETION_DAYS,
} from './aws-kms-backend.js';
