/**
 * The CBOR bodies of the `oidc` service (ours; Ockam's Okta service speaks its own):
 * - Settings = `{1: issuer text, 2: client_id text, 3: [scope text]}` (`GET /`)
 * - Nonce = `{1: nonce text, 2: expires_at u64}` (`POST /nonce`)
 * - Enroll = `{1: id_token text}` (`POST /enroll`)
 * - Enrolled = `{1: map<text, text> attributes, 2: expires_at u64}`
 * Decoders are strict: integer keys at most once, unknown keys skipped, no trailing bytes.
 */
import { CborReader, CborWriter, DecodeError } from '@ockam/core';
import { readMapFields } from '@ockam/credentials/codec';

/** The authority's address of the `oidc` service. */
export const OIDC_SERVICE = 'oidc';

export interface OidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
}

export interface OidcNonce {
  readonly nonce: string;
  readonly expiresAt: number;
}

export interface OidcEnrolled {
  readonly attributes: ReadonlyMap<string, string>;
  /** Unix seconds: the membership ends with the ID token. */
  readonly expiresAt: number;
}

/** The largest ID token the authority reads; larger ones are refused before any parsing. */
export const MAX_ID_TOKEN_LENGTH = 16 * 1024;

function fields(bytes: Uint8Array, what: string, read: (r: CborReader, key: number) => boolean): void {
  const r = new CborReader(bytes, what);
  readMapFields(r, what, (key) => read(r, key));
  r.end();
}

function missing(what: string, field: string): never {
  throw new DecodeError(what, `missing ${field}`);
}

export function encodeSettings(s: OidcSettings): Uint8Array {
  const w = new CborWriter(256);
  w.map(3).uint(1).text(s.issuer).uint(2).text(s.clientId).uint(3).array(s.scopes.length);
  for (const scope of s.scopes) w.text(scope);
  return w.finish();
}

export function decodeSettings(bytes: Uint8Array): OidcSettings {
  let issuer: string | undefined;
  let clientId: string | undefined;
  let scopes: string[] | undefined;
  fields(bytes, 'OIDC settings', (r, key) => {
    if (key === 1) issuer = r.text();
    else if (key === 2) clientId = r.text();
    else if (key === 3) {
      const n = r.arrayOf(0, 16, 'scopes');
      scopes = [];
      for (let i = 0; i < n; i++) scopes.push(r.text());
    } else return false;
    return true;
  });
  if (issuer === undefined || clientId === undefined || scopes === undefined)
    return missing('OIDC settings', 'issuer, client id or scopes');
  return { issuer, clientId, scopes };
}

export function encodeNonce(n: OidcNonce): Uint8Array {
  return new CborWriter(96).map(2).uint(1).text(n.nonce).uint(2).uint(n.expiresAt).finish();
}

export function decodeNonce(bytes: Uint8Array): OidcNonce {
  let nonce: string | undefined;
  let expiresAt: number | undefined;
  fields(bytes, 'OIDC nonce', (r, key) => {
    if (key === 1) nonce = r.text();
    else if (key === 2) expiresAt = r.uint();
    else return false;
    return true;
  });
  if (nonce === undefined || expiresAt === undefined) return missing('OIDC nonce', 'nonce or expiry');
  return { nonce, expiresAt };
}

export function encodeEnroll(idToken: string): Uint8Array {
  return new CborWriter(idToken.length + 16).map(1).uint(1).text(idToken).finish();
}

/** The ID token of an Enroll body (its length is checked by the caller, before parsing it). */
export function decodeEnroll(bytes: Uint8Array): string {
  let token: string | undefined;
  fields(bytes, 'OIDC enroll', (r, key) => {
    if (key !== 1) return false;
    token = r.text();
    return true;
  });
  return token ?? missing('OIDC enroll', 'id_token');
}

export function encodeEnrolled(e: OidcEnrolled): Uint8Array {
  const w = new CborWriter(256);
  w.map(2).uint(1).map(e.attributes.size);
  for (const [k, v] of e.attributes) w.text(k).text(v);
  w.uint(2).uint(e.expiresAt);
  return w.finish();
}

export function decodeEnrolled(bytes: Uint8Array): OidcEnrolled {
  let attributes: Map<string, string> | undefined;
  let expiresAt: number | undefined;
  fields(bytes, 'OIDC enrolled', (r, key) => {
    if (key === 1) {
      const n = r.map();
      attributes = new Map();
      for (let i = 0; i < n; i++) attributes.set(r.text(), r.text());
    } else if (key === 2) expiresAt = r.uint();
    else return false;
    return true;
  });
  if (attributes === undefined || expiresAt === undefined)
    return missing('OIDC enrolled', 'attributes or expiry');
  return { attributes, expiresAt };
}
