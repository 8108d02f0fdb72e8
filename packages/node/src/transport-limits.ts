/**
 * The limits on what peers of the node's TCP and WebSocket listeners may hold (core's
 * `InboundLimits`), as an operator changes them: environment variables read when the node
 * starts, each a whole number (0 turns a timeout off). Each transport applies them on its own:
 * the connection cap per listener, the byte budget per transport.
 *
 * | variable                                  | limit                    | default   |
 * | ----------------------------------------- | ------------------------ | --------- |
 * | `OCKAM_TRANSPORT_MAX_CONNECTIONS`         | connections per listener | 1024      |
 * | `OCKAM_TRANSPORT_MAX_BUFFERED_BYTES`      | bytes held for peers     | 67108864  |
 * | `OCKAM_TRANSPORT_CONNECTION_ALLOWANCE_BYTES` | bytes each connection holds outside that budget | 65536 |
 * | `OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS`    | version byte / upgrade   | 10000     |
 * | `OCKAM_TRANSPORT_FRAME_TIMEOUT_MS`        | one started frame        | 60000     |
 * | `OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS`| first message, accepted connections | 120000 |
 *
 * @example
 * ```ts
 * transportLimitsFromEnv({ OCKAM_TRANSPORT_MAX_CONNECTIONS: '4096' }); // { maxConnections: 4096 }
 * ```
 */
import { type InboundLimits, type InboundLimitsOptions, inboundLimits, OckamError } from '@ockam/core';

/** The environment variable of each limit. */
export const TRANSPORT_LIMIT_ENV: Readonly<Record<keyof InboundLimits, string>> = {
  maxConnections: 'OCKAM_TRANSPORT_MAX_CONNECTIONS',
  maxBufferedBytes: 'OCKAM_TRANSPORT_MAX_BUFFERED_BYTES',
  connectionAllowanceBytes: 'OCKAM_TRANSPORT_CONNECTION_ALLOWANCE_BYTES',
  handshakeTimeoutMs: 'OCKAM_TRANSPORT_HANDSHAKE_TIMEOUT_MS',
  frameTimeoutMs: 'OCKAM_TRANSPORT_FRAME_TIMEOUT_MS',
  firstMessageTimeoutMs: 'OCKAM_TRANSPORT_FIRST_MESSAGE_TIMEOUT_MS',
};

/** The limits set in `env`; throws an `OckamError` (`invalid`) naming a variable that is not a valid value. */
export function transportLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): InboundLimitsOptions {
  const limits: { -readonly [K in keyof InboundLimits]?: number } = {};
  for (const [key, name] of Object.entries(TRANSPORT_LIMIT_ENV) as Array<[keyof InboundLimits, string]>) {
    const text = env[name];
    if (text === undefined || text.trim() === '') continue;
    const value = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
    try {
      inboundLimits({ [key]: value });
    } catch (e) {
      throw new OckamError('node', 'invalid', `Invalid ${name} '${text}': ${(e as Error).message}`, {
        cause: e,
      });
    }
    limits[key] = value;
  }
  return limits;
}
