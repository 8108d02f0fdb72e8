/**
 * Calling the authority services (PROTOCOL.md §5.2) through a secure channel: `via` is the route
 * up to the authority node (usually `[channel.encryptorAddress]`); the service address is
 * appended. The client's address must be a consumer of the channel's flow-control id.
 *
 * @example
 * ```ts
 * const via = [channel.encryptorAddress];
 * const code = await createEnrollmentToken(client, via, { attributes: new Map([['component', 'db']]) });
 * // … on the enrolling node, through its own channel:
 * await presentEnrollmentToken(client2, via2, code);
 * const credential = await requestCredential(client2, via2);
 * ```
 */
import { type Client, type RouteLike, toRoute } from '@ockam/core';
import { type CallApiOptions, callApi } from './api.js';
import { AUTHORITY_SERVICES } from './authority.js';
import {
  decodeMemberEntry,
  decodeMemberIds,
  decodeMemberList,
  encodeAddMember,
  encodeCreateToken,
  type MemberEntry,
} from './authority-messages.js';
import { CredentialError } from './credential-error.js';
import { decodeOneTimeCode, encodeOneTimeCode } from './one-time-code.js';

function to(via: RouteLike, service: string) {
  return toRoute(via).append(service);
}

function required(body: Uint8Array | undefined, what: string): Uint8Array {
  if (body === undefined) throw new CredentialError('retrieval-failed', `the authority sent no ${what}`);
  return body;
}

/** `POST /` to `credential_issuer`: the caller's credential (CBOR CredentialAndPurposeKey), unverified. */
export async function requestCredential(
  client: Client,
  via: RouteLike,
  options?: CallApiOptions,
): Promise<Uint8Array> {
  return required(
    await callApi(client, to(via, AUTHORITY_SERVICES.credentialIssuer), 'POST', '/', undefined, options),
    'credential',
  );
}

/** `POST /` to `enrollment_token_acceptor`: become a member with the token's attributes. */
export async function presentEnrollmentToken(
  client: Client,
  via: RouteLike,
  oneTimeCode: Uint8Array,
  options?: CallApiOptions,
): Promise<void> {
  await callApi(
    client,
    to(via, AUTHORITY_SERVICES.enrollmentTokenAcceptor),
    'POST',
    '/',
    encodeOneTimeCode(oneTimeCode),
    options,
  );
}

/** `POST /` to `enrollment_token_issuer`: a one-time code for the given attributes. */
export async function createEnrollmentToken(
  client: Client,
  via: RouteLike,
  request: { attributes?: ReadonlyMap<string, string>; ttlSeconds?: number; ttlCount?: number } = {},
  options?: CallApiOptions,
): Promise<Uint8Array> {
  const body = encodeCreateToken({ ...request, attributes: request.attributes ?? new Map() });
  const reply = await callApi(
    client,
    to(via, AUTHORITY_SERVICES.enrollmentTokenIssuer),
    'POST',
    '/',
    body,
    options,
  );
  return decodeOneTimeCode(required(reply, 'one-time code'));
}

/** `POST /` to `direct_authenticator`: add (or replace) a member. */
export async function addMember(
  client: Client,
  via: RouteLike,
  member: string,
  attributes: ReadonlyMap<string, string> = new Map(),
  options?: CallApiOptions,
): Promise<void> {
  await callApi(
    client,
    to(via, AUTHORITY_SERVICES.directAuthenticator),
    'POST',
    '/',
    encodeAddMember({ member, attributes }),
    options,
  );
}

/** `GET /` on `direct_authenticator`: every member and its attributes. */
export async function listMembers(
  client: Client,
  via: RouteLike,
  options?: CallApiOptions,
): Promise<Map<string, MemberEntry>> {
  return decodeMemberList(
    required(
      await callApi(client, to(via, AUTHORITY_SERVICES.directAuthenticator), 'GET', '/', undefined, options),
      'member list',
    ),
  );
}

/** `GET /member_ids` on `direct_authenticator`. */
export async function listMemberIds(
  client: Client,
  via: RouteLike,
  options?: CallApiOptions,
): Promise<string[]> {
  return decodeMemberIds(
    required(
      await callApi(
        client,
        to(via, AUTHORITY_SERVICES.directAuthenticator),
        'GET',
        '/member_ids',
        undefined,
        options,
      ),
      'member ids',
    ),
  );
}

/** `GET /<id>` on `direct_authenticator`. */
export async function showMember(
  client: Client,
  via: RouteLike,
  member: string,
  options?: CallApiOptions,
): Promise<MemberEntry> {
  return decodeMemberEntry(
    required(
      await callApi(
        client,
        to(via, AUTHORITY_SERVICES.directAuthenticator),
        'GET',
        `/${member}`,
        undefined,
        options,
      ),
      'member',
    ),
  );
}

/** `DELETE /<id>` on `direct_authenticator`. */
export async function deleteMember(
  client: Client,
  via: RouteLike,
  member: string,
  options?: CallApiOptions,
): Promise<void> {
  await callApi(
    client,
    to(via, AUTHORITY_SERVICES.directAuthenticator),
    'DELETE',
    `/${member}`,
    undefined,
    options,
  );
}
