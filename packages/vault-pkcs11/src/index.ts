/**
 * `@ockam/vault-pkcs11`: an Ockam vault's signing keys (Ed25519, P-256) generated and used inside a
 * PKCS#11 token: an HSM, a smart card, SoftHSM2. X25519 keys and secure-channel secrets stay in the
 * software vault (see `createExternalVault` in `@ockam/vault`).
 */
export {
  openSigningKeyBackend,
  PIN_ENV,
  type Pkcs11Config,
  REQUIRED_MECHANISMS,
  vaultPinEnv,
} from './backend.js';
