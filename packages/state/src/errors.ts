import { OckamError } from '@ockam/core';

/** An error of the node's state: a missing or clashing record, a refused value, a database fault. */
export class StateError extends OckamError {
  constructor(
    kind: 'not-found' | 'already-exists' | 'invalid' | 'io' | 'unsupported',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('node', kind, message, options);
  }
}
