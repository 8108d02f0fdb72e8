/**
 * `@ockam/node`: an Ockam node in your process. `createNode()` starts one and returns its typed
 * methods; `@ockam/node/control` holds the typed control API of the `ockam-node` daemon.
 *
 * @example
 * ```ts
 * import { createNode } from '@ockam/node';
 * const bob = await createNode({ name: 'bob' });
 * const alice = await createNode({ name: 'alice' });
 * const channel = await alice.createSecureChannel(bob.multiaddr);
 * const reply = await channel.request('echo', new TextEncoder().encode('hi'));
 * await Promise.all([alice.stop(), bob.stop()]);
 * ```
 */
export {
  BROKER_KINDS,
  type BrokerConnectionInfo,
  type BrokerKind,
  type BrokerListenerInfo,
  type BrokerOptions,
} from './brokers.js';
export { CleanupStack } from './cleanup.js';
export { type ClientNode, withClientNode } from './client-node.js';
export {
  decodeKafkaEncryptedContent,
  encodeKafkaEncryptedContent,
  type KafkaEncryptedContent,
  LOCAL_TRANSPORT_TYPE,
} from './kafka-encrypted-content.js';
export {
  CONSUMER_RELAY_PREFIX,
  type ConsumerPublishing,
  type ConsumerResolution,
  createKafkaKeyExchange,
  DEFAULT_KEY_EXCHANGE_TIMEOUT_MS,
  DEFAULT_MAX_DECRYPTORS_IN_MEMORY,
  DEFAULT_MAX_PERSISTED_DECRYPTORS,
  DEFAULT_MAX_PRODUCER_KEYS,
  DEFAULT_MAX_PUBLISHED_RELAYS,
  KafkaKeyError,
  type KafkaKeyErrorReason,
  KafkaKeyExchange,
  type KafkaKeyExchangeOptions,
  type KafkaKeyLimits,
  KEY_EXCHANGER_ADDRESS,
  singleNodeDestination,
  viaRelayDestination,
} from './kafka-keys.js';
export {
  DEFAULT_KAFKA_INLET_ADDRESS,
  DEFAULT_KAFKA_OUTLET_ADDRESS,
  defaultBrokersPortRange,
  KAFKA_OUTLET_BOOTSTRAP_ADDRESS,
  KAFKA_OUTLET_INTERCEPTOR_ADDRESS,
  type KafkaInletConfig,
  type KafkaInletInfo,
  type KafkaOutletConfig,
  type KafkaOutletInfo,
  type KafkaServiceStatus,
  kafkaOutletAddress,
  parsePortRange,
} from './kafka-services.js';
export type { Metric } from './metrics.js';
export {
  createNode,
  MAX_EXTRA_TCP_LISTENERS,
  MAX_STARTED_SERVICES,
  type NodeOptions,
  type NodeStatus,
  type OckamNode,
  type PolicyList,
  type PolicyTarget,
  type RequestOptions,
  SERVICE_KINDS,
  type SecureChannelHandle,
  type ServiceInfo,
  type ServiceKind,
  type TcpConnectionInfo,
  type TcpListenerInfo,
  type TcpOptions,
  type TrustInfo,
  type WebSocketOptions,
} from './node.js';
export type {
  InletConfig,
  InletInfo,
  OutletConfig,
  OutletInfo,
  RelayConfig,
  RelayInfo,
  RelayLimits,
} from './portals.js';
export {
  type RendezvousServer,
  type RendezvousServerOptions,
  rendezvousGetMyAddress,
  startRendezvousServer,
} from './rendezvous-server.js';
export { buildRoute, type ResolveOptions, type RouteBuilder } from './route-resolver.js';
export {
  type ChannelInfo,
  HANDSHAKE_LIMIT_VARIABLES,
  type HandshakeLimits,
  handshakeLimitsFromEnv,
  type ListenerInfo,
} from './secure-channels.js';
export { TRANSPORT_LIMIT_ENV, transportLimitsFromEnv } from './transport-limits.js';
export type { TrustConfig, TrustOptions } from './trust.js';
export type { UdpOptions } from './udp.js';
