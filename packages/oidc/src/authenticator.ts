/**
 * The authority's `oidc` service: people enrol with an ID token from the project's OpenID
 * provider. Callers come through a secure channel (their identifier is known); requests:
 * - `GET /`: the settings a login needs (issuer, client id, scopes);
 * - `POST /nonce`: a fresh nonce bound to the caller (see `NonceBook`);
 * - `POST /enroll` with `{1: id_token}`: the token is checked — size first (16 KiB), then issuer
 *   and audience (reported as such), then `jose.jwtVerify` against the issuer's JWKS (signature,
 *   `iss`, `aud` = client id, `exp`/`nbf`/`iat` with 5 s tolerance, asymmetric algorithms only),
 *   then the nonce — and the caller becomes a member with the mapped claims as attributes until
 *   the token expires. Refusals answer 403 `REASON: detail` and are logged without the token.
 *
 * @example
 * ```ts
 * const oidc = await startOidcAuthenticator(node, {
 *   config: { issuer: 'https://login.example.com', clientId: 'ockam', claims: [{ claim: 'groups', attribute: 'groups' }] },
 *   members, authority: authorityIdentity.identifier, flowControlId: listener.flowControlId,
 * });
 * ```
 */
import {
  DEFAULT_REFUSAL_LOG_INTERVAL_MS,
  type FlowControlId,
  type Logger,
  LogLimiter,
  type Node,
  noopLogger,
} from '@ockam/core';
import { type ApiRequest, apiServiceWorker, type MemberStore, type RequestHeader } from '@ockam/credentials';
import { encodeApiError, encodeApiResponse } from '@ockam/credentials/codec';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  customFetch as joseCustomFetch,
  jwtVerify,
} from 'jose';
import * as oidc from 'openid-client';
import { boundedFetch } from './bounded-fetch.js';
import { attributesFromClaims } from './claims.js';
import {
  decodeEnroll,
  encodeEnrolled,
  encodeNonce,
  encodeSettings,
  MAX_ID_TOKEN_LENGTH,
  OIDC_SERVICE,
} from './messages.js';
import { NonceBook, type NonceLimits, RateLimiter } from './nonces.js';
import { checkOidcConfig, defaultScopes, isLoopbackHost, type OidcConfig } from './oidc-config.js';
import { OidcRefusal } from './oidc-error.js';

/** Asymmetric signature algorithms only: never `none`, never HS* (whose key would be public JWKS bytes). */
export const ALLOWED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** Seconds of clock difference allowed with the provider for `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_SECONDS = 5;

export interface OidcAuthenticatorOptions {
  config: OidcConfig;
  members: MemberStore;
  /** The authority's identifier: who members added here are "added by". */
  authority: string;
  flowControlId?: FlowControlId | readonly FlowControlId[];
  /** Nonce lifetime and bounds (defaults: 600 s, 4 per caller, 10 000 in total). */
  nonces?: Partial<NonceLimits>;
  /** Requests per caller per minute (default 30). */
  requestsPerMinute?: number;
  /** Milliseconds for discovery and JWKS requests (default 5000). */
  fetchTimeoutMs?: number;
  /** The longest membership a token gives, in seconds (default: until the token expires). */
  maxMembershipSeconds?: number;
  logger?: Logger;
}

export interface OidcAuthenticator {
  readonly address: string;
  stop(): Promise<void>;
}

type Keys = ReturnType<typeof createRemoteJWKSet>;

/** After a failed discovery, how long requests are refused before the provider is asked again. */
const DISCOVERY_RETRY_MS = 10_000;

/** Discovery and keys, fetched on first use (the authority starts when the provider is down). */
class Provider {
  #keys: Promise<Keys> | undefined;
  /** After a failed discovery: refused until then, so a provider that is down is not asked (and callers not held for the fetch timeout) at every request. */
  #failure: { until: number; refusal: OidcRefusal } | undefined;

  constructor(
    readonly config: OidcConfig,
    readonly timeoutMs: number,
  ) {}

  keys(): Promise<Keys> {
    if (this.#keys === undefined && this.#failure !== undefined && Date.now() < this.#failure.until)
      return Promise.reject(this.#failure.refusal);
    this.#keys ??= this.#discover().catch((e) => {
      const refusal = new OidcRefusal(
        'issuer-unreachable',
        `cannot read the issuer's discovery document: ${(e as Error).message}`,
        { cause: e },
      );
      this.#keys = undefined;
      this.#failure = { until: Date.now() + DISCOVERY_RETRY_MS, refusal };
      throw refusal;
    });
    return this.#keys;
  }

  async #discover(): Promise<Keys> {
    const fetcher = boundedFetch({ timeoutMs: this.timeoutMs });
    const issuer = new URL(this.config.issuer);
    const configuration = await oidc.discovery(issuer, this.config.clientId, undefined, oidc.None(), {
      [oidc.customFetch]: fetcher,
      timeout: Math.ceil(this.timeoutMs / 1000),
      ...(isLoopbackHost(issuer.hostname) ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
    const jwksUri = configuration.serverMetadata().jwks_uri;
    if (jwksUri === undefined) throw new Error('the discovery document has no jwks_uri');
    const url = new URL(jwksUri);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
      throw new Error(`jwks_uri ${url.origin} must use https`);
    return createRemoteJWKSet(url, {
      timeoutDuration: this.timeoutMs,
      // A token signed by an unknown key refetches the set at most every 30 s.
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      [joseCustomFetch]: fetcher,
    });
  }
}

class Service {
  readonly #o: OidcAuthenticatorOptions;
  readonly #config: OidcConfig;
  readonly #nonces: NonceBook;
  readonly #limiter: RateLimiter;
  readonly #provider: Provider;
  /** Refusals are caused at will by anyone with an identity: one line per reason per 10 s, then a count. */
  readonly #refusals: LogLimiter;
  readonly logger: Logger;

  constructor(o: OidcAuthenticatorOptions) {
    this.#o = o;
    this.#config = checkOidcConfig(o.config);
    this.#nonces = new NonceBook(o.nonces);
    this.#limiter = new RateLimiter(o.requestsPerMinute ?? 30, 60);
    this.#provider = new Provider(this.#config, o.fetchTimeoutMs ?? 5000);
    this.logger = o.logger ?? noopLogger;
    this.#refusals = new LogLimiter(this.logger, { intervalMs: DEFAULT_REFUSAL_LOG_INTERVAL_MS });
  }

  async handle(from: string, req: ApiRequest): Promise<Uint8Array> {
    const { header } = req;
    try {
      this.#limiter.take(from);
      if (header.method === 'GET' && header.path === '/') {
        const c = this.#config;
        return encodeApiResponse(
          header.id,
          200,
          encodeSettings({
            issuer: c.issuer,
            clientId: c.clientId,
            scopes: c.scopes ?? defaultScopes(c.claims),
          }),
        );
      }
      if (header.method === 'POST' && header.path === '/nonce')
        return encodeApiResponse(header.id, 200, encodeNonce(this.#nonces.issue(from)));
      if (header.method === 'POST' && header.path === '/enroll')
        return await this.#enroll(from, header, req.body);
      return encodeApiError(
        header,
        404,
        `unknown path ${header.method ?? 'no method'} ${header.path.slice(0, 100)}`,
      );
    } catch (e) {
      if (!OidcRefusal.isReason(e)) throw e;
      // The reason and the caller; never the token.
      this.#refusals.warn(e.reason, 'OIDC enrolment refused', { from, reason: e.reason, error: e.message });
      return encodeApiError(header, e.reason === 'issuer-unreachable' ? 500 : 403, e.message);
    }
  }

  async #enroll(from: string, header: RequestHeader, body: Uint8Array | undefined): Promise<Uint8Array> {
    if (body === undefined) throw new OidcRefusal('malformed', 'the request has no body');
    if (body.length > MAX_ID_TOKEN_LENGTH + 16)
      throw new OidcRefusal('too-large', `the ID token is larger than ${MAX_ID_TOKEN_LENGTH} bytes`);
    const token = decodeEnroll(body);
    if (token.length > MAX_ID_TOKEN_LENGTH)
      throw new OidcRefusal('too-large', `the ID token is larger than ${MAX_ID_TOKEN_LENGTH} bytes`);
    const payload = await this.verify(token);
    const nonce = payload.nonce;
    if (typeof nonce !== 'string') throw new OidcRefusal('nonce-unknown', 'the ID token has no nonce');
    const attributes = attributesFromClaims(payload, this.#config.claims);
    const existing = await this.#o.members.getMember(from);
    if (existing !== undefined && (existing.preTrusted || existing.attributes.has('ockam-role')))
      throw new OidcRefusal(
        'not-allowed',
        'this identity is a member with other rights; it cannot enrol with a login',
      );
    this.#nonces.consume(from, nonce);
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp as number; // required by verify
    const expiresAt = Math.min(exp, now + (this.#o.maxMembershipSeconds ?? Number.MAX_SAFE_INTEGER));
    await this.#o.members.addMember({
      identifier: from,
      attributes,
      addedBy: this.#o.authority,
      addedAt: now,
      preTrusted: false,
      expiresAt,
    });
    this.logger.info('OIDC enrolment accepted', {
      member: from,
      subject: String(payload.sub).slice(0, 100),
      attributes: [...attributes.keys()].join(','),
      expiresAt,
    });
    return encodeApiResponse(header.id, 200, encodeEnrolled({ attributes, expiresAt }));
  }

  /** Verifies a token's signature and claims; refusals name the first check that failed. */
  async verify(token: string): Promise<JWTPayload> {
    const { issuer, clientId } = this.#config;
    let claims: JWTPayload;
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
      claims = decodeJwt(token);
    } catch (e) {
      throw new OidcRefusal('malformed', 'not a signed JWT', { cause: e });
    }
    // Read before the signature only to name the refusal; nothing is accepted until jwtVerify.
    if (claims.iss !== issuer)
      throw new OidcRefusal(
        'wrong-issuer',
        `the token is from ${JSON.stringify(String(claims.iss).slice(0, 200))}, not ${issuer}`,
      );
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(clientId))
      throw new OidcRefusal('wrong-audience', `the token is not for client ${clientId}`);
    // OpenID Connect Core §3.1.3.7 (4, 5): a token for several audiences names the party it was issued to.
    if (audiences.length > 1 && claims.azp !== clientId)
      throw new OidcRefusal(
        'wrong-audience',
        `the token has several audiences and was issued to another party`,
      );
    if (alg === undefined || !(ALLOWED_ALGORITHMS as readonly string[]).includes(alg))
      throw new OidcRefusal(
        'algorithm-not-allowed',
        `algorithm ${JSON.stringify(String(alg).slice(0, 20))} is not allowed`,
      );
    const keys = await this.#provider.keys();
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer,
        audience: clientId,
        algorithms: [...ALLOWED_ALGORITHMS],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub'],
      });
      if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS)
        throw new OidcRefusal('not-yet-valid', 'the token was issued in the future');
      return payload;
    } catch (e) {
      throw refusalOf(e);
    }
  }
}

function refusalOf(e: unknown): OidcRefusal {
  if (OidcRefusal.isReason(e)) return e;
  if (e instanceof errors.JWTExpired)
    return new OidcRefusal('expired', 'the token has expired', { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf' || e.claim === 'iat')
      return new OidcRefusal('not-yet-valid', `the token's ${e.claim} is in the future`, { cause: e });
    if (e.claim === 'iss') return new OidcRefusal('wrong-issuer', e.message, { cause: e });
    if (e.claim === 'aud') return new OidcRefusal('wrong-audience', e.message, { cause: e });
    return new OidcRefusal('claim-missing', e.message, { cause: e });
  }
  if (e instanceof errors.JOSEAlgNotAllowed)
    return new OidcRefusal('algorithm-not-allowed', e.message, { cause: e });
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey)
    return new OidcRefusal('bad-signature', e.message, { cause: e });
  if (e instanceof errors.JWKSTimeout) return new OidcRefusal('issuer-unreachable', e.message, { cause: e });
  if (e instanceof errors.JOSEError) return new OidcRefusal('malformed', e.message, { cause: e });
  return new OidcRefusal('issuer-unreachable', (e as Error).message ?? String(e), { cause: e });
}

/** Starts the `oidc` service on `node`. */
export async function startOidcAuthenticator(
  node: Node,
  options: OidcAuthenticatorOptions,
): Promise<OidcAuthenticator> {
  const service = new Service(options);
  const worker = apiServiceWorker(service.logger, OIDC_SERVICE, (from, req) => service.handle(from, req));
  node.startWorker(OIDC_SERVICE, worker);
  for (const id of [options.flowControlId ?? []].flat()) node.flowControls.addConsumer(OIDC_SERVICE, id);
  service.logger.info('OIDC authenticator started', {
    issuer: options.config.issuer,
    clientId: options.config.clientId,
  });
  return {
    address: OIDC_SERVICE,
    async stop() {
      await node.stopWorker(OIDC_SERVICE);
    },
  };
}
