import { describe, expect, it } from 'vitest';
import { HANDSHAKE_LIMIT_VARIABLES, handshakeLimitsFromEnv } from '../src/secure-channels.js';

describe('handshake limits from the environment', () => {
  it('reads each OCKAM_SECURE_CHANNEL_* variable into its limit and leaves the others to the defaults', () => {
    expect(handshakeLimitsFromEnv({})).toEqual({});
    expect(
      handshakeLimitsFromEnv({
        OCKAM_SECURE_CHANNEL_HANDSHAKE_TIMEOUT_MS: '5000',
        OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES: '1024',
        OCKAM_SECURE_CHANNEL_MAX_PENDING_HANDSHAKES_PER_CONNECTION: '',
        OCKAM_SECURE_CHANNEL_MAX_PEER_IDENTITY_CHANGES: '4',
        OCKAM_SECURE_CHANNEL_MAX_CHANNELS: '10000',
        OCKAM_SECURE_CHANNEL_MAX_CHANNELS_PER_CONNECTION: '1000',
        OCKAM_SECURE_CHANNEL_IDLE_TIMEOUT_MS: '86400000',
      }),
    ).toEqual({
      timeoutMs: 5000,
      maxPendingHandshakes: 1024,
      maxPeerIdentityChanges: 4,
      maxChannels: 10_000,
      maxChannelsPerConnection: 1000,
      idleTimeoutMs: 86_400_000,
    });
    expect(Object.keys(HANDSHAKE_LIMIT_VARIABLES)).toHaveLength(8);
  });

  it('refuses a value that is not a whole number of at least 1, naming the variable', () => {
    for (const v of ['0', '-3', '1.5', 'ten', '1e400'])
      expect(() => handshakeLimitsFromEnv({ OCKAM_SECURE_CHANNEL_LOG_INTERVAL_MS: v })).toThrow(
        `Invalid OCKAM_SECURE_CHANNEL_LOG_INTERVAL_MS '${v}': a whole number ≥ 1`,
      );
  });
});
