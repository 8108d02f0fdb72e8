/**
 * `@ockam/transport-broker/kafka`: Kafka topics as route hops, over `@platformatic/kafka` (a
 * maintained, pure-JS client; its 1.x line, because 2.x needs Node 22.22 and we support 20.19).
 *
 * - An inbox is a topic consumed by a consumer group of its own (`ockam_<topic>` unless given),
 *   which starts at the group's committed offset, else at the end of the topic: a new listener
 *   does not replay what was written before it existed. Offsets are committed automatically, so
 *   a restarted consumer may see again what it took since the last commit (at least once); the
 *   secure channel's replay window drops such duplicates.
 * - Each record is one transport message; its key is the publisher's own inbox, so everything one
 *   node sends to one topic lands in one partition, in order.
 * - Back-pressure: the consumer's message stream is not read while the node's queue is full; its
 *   high-water mark (the queue bound) and the fetch size bound what the client buffers meanwhile,
 *   and it stops fetching until it is read again.
 *
 * @example
 * ```ts
 * import { Node } from '@ockam/core';
 * import { BrokerTransport } from '@ockam/transport-broker';
 * import { KafkaBroker } from '@ockam/transport-broker/kafka';
 * const kafka = new BrokerTransport(node, new KafkaBroker({ bootstrapServers: ['127.0.0.1:9092'] }));
 * node.registerTransport(kafka);
 * await kafka.listen('ockam.bob');
 * ```
 */
import { KAFKA } from '@ockam/core';
import { Consumer, type MessagesStream, Producer } from '@platformatic/kafka';
import type { BrokerClient, BrokerDelivery, InboxSubscription, SubscribeOptions } from './broker-client.js';

export interface KafkaBrokerOptions {
  /** `HOST:PORT` of one or more brokers. */
  bootstrapServers: readonly string[];
  /** The client id the broker sees (default `ockam`). */
  clientId?: string;
  /** The consumer group of an inbox (default `ockam_<topic>`). */
  groupId?: (topic: string) => string;
  /** How long to wait for the broker when starting to consume (default 30 s). */
  connectTimeoutMs?: number;
}

const noop = (): void => {};
/** Records in one produce request at most. */
const MAX_BATCH = 256;

interface Outgoing {
  readonly topic: string;
  readonly key: Buffer;
  readonly value: Buffer;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class KafkaBroker implements BrokerClient {
  readonly kind = 'kafka' as const;
  readonly type = KAFKA;
  readonly endpoint: string;
  readonly #options: KafkaBrokerOptions;
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly #consumers = new Set<InboxSubscription>();
  readonly #outbox: Outgoing[] = [];
  #sending = false;

  constructor(options: KafkaBrokerOptions) {
    if (options.bootstrapServers.length === 0) throw new RangeError('bootstrapServers must name a broker');
    this.#options = options;
    this.endpoint = options.bootstrapServers.join(',');
    this.#producer = new Producer({
      clientId: options.clientId ?? 'ockam',
      bootstrapBrokers: [...options.bootstrapServers],
      autocreateTopics: true,
      // A few quick retries ride out a leader change; a broker that stays down fails the send,
      // which the transport counts as a dropped message rather than holding the sender forever.
      retries: 3,
      retryDelay: 250,
    });
  }

  async subscribe(
    inbox: string,
    options: SubscribeOptions,
    deliver: (d: BrokerDelivery) => void,
  ): Promise<InboxSubscription> {
    const o = this.#options;
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      clientId: o.clientId ?? 'ockam',
      groupId: o.groupId?.(inbox) ?? `ockam_${inbox}`,
      bootstrapBrokers: [...o.bootstrapServers],
      autocreateTopics: true,
      // Fetch no more at once than a few whole messages: this bounds what the client holds.
      maxBytes: Math.max(options.maxMessageBytes * 4, 1024 * 1024),
      maxBytesPerPartition: Math.max(options.maxMessageBytes, 1024 * 1024),
      maxWaitTime: 500,
      highWaterMark: options.prefetch,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      retries: Number.POSITIVE_INFINITY as unknown as number,
      retryDelay: 500,
    });
    let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
    let paused = false;
    const drain = (): void => {
      while (!paused) {
        const record = stream.read() as { value?: Buffer | null } | null;
        if (record === null) return;
        const v = record.value;
        deliver({ bytes: v === undefined || v === null ? new Uint8Array(0) : v, settle: noop });
      }
    };
    try {
      stream = await consumer.consume({
        topics: [inbox],
        mode: 'committed',
        fallbackMode: 'latest',
        autocommit: 1_000,
      });
      // Pulled, not flowing: while the transport is paused nothing is read, the stream's buffer
      // fills to its high-water mark and the client stops fetching (Node's stream back-pressure).
      // The stream fetches only while something reads it, so the reader is wired first.
      stream.on('readable', drain);
      // The client retries and reconnects by itself; a stream error must not crash the process.
      stream.on('error', noop);
      // Ready once the first fetch returned: the group has its partitions and their offsets, so
      // what is published from now on is delivered.
      await waitFor(stream, 'fetch', o.connectTimeoutMs ?? 30_000);
    } catch (e) {
      await forceClose(consumer);
      throw e;
    }
    const sub: InboxSubscription = {
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
        drain();
      },
      close: async () => {
        this.#consumers.delete(sub);
        await stream.close().catch(noop);
        await forceClose(consumer);
      },
    };
    this.#consumers.add(sub);
    return sub;
  }

  /**
   * Queued, and sent in batches, one produce request at a time: what arrives while a request is
   * in flight goes in the next one, so order holds and a busy sender costs one round trip per
   * batch rather than per message.
   */
  publish(name: string, bytes: Uint8Array, from: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#outbox.push({ topic: name, key: Buffer.from(from), value: toBuffer(bytes), resolve, reject });
      if (!this.#sending) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#sending = true;
    try {
      for (;;) {
        const batch = this.#outbox.splice(0, MAX_BATCH);
        if (batch.length === 0) return;
        try {
          await this.#producer.send({
            messages: batch.map(({ topic, key, value }) => ({ topic, key, value })),
          });
          for (const m of batch) m.resolve();
        } catch (e) {
          for (const m of batch) m.reject(e);
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.close()));
    await forceClose(this.#producer);
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function waitFor(emitter: NodeJS.EventEmitter, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, done);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    emitter.once(event, done);
  });
}

/** Closes a client at once (in-flight requests are abandoned), ignoring errors. */
function forceClose(client: { close(force?: boolean): Promise<void> }): Promise<void> {
  return client.close(true).catch(noop);
}
