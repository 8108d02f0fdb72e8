/**
 * The OIDC add-on of a project: which issuer the authority trusts, the client id its ID tokens
 * must be issued to (their audience), the scopes a person's login asks for, and which claims
 * become member attributes. Stored with the project node's authority options (JSON).
 */
import { OckamError } from '@ockam/core';

export interface ClaimMapping {
  /** The ID token claim (`email`, `groups`, …). */
  readonly claim: string;
  /** The member attribute it becomes (the claim's name unless renamed). */
  readonly attribute: string;
}

export interface OidcConfig {
  /** The issuer URL, exactly as the provider's discovery document and its tokens' `iss` say. */
  readonly issuer: string;
  /** The OAuth client id: the device login's client and the tokens' required audience. */
  readonly clientId: string;
  readonly claims: readonly ClaimMapping[];
  /** Scopes of the device login (default: `openid` plus the mapped claims' usual scopes). */
  readonly scopes?: readonly string[];
}

/** Limits of a configuration (it is sent to every person who enrols). */
export const OIDC_CONFIG_LIMITS = { urlLength: 2048, clientIdLength: 256, claims: 32, scopes: 16 } as const;

/** Attribute names the authority gives itself: a provider's claims must never set them. */
const RESERVED_ATTRIBUTE = /^(ockam-|trust_context_id$)/;
/** As `ockam project ticket --attribute` names attributes. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Claim names: printable, no spaces (`https://example.com/groups` is a valid claim name). */
const CLAIM = /^[\x21-\x7e]{1,128}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;

function invalid(message: string): never {
  throw new OckamError('application', 'invalid', message);
}

/** Loopback hosts: the only ones an issuer may be reached at over plain http (tests, local providers). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Checks an issuer URL: https, or http on a loopback host; no credentials, query or fragment
 * (OpenID Connect Discovery §3 forbids the last two).
 */
export function checkIssuer(issuer: string): URL {
  if (typeof issuer !== 'string' || issuer.length > OIDC_CONFIG_LIMITS.urlLength)
    invalid(`The issuer must be a URL of at most ${OIDC_CONFIG_LIMITS.urlLength} characters`);
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return invalid(`The issuer ${JSON.stringify(issuer.slice(0, 100))} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
    invalid(`The issuer ${url.origin} must use https (plain http only on 127.0.0.1, localhost or ::1)`);
  if (url.username || url.password || url.search || url.hash)
    invalid('The issuer URL must not hold credentials, a query or a fragment');
  return url;
}

/** `CLAIM` or `CLAIM=ATTRIBUTE` (`--attribute-from-claim`). */
export function parseClaimMapping(text: string): ClaimMapping {
  const i = text.lastIndexOf('=');
  const [claim, attribute] = i < 0 ? [text, text] : [text.slice(0, i), text.slice(i + 1)];
  return checkClaimMapping({ claim, attribute });
}

function checkClaimMapping(m: ClaimMapping): ClaimMapping {
  if (!CLAIM.test(m.claim)) invalid(`Invalid claim name ${JSON.stringify(String(m.claim).slice(0, 100))}`);
  if (!NAME.test(m.attribute))
    invalid(
      `Invalid attribute name ${JSON.stringify(String(m.attribute).slice(0, 100))}: letters, digits, '_', '.' and '-', at most 64`,
    );
  if (RESERVED_ATTRIBUTE.test(m.attribute))
    invalid(`The attribute ${m.attribute} is the authority's own; a claim cannot set it`);
  return { claim: m.claim, attribute: m.attribute };
}

/** The scopes a login asks for by default: `openid`, and `email`/`profile`/`groups` for those claims. */
export function defaultScopes(claims: readonly ClaimMapping[]): string[] {
  const scopes = new Set(['openid']);
  for (const { claim } of claims) {
    if (claim === 'email' || claim === 'email_verified') scopes.add('email');
    else if (claim === 'groups') scopes.add('groups');
    else if (['name', 'preferred_username', 'given_name', 'family_name'].includes(claim))
      scopes.add('profile');
  }
  return [...scopes];
}

/** Validates a configuration (from flags or from the state database): throws what is wrong. */
export function checkOidcConfig(value: unknown): OidcConfig {
  if (typeof value !== 'object' || value === null) invalid('The OIDC configuration must be an object');
  const v = value as Record<string, unknown>;
  checkIssuer(v.issuer as string);
  const issuer = v.issuer as string;
  const clientId = v.clientId;
  if (
    typeof clientId !== 'string' ||
    clientId.length === 0 ||
    clientId.length > OIDC_CONFIG_LIMITS.clientIdLength ||
    !/^[\x20-\x7e]+$/.test(clientId)
  )
    invalid(`The client id must be 1 to ${OIDC_CONFIG_LIMITS.clientIdLength} printable ASCII characters`);
  if (!Array.isArray(v.claims) || v.claims.length > OIDC_CONFIG_LIMITS.claims)
    invalid(`Give at most ${OIDC_CONFIG_LIMITS.claims} claims to map`);
  const claims = (v.claims as ClaimMapping[]).map(checkClaimMapping);
  const attributes = new Set<string>();
  for (const { attribute } of claims) {
    if (attributes.has(attribute)) invalid(`Two claims map to the attribute ${attribute}`);
    attributes.add(attribute);
  }
  let scopes: string[] | undefined;
  if (v.scopes !== undefined) {
    if (!Array.isArray(v.scopes) || v.scopes.length > OIDC_CONFIG_LIMITS.scopes)
      invalid(`Give at most ${OIDC_CONFIG_LIMITS.scopes} scopes`);
    scopes = (v.scopes as unknown[]).map((s) =>
      typeof s === 'string' && SCOPE.test(s) ? s : invalid(`Invalid scope ${JSON.stringify(s)}`),
    );
    if (!scopes.includes('openid')) scopes.unshift('openid');
  }
  // The issuer as given, not normalised: a token's `iss` must equal it byte for byte.
  return {
    issuer,
    clientId,
    claims,
    ...(scopes ? { scopes } : {}),
  };
}
