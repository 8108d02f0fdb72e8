/**
 * The kafka-outlet's interception (KAFKA.md §1.5), beside the brokers: it records Metadata
 * requests, decodes their responses and reports every broker listed (`brokerSeen`, which creates
 * `kafka_outlet_<id>`) before the response goes on. Every byte is forwarded as it came.
 */
import { KafkaInterceptError } from './errors.js';
import {
  InterceptingConnection,
  type Pending,
  type RequestHeader,
  type RequestOutcome,
  responseBody,
} from './internal/connection.js';
import { ApiKey, MAX_VERSION, MetadataResponse } from './internal/messages.js';
import { decodeMessage, type Struct } from './internal/schema.js';
import { Reader } from './internal/wire.js';
import type { KafkaConnectionInterceptor, KafkaOutletHooks, KafkaOutletOptions } from './types.js';

/** The kafka-outlet's interception: watches Metadata responses only, forwards every byte unchanged. */
export class KafkaOutletInterceptor {
  readonly #hooks: KafkaOutletHooks;
  readonly #options: KafkaOutletOptions;

  constructor(hooks: KafkaOutletHooks, options: KafkaOutletOptions = {}) {
    this.#hooks = hooks;
    this.#options = options;
  }

  connection(): KafkaConnectionInterceptor {
    return new OutletConnection(this.#hooks, this.#options);
  }
}

class OutletConnection extends InterceptingConnection {
  readonly #hooks: KafkaOutletHooks;

  constructor(hooks: KafkaOutletHooks, options: KafkaOutletOptions) {
    super(options);
    this.#hooks = hooks;
  }

  protected async onRequest(header: RequestHeader, frame: Uint8Array): Promise<RequestOutcome> {
    const max = MAX_VERSION.get(ApiKey.Metadata) as number;
    if (header.apiKey === ApiKey.Metadata && header.apiVersion > max) {
      throw new KafkaInterceptError(
        'unsupported',
        `Metadata v${header.apiVersion} is newer than this kafka-outlet decodes (up to v${max}): closing the connection`,
      );
    }
    // Every request but Produce with acks=0 gets a response: track them all to match responses.
    return {
      forward: frame,
      awaitResponse: header.apiKey !== ApiKey.Produce || produceAcks(header, frame) !== 0,
    };
  }

  protected async onResponse(pending: Pending, frame: Uint8Array): Promise<Uint8Array> {
    const header = pending.header;
    if (header.apiKey !== ApiKey.Metadata) return frame;
    const r = responseBody(frame, header, MetadataResponse.name);
    const message = decodeMessage(r, MetadataResponse, header.apiVersion);
    for (const broker of (message.Brokers as Struct[] | null) ?? []) {
      const nodeId = broker.NodeId as number;
      const address = { host: (broker.Host as string | null) ?? '', port: broker.Port as number };
      try {
        await this.#hooks.brokerSeen(nodeId, address);
      } catch (e) {
        throw new KafkaInterceptError(
          'invalid',
          `Cannot reach Kafka broker ${nodeId} at ${address.host}:${address.port}`,
          {
            cause: e,
          },
        );
      }
    }
    return frame;
  }
}

/** Produce's acks: an int16 after the transactional id (v3+, compact from v9). */
function produceAcks(header: RequestHeader, frame: Uint8Array): number {
  const r = new Reader(frame, 'Produce request', header.bodyOffset);
  if (header.apiVersion >= 9) {
    const n = r.uvarint();
    if (n > 0) r.bytes(n - 1);
  } else if (header.apiVersion >= 3) {
    const n = r.int16();
    if (n > 0) r.bytes(n);
  }
  return r.int16();
}
