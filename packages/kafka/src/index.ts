/**
 * `@ockam/kafka`: the Kafka-protocol-aware interception that Ockam's kafka-inlet and kafka-outlet
 * do (KAFKA.md §1.3–1.7, §2.6–2.8), as pure TypeScript with injected hooks: no Ockam routing here.
 *
 * - `KafkaInletInterceptor`: beside a Kafka client; rewrites broker addresses in Metadata and
 *   FindCoordinator responses, encrypts Produce record values, decrypts Fetch responses, clamps
 *   ApiVersions to what it can decode.
 * - `KafkaOutletInterceptor`: beside the brokers; reports every broker a Metadata response lists.
 *
 * @example
 * ```ts
 * import { KafkaInletInterceptor } from '@ockam/kafka';
 * const inlet = new KafkaInletInterceptor(hooks, { encryptContent: true, encryptedFields: [] });
 * const conn = inlet.connection();
 * const { forward, reply } = await conn.request(bytesFromClient); // send forward on, reply back
 * const toClient = await conn.response(bytesFromBroker);
 * ```
 */
export { KafkaInterceptError } from './errors.js';
export { KafkaInletInterceptor } from './inlet.js';
export { KafkaOutletInterceptor } from './outlet.js';
export type {
  BrokerAddress,
  InterceptedRequest,
  KafkaConnectionInterceptor,
  KafkaInletHooks,
  KafkaInletOptions,
  KafkaLog,
  KafkaLogLevel,
  KafkaOutletHooks,
  KafkaOutletOptions,
} from './types.js';
