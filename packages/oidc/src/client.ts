/**
 * The person's side of an OIDC enrolment, through a secure channel to the project's authority
 * (`via`, e.g. `[channel.encryptorAddress]`): ask the `oidc` service for its settings and a nonce,
 * run the OAuth 2.0 Device Authorization Grant (RFC 8628) with the provider, then present the ID
 * token. `enrollWithOidc` does all of it.
 *
 * @example
 * ```ts
 * const enrolled = await enrollWithOidc(client, [channel.encryptorAddress], {
 *   onPrompt: ({ verificationUri, userCode }) => console.error(`Open ${verificationUri} and enter ${userCode}`),
 * });
 * ```
 */
import { type Client, OckamError, type RouteLike, toRoute } from '@ockam/core';
import { type CallApiOptions, callApi } from '@ockam/credentials';
import * as oidc from 'openid-client';
import { boundedFetch } from './bounded-fetch.js';
import {
  decodeEnrolled,
  decodeNonce,
  decodeSettings,
  encodeEnroll,
  OIDC_SERVICE,
  type OidcEnrolled,
  type OidcNonce,
  type OidcSettings,
} from './messages.js';
import { checkIssuer, isLoopbackHost } from './oidc-config.js';
import { OidcRefusal } from './oidc-error.js';

function to(via: RouteLike) {
  return toRoute(via).append(OIDC_SERVICE);
}

function required(body: Uint8Array | undefined): Uint8Array {
  if (body === undefined) throw new OidcRefusal('malformed', 'the authority sent no body');
  return body;
}

/** `GET /`: the provider and client the authority trusts. */
export async function getOidcSettings(
  client: Client,
  via: RouteLike,
  options?: CallApiOptions,
): Promise<OidcSettings> {
  return decodeSettings(required(await callApi(client, to(via), 'GET', '/', undefined, options)));
}

/** `POST /nonce`: a nonce for one login of this identity. */
export async function requestOidcNonce(
  client: Client,
  via: RouteLike,
  options?: CallApiOptions,
): Promise<OidcNonce> {
  return decodeNonce(required(await callApi(client, to(via), 'POST', '/nonce', undefined, options)));
}

/** `POST /enroll`: become a member with an ID token; throws an `ApiError` whose message starts with the reason. */
export async function presentIdToken(
  client: Client,
  via: RouteLike,
  idToken: string,
  options?: CallApiOptions,
): Promise<OidcEnrolled> {
  return decodeEnrolled(
    required(await callApi(client, to(via), 'POST', '/enroll', encodeEnroll(idToken), options)),
  );
}

/** What a person is asked to do (RFC 8628 §3.3). */
export interface DevicePrompt {
  readonly verificationUri: string;
  readonly verificationUriComplete: string | undefined;
  readonly userCode: string;
  readonly expiresInSeconds: number;
}

export interface DeviceLoginOptions {
  issuer: string;
  clientId: string;
  scopes: readonly string[];
  nonce: string;
  /**
   * Shows the person where to log in. It may be asynchronous (opening a browser): its failure
   * ends the wait for the login.
   */
  onPrompt: (prompt: DevicePrompt) => void | Promise<void>;
  signal?: AbortSignal;
}

/** A URL from the provider that may be shown to a person: http(s), printable, at most 2048 characters. */
function printableUrl(value: string, what: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    value.length > 2048 ||
    !/^[\x21-\x7e]+$/.test(value)
  )
    throw new OidcRefusal('malformed', `the provider sent a ${what} that is not a printable web address`);
  return value;
}

/** The longest a device login may take, whatever the provider says (RFC 8628 suggests minutes). */
export const MAX_DEVICE_LOGIN_SECONDS = 30 * 60;

/**
 * Runs the device authorization grant and returns the ID token. Bounded by the device code's
 * `expires_in` (at most 30 min). Plain http only for loopback issuers.
 */
export async function deviceLogin(options: DeviceLoginOptions): Promise<string> {
  try {
    return await runDeviceLogin(options);
  } catch (e) {
    if (OckamError.is(e)) throw e;
    // openid-client's errors say "something went wrong" with the reason in their causes.
    throw new OckamError('api', 'io', `The login at ${options.issuer} failed: ${causes(e)}`, { cause: e });
  }
}

/** An error's message and its causes', joined (at most 4 deep, 500 characters). */
function causes(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, i = 0; c instanceof Error && i < 4; c = c.cause, i++) parts.push(c.message);
  return parts.join(': ').slice(0, 500);
}

async function runDeviceLogin(options: DeviceLoginOptions): Promise<string> {
  const issuer = checkIssuer(options.issuer);
  const config = await oidc.discovery(issuer, options.clientId, undefined, oidc.None(), {
    [oidc.customFetch]: boundedFetch(),
    timeout: 10,
    ...(isLoopbackHost(issuer.hostname) ? { execute: [oidc.allowInsecureRequests] } : {}),
  });
  // The nonce goes in the device authorization request; the provider puts it in the ID token.
  const response = await oidc.initiateDeviceAuthorization(config, {
    scope: options.scopes.join(' '),
    nonce: options.nonce,
  });
  const expiresIn = Math.min(Math.max(response.expires_in, 1), MAX_DEVICE_LOGIN_SECONDS);
  // These are printed on a person's terminal: no escape sequences, nothing but a web address.
  const verificationUri = printableUrl(response.verification_uri, 'verification_uri');
  const verificationUriComplete =
    response.verification_uri_complete === undefined
      ? undefined
      : printableUrl(response.verification_uri_complete, 'verification_uri_complete');
  if (!/^[\x21-\x7e]{1,64}$/.test(response.user_code))
    throw new OidcRefusal(
      'malformed',
      'the provider sent a user code that is not 1 to 64 printable characters',
    );
  const promptFailed = new AbortController();
  const prompted = Promise.resolve()
    .then(() =>
      options.onPrompt({
        verificationUri,
        verificationUriComplete,
        userCode: response.user_code,
        expiresInSeconds: expiresIn,
      }),
    )
    .catch((e: unknown) => {
      promptFailed.abort(e);
      throw e;
    });
  prompted.catch(() => {}); // awaited below; the abort above ends the polling first
  const signal = AbortSignal.any([
    AbortSignal.timeout(expiresIn * 1000),
    promptFailed.signal,
    ...(options.signal ? [options.signal] : []),
  ]);
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, response, undefined, { signal });
  await prompted;
  if (tokens.id_token === undefined)
    throw new OidcRefusal(
      'malformed',
      'the provider answered without an ID token (is the openid scope allowed?)',
    );
  return tokens.id_token;
}

export interface EnrollWithOidcOptions extends CallApiOptions {
  onPrompt: (prompt: DevicePrompt) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Settings, nonce, device login, ID token: the caller is a member when this resolves. */
export async function enrollWithOidc(
  client: Client,
  via: RouteLike,
  options: EnrollWithOidcOptions,
): Promise<OidcEnrolled> {
  const api = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  const settings = await getOidcSettings(client, via, api).catch((e: unknown) => {
    // Nothing answers at an authority without the add-on: say what is likely missing.
    if (OckamError.isKind(e, 'timeout'))
      throw new OckamError(
        'api',
        'timeout',
        "The project's authority did not answer on its oidc service: is the oidc add-on configured there ('ockam project addon configure oidc')?",
        { cause: e },
      );
    throw e;
  });
  const { nonce } = await requestOidcNonce(client, via, api);
  const idToken = await deviceLogin({
    issuer: settings.issuer,
    clientId: settings.clientId,
    scopes: settings.scopes,
    nonce,
    onPrompt: options.onPrompt,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return presentIdToken(client, via, idToken, api);
}
