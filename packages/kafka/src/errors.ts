/**
 * Errors of `@ockam/kafka`. A `KafkaInterceptError` is an `OckamError` with origin `kafka`:
 * recognise it across package copies with `OckamError.isKind(e, kind, 'kafka')`.
 *
 * Kinds: `protocol` (bytes that are not the Kafka protocol, a response that answers no request),
 * `serialization` (a message that cannot be decoded at its version), `unsupported` (an api key
 * or version this interceptor cannot handle, LeaderAndIsr/UpdateMetadata), `resource` (a frame
 * over the size limit, too many requests in flight), `invalid` (a hook failed).
 *
 * Every such error is fatal for the connection it came from: the caller closes both sides.
 */
import { type ErrorKind, OckamError, type OckamErrorOptions } from '@ockam/core';

export class KafkaInterceptError extends OckamError {
  constructor(kind: ErrorKind, message: string, options?: OckamErrorOptions) {
    super('kafka', kind, message, options);
  }
}
