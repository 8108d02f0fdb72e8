/**
 * What the broker transport needs from a broker (Kafka, RabbitMQ): publish bytes to a named
 * topic or queue, and consume one named inbox with a way to hold deliveries back. Each adapter
 * (`./kafka.ts`, `./amqp.ts`) implements it over a well-kept client library; everything else —
 * the codec, sizes, bounded queues, flow control, replies — lives once in `BrokerTransport`.
 */

/** One message taken from an inbox. */
export interface BrokerDelivery {
  /** The record value (Kafka) or message body (AMQP), as the client library handed it over. */
  readonly bytes: Uint8Array;
  /** The node is done with it: AMQP acknowledges it (freeing a prefetch slot); Kafka does nothing. */
  settle(): void;
}

/** A running consumer of one inbox. */
export interface InboxSubscription {
  /** Stop taking deliveries until `resume` (Kafka: the fetch loop stops; AMQP: prefetch already bounds it). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Deliveries handed over and not yet settled, at most (AMQP prefetch; Kafka stream high-water mark). */
  readonly prefetch: number;
  /** Largest delivery the transport will take: the adapter tells its client to fetch no more at once. */
  readonly maxMessageBytes: number;
}

export interface BrokerClient {
  /** `kafka` or `amqp`: the multiaddr protocol, log lines and worker address prefixes. */
  readonly kind: 'kafka' | 'amqp';
  /** The transport type of its addresses (`KAFKA` = 16, `AMQP` = 17). */
  readonly type: number;
  /** The broker, as log lines and listings name it (`127.0.0.1:9092`, `amqp://host:5672`; no password). */
  readonly endpoint: string;
  /** Starts consuming `inbox` (creating it if the broker needs that); resolves once deliveries can flow. */
  subscribe(
    inbox: string,
    options: SubscribeOptions,
    deliver: (delivery: BrokerDelivery) => void,
  ): Promise<InboxSubscription>;
  /**
   * Publishes one message to the topic or queue `name`; rejects if the broker did not take it.
   * Calls may overlap (a sender keeps several in flight): messages to one name must reach the
   * broker in the order of the calls.
   * `from` is the publisher's own inbox: Kafka keys the record with it, so that what one node
   * sends to one topic stays in one partition, in order.
   */
  publish(name: string, bytes: Uint8Array, from: string): Promise<void>;
  /** Closes every connection of the client. */
  close(): Promise<void>;
}
