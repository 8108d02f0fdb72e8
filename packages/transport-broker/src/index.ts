/**
 * `@ockam/transport-broker`: Kafka topics and RabbitMQ queues as hops of Ockam routes. The shared
 * transport is here; the broker adapters are `@ockam/transport-broker/kafka` (`KafkaBroker`) and
 * `@ockam/transport-broker/amqp` (`AmqpBroker`). See `broker-transport.ts` for the design.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { BrokerTransport } from '@ockam/transport-broker';
 * import { AmqpBroker } from '@ockam/transport-broker/amqp';
 * const node = new Node();
 * const amqp = new BrokerTransport(node, new AmqpBroker({ url: 'amqp://127.0.0.1:5672' }));
 * node.registerTransport(amqp);
 * const inbox = await amqp.listen('ockam.alice');
 * const reply = await node.client().request(['17#ockam.bob', 'echo'], new Uint8Array([1]));
 * ```
 */
export type { BrokerClient, BrokerDelivery, InboxSubscription, SubscribeOptions } from './broker-client.js';
export {
  BrokerConnection,
  type BrokerDropReason,
  BrokerListener,
  BrokerTransport,
  type BrokerTransportOptions,
  type BrokerTransportStats,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_QUEUED,
  DEFAULT_MAX_REPLY_SENDERS,
  DEFAULT_REPLY_IDLE_MS,
  DEFAULT_REPLY_PREFIX,
  MAX_CONNECTIONS,
  MAX_LISTENERS,
} from './broker-transport.js';
export { BrokerTransportError } from './errors.js';
