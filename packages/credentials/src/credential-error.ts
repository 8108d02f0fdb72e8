import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

/**
 * Why a credential, a ticket or an authority exchange was refused. The credential rules follow
 * PROTOCOL.md §5.1 in order.
 */
export type CredentialErrorReason =
  /** Bytes that are not a CredentialAndPurposeKey (or whose data is not a type-3 VersionedData). */
  | 'malformed'
  /** §5.1 rule 2: the purpose key is attested by an identity that is not a trusted authority. */
  | 'untrusted-issuer'
  /** §5.1 rule 1: the issuer's purpose key attestation does not verify (the cause says why). */
  | 'bad-purpose-key'
  /** §5.1 rule 3: the attested key is a secure-channel key, not a credential-signing key. */
  | 'wrong-key-type'
  /** §5.1 rule 4: the credential's signature does not verify with the attested key. */
  | 'bad-signature'
  /** §5.1 rule 5: the credential names no subject. */
  | 'missing-subject'
  /** §5.1 rule 6: the credential is about another identity than expected. */
  | 'subject-mismatch'
  /** §5.1 rule 7: the credential's window is not inside the purpose key's. */
  | 'outside-purpose-key-window'
  /** §5.1 rule 8: created more than 60 s in the future. */
  | 'created-in-future'
  /** §5.1 rule 9: past its expiry. */
  | 'expired'
  /** An enrollment ticket that cannot be read. */
  | 'invalid-ticket'
  /** Issuing with arguments that would make an unverifiable credential. */
  | 'invalid-request'
  /** A credential could not be obtained from the authority. */
  | 'retrieval-failed';

const KIND: Partial<Record<CredentialErrorReason, ErrorKind>> = {
  malformed: 'serialization',
  'invalid-ticket': 'serialization',
  'untrusted-issuer': 'permission',
  'retrieval-failed': 'io',
};

/**
 * A credential that cannot be used, or a credential operation that failed, with the reason.
 * Origin `identity`. Recognise it across package copies with `CredentialError.isReason(e)`.
 */
export class CredentialError extends OckamError {
  readonly reason: CredentialErrorReason;

  constructor(reason: CredentialErrorReason, message: string, options?: OckamErrorOptions) {
    super('identity', KIND[reason] ?? 'invalid', `${message} (${reason})`, options);
    this.reason = reason;
  }

  static isReason(value: unknown, reason?: CredentialErrorReason): value is CredentialError {
    return (
      OckamError.is(value) &&
      value.name === 'CredentialError' &&
      (reason === undefined || (value as CredentialError).reason === reason)
    );
  }
}
