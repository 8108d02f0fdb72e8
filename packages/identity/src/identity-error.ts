import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

/**
 * Why an identity, change history or purpose key attestation was rejected (PROTOCOL.md §4.2, §4.3).
 */
export type IdentityErrorReason =
  /** The bytes are not a well-formed structure (the cause is a DecodeError). */
  | 'malformed'
  /** Valid CBOR followed by extra bytes. */
  | 'trailing-bytes'
  /** A change history with no change. */
  | 'empty-history'
  /** VersionedData with a version other than 1. */
  | 'unknown-version'
  /** VersionedData of another data type (a credential where a change was expected, say). */
  | 'wrong-data-type'
  /** The first change names a previous change. */
  | 'first-change-has-previous'
  /** A later change does not name the hash of the change before it. */
  | 'previous-change-mismatch'
  /** A change's version is lower than its predecessor's. */
  | 'version-decreased'
  /** A change's attestations_valid_from is earlier than its predecessor's. */
  | 'valid-from-decreased'
  /** A change's signature by its own primary key does not verify. */
  | 'bad-self-signature'
  /** A change after the first carries no signature by the previous primary key. */
  | 'missing-previous-signature'
  /** A change's signature by the previous primary key does not verify. */
  | 'bad-previous-signature'
  /** A signature's algorithm differs from the key's. */
  | 'signature-type-mismatch'
  /** An identifier string or bytes that are not an Ockam identifier, or that do not match. */
  | 'bad-identifier'
  /** A purpose key attestation about another identity. */
  | 'subject-mismatch'
  /** A purpose key attestation not made on the subject's latest change. */
  | 'stale-change-hash'
  /** A purpose key whose validity window is not inside the identity's attestation window. */
  | 'outside-identity-window'
  /** A purpose key created more than 60 s in the future. */
  | 'created-in-future'
  /** A purpose key past its expiry. */
  | 'expired'
  /** A purpose key attestation whose signature does not verify. */
  | 'bad-signature'
  /** A purpose key of another purpose than expected. */
  | 'wrong-purpose'
  /** The vault does not hold the identity's current primary key. */
  | 'key-not-found';

const KIND_BY_REASON: Partial<Record<IdentityErrorReason, ErrorKind>> = {
  malformed: 'serialization',
  'trailing-bytes': 'serialization',
  'key-not-found': 'not-found',
};

/**
 * An identity that cannot be used, with the reason. Recognise it with `IdentityError.is(e)` or
 * `OckamError.isKind(e, 'invalid', 'identity')`.
 */
export class IdentityError extends OckamError {
  readonly reason: IdentityErrorReason;

  constructor(reason: IdentityErrorReason, message: string, options?: OckamErrorOptions) {
    super('identity', KIND_BY_REASON[reason] ?? 'invalid', `${message} (${reason})`, options);
    this.reason = reason;
  }

  /** True for an IdentityError from any copy of this package, optionally with the given reason. */
  static isReason(value: unknown, reason?: IdentityErrorReason): value is IdentityError {
    return (
      OckamError.is(value) &&
      value.origin === 'identity' &&
      typeof (value as { reason?: unknown }).reason === 'string' &&
      (reason === undefined || (value as IdentityError).reason === reason)
    );
  }
}
