/** Where a Kafka client must connect to reach one broker. */
export interface BrokerAddress {
  host: string;
  port: number;
}

/** What a kafka-inlet service supplies; shared by all client connections of one inlet service. */
export interface KafkaInletHooks {
  /** The local address clients must use for broker `nodeId`; allocates a broker inlet the first time (throws when the port range is exhausted). */
  brokerAddress(nodeId: number): Promise<BrokerAddress>;
  /** Called once per Fetch request with its topics and partitions (consumer publishing); may be a no-op. */
  publishConsumer(topic: string, partitions: readonly number[]): Promise<void>;
  /** Encrypts one record value (or one JSON field's compact-JSON bytes) for (topic, partition): returns the bytes to store (CBOR KafkaEncryptedContent). */
  encryptValue(topic: string, partition: number, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts stored bytes (CBOR KafkaEncryptedContent) read from (topic, partition). Throws a KafkaDecryptError-like error (with a `reason` string) when it cannot (unknown key, refused producer, failed authentication). */
  decryptValue(topic: string, partition: number, stored: Uint8Array): Promise<Uint8Array>;
}

export type KafkaLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type KafkaLog = (level: KafkaLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface KafkaInletOptions {
  /** false = `--disable-content-encryption`. */
  encryptContent: boolean;
  /** `--encrypted-field` (JSON top-level field mode when non-empty). */
  encryptedFields: readonly string[];
  /** Largest Kafka frame accepted either way; default 16 MiB (Ockam's MAX_KAFKA_MESSAGE_SIZE). */
  maxFrameSize?: number;
  /** Bound on requests awaiting a response per connection; default 1000. */
  maxInFlight?: number;
  log?: KafkaLog;
}

/** The result of intercepting client bytes: what goes on to the broker, and what goes straight back to the client. */
export interface InterceptedRequest {
  forward: Uint8Array;
  /** Bytes to send back to the client (synthesized responses), usually empty. */
  reply: Uint8Array;
}

/** One client connection's interception, both directions. */
export interface KafkaConnectionInterceptor {
  /** Client→broker bytes in arrival order (portal chunks, ≤ 48 KiB, frame boundaries anywhere). Calls are serialized by the caller. Throws KafkaInterceptError on a fatal problem: the caller then closes the connection on both sides. */
  request(chunk: Uint8Array): Promise<InterceptedRequest>;
  /** Broker→client bytes; returns the bytes to deliver to the client (may include held synthesized replies, in order). */
  response(chunk: Uint8Array): Promise<Uint8Array>;
}

/** What a kafka-outlet service supplies. */
export interface KafkaOutletHooks {
  /** Creates `kafka_outlet_<id>` lazily, the first time a Metadata response lists broker `nodeId`. */
  brokerSeen(nodeId: number, address: BrokerAddress): Promise<void>;
}

export interface KafkaOutletOptions {
  maxFrameSize?: number;
  maxInFlight?: number;
  log?: KafkaLog;
}
