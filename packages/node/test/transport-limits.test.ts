import { OckamError } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { transportLimitsFromEnv } from '../src/transport-limits.js';

describe('transport limits from the environment', () => {
  it('reads each OCKAM_TRANSPORT_ variable it is given and leaves the others to their defaults', () => {
    expect(transportLimitsFromEnv({})).toEqual({});
    expect(
      transportLimitsFromEnv({
        OCKAM_TRANSPORT_MAX_CONNECTIONS: '64',
        OCKAM_TRANSPORT_MAX_BUFFERED_BYTES: '8388608',
        OCKAM_TRANSPORT_FRAME_TIMEOUT_MS: ' 2000 ',
        OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS: '0',
        OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS: '',
      }),
    ).toEqual({
      maxConnections: 64,
      maxBufferedBytes: 8388608,
      frameTimeoutMs: 2000,
      firstMessageTimeoutMs: 0,
    });
  });

  it('refuses a value that is not a whole number in range, naming the variable', () => {
    for (const [name, value] of [
      ['OCKAM_TRANSPORT_MAX_CONNECTIONS', '0'],
      ['OCKAM_TRANSPORT_MAX_CONNECTIONS', '1e3'],
      ['OCKAM_TRANSPORT_FRAME_TIMEOUT_MS', '-5'],
      ['OCKAM_TRANSPORT_MAX_BUFFERED_BYTES', '64MiB'],
    ] as const) {
      expect(() => transportLimitsFromEnv({ [name]: value })).toThrow(
        new RegExp(`Invalid ${name} '${value}'`),
      );
      expect(() => transportLimitsFromEnv({ [name]: value })).toThrow(OckamError);
    }
  });
});
