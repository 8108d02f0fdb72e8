import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

/** Why a policy expression was rejected or could not be evaluated (PROTOCOL.md §6). */
export type AbacErrorReason =
  /** The text is not a well-formed expression; `position` says where. */
  | 'syntax'
  /** An identifier that the environment does not bind. */
  | 'unbound'
  /** A list whose head names no operator. */
  | 'unknown-operator'
  /** An operand of the wrong type for its operator (`(not 1)`). */
  | 'invalid-type'
  /** Two values compared that are not of the same type (`(= 1 "1")`). */
  | 'type-mismatch'
  /** An operator with the wrong number of arguments. */
  | 'malformed'
  /** Evaluation that takes more steps than allowed (a cycle in the environment, say). */
  | 'too-complex'
  /** Legacy CBOR `Expr` bytes that do not decode. */
  | 'legacy-decode';

/** Where in a policy text an error was found. `line` and `column` count from 1, in code points. */
export interface SourcePosition {
  /** Offset in UTF-16 code units from the start of the text. */
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

const KIND: Record<AbacErrorReason, ErrorKind> = {
  syntax: 'invalid',
  unbound: 'not-found',
  'unknown-operator': 'invalid',
  'invalid-type': 'invalid',
  'type-mismatch': 'invalid',
  malformed: 'invalid',
  'too-complex': 'resource',
  'legacy-decode': 'serialization',
};

/**
 * A policy expression that does not parse or does not evaluate. Origin `authorization`; the kind
 * follows the reason. Recognise it across package copies with `AbacError.isReason(e)`.
 */
export class AbacError extends OckamError {
  readonly reason: AbacErrorReason;
  readonly position: SourcePosition | undefined;

  constructor(
    reason: AbacErrorReason,
    message: string,
    options?: OckamErrorOptions & { position?: SourcePosition },
  ) {
    super('authorization', KIND[reason], message, options);
    this.reason = reason;
    this.position = options?.position;
  }

  /** True for an AbacError from any copy of this package, optionally with the given reason. */
  static isReason(value: unknown, reason?: AbacErrorReason): value is AbacError {
    return (
      OckamError.is(value) &&
      value.origin === 'authorization' &&
      typeof (value as { reason?: unknown }).reason === 'string' &&
      (reason === undefined || (value as AbacError).reason === reason)
    );
  }
}
