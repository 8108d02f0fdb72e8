/**
 * @ockam/oidc: people enrol in an Ockam project through an enterprise OpenID Connect provider.
 * The authority runs `startOidcAuthenticator` (ID tokens verified with `jose` against the
 * provider's JWKS, nonces bound to the caller, claims mapped to member attributes); a person's
 * command runs `enrollWithOidc` (device authorization grant with `openid-client`).
 */
export {
  ALLOWED_ALGORITHMS,
  CLOCK_TOLERANCE_SECONDS,
  type OidcAuthenticator,
  type OidcAuthenticatorOptions,
  startOidcAuthenticator,
} from './authenticator.js';
export { type BoundedFetchOptions, boundedFetch } from './bounded-fetch.js';
export { attributesFromClaims, CLAIM_LIMITS } from './claims.js';
export {
  type DeviceLoginOptions,
  type DevicePrompt,
  deviceLogin,
  type EnrollWithOidcOptions,
  enrollWithOidc,
  getOidcSettings,
  MAX_DEVICE_LOGIN_SECONDS,
  presentIdToken,
  requestOidcNonce,
} from './client.js';
export {
  MAX_ID_TOKEN_LENGTH,
  OIDC_SERVICE,
  type OidcEnrolled,
  type OidcNonce,
  type OidcSettings,
} from './messages.js';
export { DEFAULT_NONCE_LIMITS, NonceBook, type NonceLimits, RateLimiter } from './nonces.js';
export {
  type ClaimMapping,
  checkIssuer,
  checkOidcConfig,
  defaultScopes,
  isLoopbackHost,
  OIDC_CONFIG_LIMITS,
  type OidcConfig,
  parseClaimMapping,
} from './oidc-config.js';
export { OidcRefusal, type OidcRefusalReason } from './oidc-error.js';
