/**
 * The error taxonomy shared by every Ockam package, after Ockam Rust's `ockam_core::Error`:
 * each error carries an `origin` (which layer failed) and a `kind` (what sort of failure).
 *
 * Errors are recognised across duplicate copies of this package (two versions installed side by
 * side) through a `Symbol.for` marker, so use `OckamError.is(e)` rather than `instanceof`.
 *
 * @example
 * ```ts
 * import { OckamError } from '@ockam/core';
 * try { decodeFrame(bytes); } catch (e) {
 *   if (OckamError.is(e) && e.kind === 'serialization') console.error(e.message);
 * }
 * ```
 */

export type ErrorOrigin =
  | 'core'
  | 'vault'
  | 'identity'
  | 'channel'
  | 'transport'
  | 'node'
  | 'authorization'
  | 'application'
  | 'api'
  | 'executor'
  /** Kafka-protocol interception (`@ockam/kafka`). */
  | 'kafka';

export type ErrorKind =
  | 'invalid'
  | 'not-found'
  | 'already-exists'
  | 'timeout'
  | 'protocol'
  | 'serialization'
  | 'unsupported'
  | 'io'
  | 'cancelled'
  | 'shutdown'
  | 'conflict'
  | 'permission'
  | 'resource'
  | 'internal';

const MARKER = Symbol.for('@ockam/core/error');

export interface OckamErrorOptions {
  cause?: unknown;
}

export class OckamError extends Error {
  readonly origin: ErrorOrigin;
  readonly kind: ErrorKind;
  readonly [MARKER] = true;

  constructor(origin: ErrorOrigin, kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.origin = origin;
    this.kind = kind;
    this.name = new.target.name;
  }

  /** True for any OckamError, including ones created by another copy of this package. */
  static is(value: unknown): value is OckamError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** True for an OckamError with the given kind (and origin, if given). */
  static isKind(value: unknown, kind: ErrorKind, origin?: ErrorOrigin): value is OckamError {
    return OckamError.is(value) && value.kind === kind && (origin === undefined || value.origin === origin);
  }
}

/** Bytes that cannot be decoded: wrong size, bad structure, trailing data. */
export class DecodeError extends OckamError {
  constructor(what: string, reason: string, options?: OckamErrorOptions) {
    super('core', 'serialization', `Cannot decode ${what}: ${reason}`, options);
  }
}

/** A route or address that cannot be used. */
export class RouteError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('core', kind, message, options);
  }
}

/** An operation that did not finish in time. */
export class TimeoutError extends OckamError {
  constructor(message: string, origin: ErrorOrigin = 'node', options?: OckamErrorOptions) {
    super(origin, 'timeout', message, options);
  }
}

/** An operation cancelled through its AbortSignal or by a shutdown. */
export class CancelledError extends OckamError {
  constructor(message = 'Operation cancelled', origin: ErrorOrigin = 'node', options?: OckamErrorOptions) {
    super(origin, 'cancelled', message, options);
  }
}

/** Throws a CancelledError if the signal is already aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'Operation'): void {
  if (signal?.aborted) throw new CancelledError(`${what} cancelled`, 'node', { cause: signal.reason });
}
