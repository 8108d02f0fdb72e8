/**
 * @ockam/credentials: Ockam credentials (PROTOCOL.md §5), wire-compatible with Ockam Rust —
 * issue and verify, verified-attribute storage for `@ockam/abac`, the authority services with
 * their member and token stores, the API framing they speak, a refreshing credential retriever,
 * and enrollment tickets.
 */
export {
  ApiError,
  type ApiErrorBody,
  type ApiRequest,
  type ApiResponse,
  type CallApiOptions,
  callApi,
  freshId,
  MAX_API_MESSAGE_SIZE,
  type Method,
  type RequestHeader,
  type ResponseHeader,
  type Status,
  sendApiRequest,
} from './api.js';
export {
  type AttributesEntry,
  type AttributesLookup,
  type AttributesStore,
  attributesEntryOf,
  MemoryAttributesStore,
  type PresentedCredentialsOptions,
  presentedCredentialsHandler,
} from './attributes-store.js';
export {
  type AccountAuthority,
  AUTHORITY_SERVICES,
  type Authority,
  type AuthorityOptions,
  apiServiceWorker,
  DEFAULT_TOKEN_TTL,
  DEFAULT_TOKEN_USES,
  ENROLLER,
  OCKAM_RELAY,
  OCKAM_ROLE,
  OCKAM_TLS_CERTIFICATE,
  startAuthority,
  TRUST_CONTEXT_ID,
} from './authority.js';
export {
  addMember,
  createEnrollmentToken,
  deleteMember,
  listMemberIds,
  listMembers,
  presentEnrollmentToken,
  requestCredential,
  showMember,
} from './authority-client.js';
export {
  type AddMemberRequest,
  type CreateTokenRequest,
  type MemberEntry,
  parseTrustedIdentities,
} from './authority-messages.js';
export { CredentialError, type CredentialErrorReason } from './credential-error.js';
export {
  type AuthorityConnection,
  type CredentialListener,
  CredentialRetriever,
  type CredentialRetrieverOptions,
  DEFAULT_CLOCK_SKEW_GAP,
  DEFAULT_MIN_REFRESH_INTERVAL_MS,
  DEFAULT_PROACTIVE_REFRESH_GAP,
  type RetrievedCredential,
  type RetrieverClock,
} from './credential-retriever.js';
export {
  decodeEnrollmentTicket,
  decodeProjectModel,
  defaultProjectRoute,
  type EnrollmentTicket,
  encodeEnrollmentTicket,
  encodeLegacyEnrollmentTicket,
  MAX_TICKET_LENGTH,
  type ProjectModel,
  ticketIdentities,
} from './enrollment-ticket.js';
export {
  type AttributeValues,
  DEFAULT_AUTHORITY_CREDENTIAL_TTL,
  DEFAULT_CLI_CREDENTIAL_TTL,
  type IssueCredentialOptions,
  issueCredential,
  toAttributes,
} from './issue-credential.js';
export { type Member, type MemberStore, MemoryMemberStore, memberPruneDue } from './member-store.js';
export {
  createOneTimeCode,
  ONE_TIME_CODE_LENGTH,
  oneTimeCodeFromText,
  oneTimeCodeToText,
} from './one-time-code.js';
export { type EnrollmentToken, MemoryTokenStore, type TokenStore } from './token-store.js';
export {
  attributesAsText,
  type CredentialDescription,
  describeCredential,
  MAX_CLOCK_SKEW,
  type TrustedAuthority,
  type VerifiedCredential,
  type VerifyCredentialOptions,
  verifyCredential,
  verifyCredentialWithPurposeKey,
} from './verify-credential.js';
