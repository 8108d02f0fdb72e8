/**
 * `@ockam/credentials/codec`: the CBOR encodings of the authority's API (request and response
 * headers, error bodies), of its member and token messages, and of one-time codes. `callApi`,
 * `startAuthority` and the `authority-client` functions do this encoding; these are for tests,
 * fuzzers and tooling that speak the wire protocol directly.
 *
 * @example
 * ```ts
 * import { decodeApiRequest, encodeApiRequest } from '@ockam/credentials/codec';
 * const bytes = encodeApiRequest('GET', '/members');
 * decodeApiRequest(bytes).header.path; // '/members'
 * ```
 */
export {
  decodeApiErrorBody,
  decodeApiRequest,
  decodeApiResponse,
  encodeApiError,
  encodeApiErrorBody,
  encodeApiRequest,
  encodeApiResponse,
} from './api.js';
export {
  decodeAddMember,
  decodeCreateToken,
  decodeMemberEntry,
  decodeMemberIds,
  decodeMemberList,
  encodeAddMember,
  encodeCreateToken,
  encodeMemberEntry,
  encodeMemberIds,
  encodeMemberList,
  readMapFields,
} from './authority-messages.js';
export { decodeOneTimeCode, encodeOneTimeCode } from './one-time-code.js';
