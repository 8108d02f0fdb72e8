import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

/**
 * Why the authority refused an ID token or a request of the `oidc` service. The reason is the
 * first word of the API error's message (`expired: …`), so a caller can tell them apart.
 */
export type OidcRefusalReason =
  | 'malformed'
  | 'too-large'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-issuer'
  | 'wrong-audience'
  | 'bad-signature'
  | 'algorithm-not-allowed'
  | 'nonce-unknown'
  | 'nonce-used'
  | 'claim-missing'
  | 'claim-invalid'
  | 'issuer-unreachable'
  | 'rate-limited'
  | 'busy'
  | 'not-allowed';

const KIND: Record<OidcRefusalReason, ErrorKind> = {
  malformed: 'invalid',
  'too-large': 'resource',
  expired: 'permission',
  'not-yet-valid': 'permission',
  'wrong-issuer': 'permission',
  'wrong-audience': 'permission',
  'bad-signature': 'permission',
  'algorithm-not-allowed': 'permission',
  'nonce-unknown': 'permission',
  'nonce-used': 'permission',
  'claim-missing': 'permission',
  'claim-invalid': 'permission',
  'issuer-unreachable': 'io',
  'rate-limited': 'resource',
  busy: 'resource',
  'not-allowed': 'permission',
};

/** A refusal of the `oidc` authenticator; its message starts with the reason. */
export class OidcRefusal extends OckamError {
  readonly reason: OidcRefusalReason;

  constructor(reason: OidcRefusalReason, detail: string, options?: OckamErrorOptions) {
    super('authorization', KIND[reason], `${reason}: ${detail}`, options);
    this.reason = reason;
  }

  static isReason(value: unknown, reason?: OidcRefusalReason): value is OidcRefusal {
    return (
      OckamError.is(value) &&
      value.name === 'OidcRefusal' &&
      (reason === undefined || (value as OidcRefusal).reason === reason)
    );
  }
}
