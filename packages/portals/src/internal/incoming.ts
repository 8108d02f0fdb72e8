import type { IncomingAccessControl, LogLimiter, RoutedMessage } from '@ockam/core';
import { errorMessage } from './timers.js';

/**
 * `incoming` checked by a listener itself rather than by the router, so that a refusal can be
 * answered (a Disconnect to the inlet); an access control that fails refuses. `what` names the
 * listener in the (rate-limited) log line.
 */
export function incomingCheck(
  incoming: IncomingAccessControl | undefined,
  limiter: LogLimiter,
  what: string,
): (routed: RoutedMessage) => Promise<boolean> {
  return async (routed) => {
    if (incoming === undefined) return true;
    try {
      return await incoming.isAuthorized(routed);
    } catch (e) {
      limiter.warn('incoming-failed', `${what} access control failed; refusing`, { error: errorMessage(e) });
      return false;
    }
  };
}
