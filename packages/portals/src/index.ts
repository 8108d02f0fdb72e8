/**
 * `@ockam/portals`: Ockam TCP portals and relays, wire-compatible with Ockam Rust
 * (PROTOCOL.md §7, §8).
 *
 * - `createOutlet` / `createInlet`: carry TCP connections over any Ockam route (PROTOCOL.md §7);
 * - `startRelayService` / `createRelay`: reach a node that accepts no connections through a relay
 *   node (PROTOCOL.md §8);
 * - `startInletInterceptor` / `startOutletInterceptor`: a hop inside a portal route that rewrites
 *   each connection's bytes (Ockam's portal interceptors, KAFKA.md §1.2);
 * - `Session`: watches a route with pings and rebuilds it with back-off (PROTOCOL.md §7.4);
 * - `encodePortalMessage` / `decodePortalMessage`: the portal wire messages.
 *
 * @example
 * ```ts
 * import { Node, startEcho } from '@ockam/core';
 * import { createInlet, createOutlet } from '@ockam/portals';
 * const node = new Node();
 * const outlet = createOutlet(node, { to: '127.0.0.1:8080' });
 * const inlet = await createInlet(node, { bind: '127.0.0.1:0', route: ['outlet'] });
 * // connect to inlet.address.port: it reaches 127.0.0.1:8080
 * await inlet.stop();
 * await outlet.stop();
 * ```
 */
export { PortalError } from './errors.js';
export {
  createInlet,
  DEFAULT_CONNECTION_WAIT_MS,
  DEFAULT_PONG_TIMEOUT_MS,
  type Inlet,
  type InletOptions,
  type InletStatus,
} from './inlet.js';
export {
  type ConnectionInterceptor,
  DEFAULT_MAX_INTERCEPTED_CONNECTIONS,
  type InterceptorOptions,
  type PortalInterceptor,
  startInletInterceptor,
  startOutletInterceptor,
} from './interceptor.js';
export {
  createOutlet,
  DEFAULT_LINGER_MS,
  DEFAULT_OUTLET_ADDRESS,
  DEFAULT_TARGET_CONNECT_TIMEOUT_MS,
  type HostPort,
  type Outlet,
  type OutletOptions,
  type OutletTlsOptions,
} from './outlet.js';
export {
  createRelay,
  DEFAULT_REGISTRATION_TIMEOUT_MS,
  DEFAULT_RELAY_NAME,
  type Relay,
  type RelayOptions,
  type RelayStatus,
} from './relay.js';
export {
  DEFAULT_MAX_RELAYS,
  DEFAULT_MAX_RELAYS_PER_REGISTRANT,
  DEFAULT_REFUSAL_LOG_INTERVAL_MS,
  RELAY_PREFIX,
  RELAY_REFUSED_PREFIX,
  RELAY_SERVICE,
  type RelayService,
  type RelayServiceOptions,
  STATIC_RELAY_SERVICE,
  startRelayService,
} from './relay-service.js';
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_MISSED_PINGS,
  DEFAULT_PING_INTERVAL_MS,
  DEFAULT_RETRY_INITIAL_MS,
  DEFAULT_RETRY_MAX_MS,
  type RouteConnection,
  type RouteConnector,
  Session,
  type SessionHooks,
  type SessionOptions,
  type SessionStats,
  type SessionStatus,
} from './session.js';
