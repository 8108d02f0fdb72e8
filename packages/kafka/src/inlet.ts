/**
 * The kafka-inlet's interception (KAFKA.md §1.4), beside a Kafka client:
 *
 * - Metadata (v0–12) and FindCoordinator (v0–4) responses: broker host/port replaced by the local
 *   address of that broker's inlet (`brokerAddress`); topic ids (v10+) remembered for Fetch v13+.
 * - ApiVersions responses: the intercepted APIs clamped to the versions decoded here, unknown api
 *   keys removed (Ockam does not clamp, so newer clients break, KAFKA.md §1.6).
 * - Produce requests (v3–10): each record value encrypted (`encryptValue`), batches re-encoded
 *   uncompressed; a partition that cannot be encrypted is answered here with an error and never
 *   reaches the broker.
 * - Fetch requests: `publishConsumer` per topic; `MaxBytes` and `PartitionMaxBytes` scaled by the
 *   growth of encrypted values (`FETCH_SCALE`) when whole values are decrypted, so that a fetch
 *   brings the client as many records as it asked for, and capped below the largest response
 *   frame this inlet decodes. Fetch responses (v4–16): values decrypted; a partition whose records
 *   cannot be decrypted is answered with CORRUPT_MESSAGE, never with them.
 * - LeaderAndIsr and UpdateMetadata (broker-to-broker) requests: refused.
 */
import { KafkaInterceptError } from './errors.js';
import {
  InterceptingConnection,
  type Pending,
  type RequestHeader,
  type RequestOutcome,
  responseBody,
  writeResponseHeader,
} from './internal/connection.js';
import { decryptFields, encryptFields } from './internal/json-fields.js';
import {
  APIS,
  ApiKey,
  ApiVersionsResponse,
  FetchRequest,
  FetchResponse,
  FindCoordinatorResponse,
  MAX_VERSION,
  MetadataResponse,
  MIN_RECORDS_VERSION,
  ProduceRequest,
  ProduceResponse,
} from './internal/messages.js';
import {
  crcMatches,
  decodeRecords,
  encodeBatch,
  isControl,
  type KafkaRecord,
  type RecordBatch,
  splitBatches,
} from './internal/records.js';
import { decodeMessage, encodeMessage, type Struct } from './internal/schema.js';
import { Reader, Writer } from './internal/wire.js';
import type { KafkaConnectionInterceptor, KafkaInletHooks, KafkaInletOptions } from './types.js';

/** Kafka error codes used in synthesized responses (org.apache.kafka.common.protocol.Errors). */
export const KafkaErrorCode = {
  NONE: 0,
  CORRUPT_MESSAGE: 2,
  TOPIC_AUTHORIZATION_FAILED: 29,
  UNSUPPORTED_VERSION: 35,
  INVALID_RECORD: 87,
} as const;

/**
 * How much larger a stored encrypted value is than its plaintext, rounded down: each byte of
 * `nonce ‖ ciphertext ‖ tag` is a CBOR uint, two bytes for 232 values in 256 (1.906×), plus the
 * decryptor's address. A Fetch's byte limits are multiplied by it, so that the decrypted response
 * is about the size the client asked for rather than half of it (and twice the round trips).
 */
export const FETCH_SCALE = 1.875;

/** Room left in a response frame for what is not records when a Fetch's MaxBytes is capped (64 KiB). */
const FETCH_FRAME_HEADROOM = 64 * 1024;

/** Topic ids remembered per inlet service (a broker could list any number of topics). */
const MAX_TOPIC_IDS = 100_000;

/** State shared by every connection of one inlet service. */
class InletShared {
  readonly topicNames = new Map<string, string>();

  rememberTopic(id: Uint8Array, name: string): void {
    const key = Buffer.from(id).toString('hex');
    this.topicNames.delete(key);
    this.topicNames.set(key, name);
    if (this.topicNames.size > MAX_TOPIC_IDS) {
      const oldest = this.topicNames.keys().next().value;
      if (oldest !== undefined) this.topicNames.delete(oldest);
    }
  }

  topicName(id: Uint8Array): string | undefined {
    return this.topicNames.get(Buffer.from(id).toString('hex'));
  }
}

/** The kafka-inlet's interception: one instance per inlet service, `connection()` per client connection. */
export class KafkaInletInterceptor {
  readonly #hooks: KafkaInletHooks;
  readonly #options: KafkaInletOptions;
  readonly #shared = new InletShared();

  constructor(hooks: KafkaInletHooks, options: KafkaInletOptions) {
    this.#hooks = hooks;
    this.#options = options;
  }

  connection(): KafkaConnectionInterceptor {
    return new InletConnection(this.#hooks, this.#options, this.#shared);
  }
}

interface PartitionFailure {
  topic: string;
  partition: number;
  code: number;
  message: string;
}

/** Why a record could not be decrypted (logged, never sent to the client as data). */
interface DecryptFailure {
  offset: bigint;
  reason: string;
}

function reasonOf(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const reason = (e as { reason?: unknown }).reason;
    if (typeof reason === 'string') return reason;
    if (e instanceof Error) return e.message;
  }
  return String(e);
}

class InletConnection extends InterceptingConnection {
  readonly #hooks: KafkaInletHooks;
  readonly #options: KafkaInletOptions;
  readonly #shared: InletShared;
  readonly #fields: readonly string[];

  constructor(hooks: KafkaInletHooks, options: KafkaInletOptions, shared: InletShared) {
    super(options);
    this.#hooks = hooks;
    this.#options = options;
    this.#shared = shared;
    this.#fields = options.encryptedFields;
  }

  protected async onRequest(header: RequestHeader, frame: Uint8Array): Promise<RequestOutcome> {
    const { apiKey, apiVersion } = header;
    if (apiKey === ApiKey.LeaderAndIsr || apiKey === ApiKey.UpdateMetadata) {
      throw new KafkaInterceptError(
        'unsupported',
        `${APIS.get(apiKey)?.name} requests are not supported by a kafka-inlet: closing the connection`,
      );
    }
    const max = MAX_VERSION.get(apiKey);
    if (max !== undefined && apiVersion > max) {
      if (apiKey === ApiKey.ApiVersions) return { reply: this.#unsupportedApiVersions(header) };
      throw new KafkaInterceptError(
        'unsupported',
        `${APIS.get(apiKey)?.name} v${apiVersion} is newer than this kafka-inlet decodes (up to v${max}): closing the connection`,
      );
    }
    const encrypting = this.#options.encryptContent;
    const minRecords = MIN_RECORDS_VERSION.get(apiKey);
    if (encrypting && minRecords !== undefined && apiVersion < minRecords) {
      throw new KafkaInterceptError(
        'unsupported',
        `${APIS.get(apiKey)?.name} v${apiVersion} carries pre-0.11 message sets, which a kafka-inlet cannot encrypt: closing the connection`,
      );
    }
    if (apiKey === ApiKey.Produce) return this.#produce(header, frame);
    if (apiKey === ApiKey.Fetch) {
      const request = await this.#publishFetch(header, frame);
      return { forward: this.#fetchLimits(header, frame, request), awaitResponse: true };
    }
    return { forward: frame, awaitResponse: true };
  }

  protected async onResponse(pending: Pending, frame: Uint8Array): Promise<Uint8Array> {
    const header = pending.header;
    switch (header.apiKey) {
      case ApiKey.Metadata:
        return this.#rewrite(header, frame, MetadataResponse, (m) => this.#metadata(m, header.apiVersion));
      case ApiKey.FindCoordinator:
        return this.#rewrite(header, frame, FindCoordinatorResponse, (m) =>
          this.#coordinators(m, header.apiVersion),
        );
      case ApiKey.ApiVersions:
        return this.#apiVersions(header, frame);
      case ApiKey.Fetch:
        if (!this.#options.encryptContent) return frame;
        return this.#rewrite(header, frame, FetchResponse, (m) => this.#decryptFetch(m, header.apiVersion));
      case ApiKey.Produce: {
        const failures = pending.note as PartitionFailure[] | undefined;
        if (!failures?.length) return frame;
        return this.#rewrite(header, frame, ProduceResponse, async (m) => addProduceFailures(m, failures));
      }
      default:
        return frame;
    }
  }

  async #rewrite(
    header: RequestHeader,
    frame: Uint8Array,
    schema: typeof MetadataResponse,
    change: (message: Struct) => Promise<void>,
  ): Promise<Uint8Array> {
    const start = bodyStart(frame, header);
    const message = decodeMessage(new Reader(frame, schema.name, start), schema, header.apiVersion);
    await change(message);
    const w = new Writer(frame.length + 256);
    w.bytes(frame.subarray(0, start));
    encodeMessage(w, schema, message, header.apiVersion);
    return w.finish();
  }

  async #metadata(m: Struct, version: number): Promise<void> {
    for (const broker of (m.Brokers as Struct[] | null) ?? []) {
      const address = await this.#brokerAddress(broker.NodeId as number);
      broker.Host = address.host;
      broker.Port = address.port;
    }
    if (version >= 10) {
      for (const topic of (m.Topics as Struct[] | null) ?? []) {
        if (typeof topic.Name === 'string')
          this.#shared.rememberTopic(topic.TopicId as Uint8Array, topic.Name);
      }
    }
  }

  async #coordinators(m: Struct, version: number): Promise<void> {
    const list = version >= 4 ? ((m.Coordinators as Struct[] | null) ?? []) : [m];
    for (const c of list) {
      // A coordinator lookup that failed carries node id -1 and no usable address.
      if ((c.ErrorCode as number) !== 0 || (c.NodeId as number) < 0) continue;
      const address = await this.#brokerAddress(c.NodeId as number);
      c.Host = address.host;
      c.Port = address.port;
    }
  }

  #brokerAddress(nodeId: number): Promise<{ host: string; port: number }> {
    return callHook(`No local address for Kafka broker ${nodeId}`, () => this.#hooks.brokerAddress(nodeId));
  }

  /** Clamps what the broker offers to what this inlet decodes, so newer clients negotiate down. */
  #apiVersions(header: RequestHeader, frame: Uint8Array): Uint8Array {
    let version = header.apiVersion;
    let message: Struct;
    const start = bodyStart(frame, header);
    try {
      message = decodeMessage(
        new Reader(frame, ApiVersionsResponse.name, start),
        ApiVersionsResponse,
        version,
      );
    } catch (e) {
      // A broker that does not know the request's version answers in v0 (KIP-511).
      if (
        frame.length < start + 2 ||
        new DataView(frame.buffer, frame.byteOffset + start, 2).getInt16(0) !== 35
      )
        throw e;
      version = 0;
      message = decodeMessage(new Reader(frame, ApiVersionsResponse.name, start), ApiVersionsResponse, 0);
    }
    const keys = ((message.ApiKeys as Struct[] | null) ?? []).filter((k) => APIS.has(k.ApiKey as number));
    for (const k of keys) {
      const max = MAX_VERSION.get(k.ApiKey as number);
      if (max !== undefined && (k.MaxVersion as number) > max) k.MaxVersion = max;
      const min = MIN_RECORDS_VERSION.get(k.ApiKey as number);
      if (this.#options.encryptContent && min !== undefined && (k.MinVersion as number) < min)
        k.MinVersion = min;
    }
    message.ApiKeys = keys;
    const w = new Writer(frame.length);
    w.bytes(frame.subarray(0, start));
    encodeMessage(w, ApiVersionsResponse, message, version);
    return w.finish();
  }

  /** What a broker answers to an ApiVersions version it does not know: v0, UNSUPPORTED_VERSION, its range. */
  #unsupportedApiVersions(header: RequestHeader): Uint8Array {
    const w = new Writer(32);
    w.int32(header.correlationId);
    encodeMessage(
      w,
      ApiVersionsResponse,
      {
        ErrorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
        ApiKeys: [
          { ApiKey: ApiKey.ApiVersions, MinVersion: 0, MaxVersion: MAX_VERSION.get(ApiKey.ApiVersions) },
        ],
      },
      0,
    );
    this.log('info', 'answered an ApiVersions request newer than v3 with UNSUPPORTED_VERSION', {
      version: header.apiVersion,
    });
    return w.finish();
  }

  async #publishFetch(header: RequestHeader, frame: Uint8Array): Promise<Struct> {
    const r = new Reader(frame, FetchRequest.name, header.bodyOffset);
    const request = decodeMessage(r, FetchRequest, header.apiVersion);
    for (const topic of (request.Topics as Struct[] | null) ?? []) {
      const name = this.#topicName(topic, header.apiVersion);
      const partitions = ((topic.Partitions as Struct[] | null) ?? []).map((p) => p.Partition as number);
      await callHook(`Cannot publish the consumer of topic ${name}`, () =>
        this.#hooks.publishConsumer(name, partitions),
      );
    }
    return request;
  }

  /**
   * The Fetch request to forward: its byte limits scaled by `FETCH_SCALE` when this inlet decrypts
   * whole values (the broker counts stored bytes, the client receives plaintext), and capped so
   * that the response fits in one frame this inlet accepts (a client's default fetch.max.bytes is
   * 50 MB, over the 16 MB frame limit). Unchanged limits forward the frame as it came.
   */
  #fetchLimits(header: RequestHeader, frame: Uint8Array, request: Struct): Uint8Array {
    const scale = this.#options.encryptContent && this.#fields.length === 0 ? FETCH_SCALE : 1;
    const cap = Math.min(0x7fff_ffff, Math.max(1, this.maxFrameSize - FETCH_FRAME_HEADROOM));
    const limit = (n: number) => (n <= 0 ? n : Math.min(cap, Math.floor(n * scale)));
    let changed = false;
    if (typeof request.MaxBytes === 'number') {
      const next = limit(request.MaxBytes);
      changed ||= next !== request.MaxBytes;
      request.MaxBytes = next;
    }
    for (const topic of (request.Topics as Struct[] | null) ?? [])
      for (const p of (topic.Partitions as Struct[] | null) ?? []) {
        const next = limit(p.PartitionMaxBytes as number);
        changed ||= next !== p.PartitionMaxBytes;
        p.PartitionMaxBytes = next;
      }
    if (!changed) return frame;
    const w = new Writer(frame.length + 64);
    w.bytes(header.raw);
    encodeMessage(w, FetchRequest, request, header.apiVersion);
    return w.finish();
  }

  #topicName(topic: Struct, version: number): string {
    if (version < 13) return (topic.Topic as string | null) ?? '';
    const name = this.#shared.topicName(topic.TopicId as Uint8Array);
    if (name === undefined) {
      throw new KafkaInterceptError(
        'not-found',
        `Fetch v${version} names topic id ${Buffer.from(topic.TopicId as Uint8Array).toString('hex')}, which no Metadata response through this inlet listed`,
      );
    }
    return name;
  }

  async #produce(header: RequestHeader, frame: Uint8Array): Promise<RequestOutcome> {
    const r = new Reader(frame, ProduceRequest.name, header.bodyOffset);
    const request = decodeMessage(r, ProduceRequest, header.apiVersion);
    const acks = request.Acks as number;
    if (!this.#options.encryptContent) return { forward: frame, awaitResponse: acks !== 0 };
    const failures: PartitionFailure[] = [];
    const topics: Struct[] = [];
    for (const topic of (request.TopicData as Struct[] | null) ?? []) {
      const name = (topic.Name as string | null) ?? '';
      const kept: Struct[] = [];
      for (const p of (topic.PartitionData as Struct[] | null) ?? []) {
        const partition = p.Index as number;
        try {
          p.Records = await this.#encryptRecords(name, partition, p.Records as Uint8Array | null);
          kept.push(p);
        } catch (e) {
          const failure = produceFailure(name, partition, e);
          failures.push(failure);
          this.log(
            'error',
            'cannot encrypt records: the partition is answered with an error, not forwarded',
            {
              topic: name,
              partition,
              errorCode: failure.code,
              reason: failure.message,
            },
          );
        }
      }
      if (kept.length > 0) topics.push({ ...topic, PartitionData: kept });
    }
    if (topics.length === 0 && failures.length > 0) {
      if (acks === 0) return { reply: null };
      return { reply: this.#produceResponse(header, failures) };
    }
    request.TopicData = topics;
    const w = new Writer(frame.length * 2 + 64);
    w.bytes(header.raw);
    encodeMessage(w, ProduceRequest, request, header.apiVersion);
    return { forward: w.finish(), awaitResponse: acks !== 0, note: failures };
  }

  async #encryptRecords(
    topic: string,
    partition: number,
    records: Uint8Array | null,
  ): Promise<Uint8Array | null> {
    if (records === null || records.length === 0) return records;
    const { batches, partial } = splitBatches(records);
    if (partial.length > 0)
      throw new ProduceFailure(KafkaErrorCode.CORRUPT_MESSAGE, 'incomplete record batch');
    const w = new Writer(records.length * 2 + 64);
    let budget = this.maxFrameSize;
    for (const batch of batches) {
      if (isControl(batch)) {
        w.bytes(batch.raw);
        continue;
      }
      if (!crcMatches(batch))
        throw new ProduceFailure(KafkaErrorCode.CORRUPT_MESSAGE, 'record batch CRC mismatch');
      const list = decodeRecords(batch, budget);
      for (const rec of list) {
        budget -= rec.value?.length ?? 0;
        if (rec.value === null) continue; // a tombstone stays a tombstone
        rec.value = await this.#encryptValue(topic, partition, rec.value);
      }
      encodeBatch(w, batch, list);
    }
    return w.finish();
  }

  async #encryptValue(topic: string, partition: number, value: Uint8Array): Promise<Uint8Array> {
    const encrypt = async (plaintext: Uint8Array): Promise<Uint8Array> => {
      try {
        return await this.#hooks.encryptValue(topic, partition, plaintext);
      } catch (e) {
        throw new ProduceFailure(
          KafkaErrorCode.TOPIC_AUTHORIZATION_FAILED,
          `cannot encrypt: ${reasonOf(e)}`,
          e,
        );
      }
    };
    if (this.#fields.length === 0) return encrypt(value);
    try {
      return await encryptFields(value, this.#fields, encrypt);
    } catch (e) {
      if (e instanceof ProduceFailure) throw e;
      throw new ProduceFailure(KafkaErrorCode.INVALID_RECORD, reasonOf(e), e);
    }
  }

  #produceResponse(header: RequestHeader, failures: readonly PartitionFailure[]): Uint8Array {
    const w = new Writer(128);
    writeResponseHeader(w, header);
    const message: Struct = { Responses: [], ThrottleTimeMs: 0 };
    addProduceFailures(message, failures);
    encodeMessage(w, ProduceResponse, message, header.apiVersion);
    return w.finish();
  }

  async #decryptFetch(m: Struct, version: number): Promise<void> {
    let budget = this.maxFrameSize;
    for (const topic of (m.Responses as Struct[] | null) ?? []) {
      const name = this.#topicName(topic, version);
      for (const p of (topic.Partitions as Struct[] | null) ?? []) {
        const records = p.Records as Uint8Array | null;
        if (records === null || records.length === 0) continue;
        const partition = p.PartitionIndex as number;
        const result = await this.#decryptRecords(name, partition, records, budget);
        budget -= result.bytes.length;
        p.Records = result.bytes;
        if (result.failure === undefined) continue;
        const fields = {
          topic: name,
          partition,
          offset: result.failure.offset.toString(),
          reason: result.failure.reason,
        };
        if (result.delivered === 0) {
          // Nothing before the bad record: the client gets the error, at that very offset.
          p.ErrorCode = KafkaErrorCode.CORRUPT_MESSAGE;
          this.log(
            'error',
            'a record cannot be decrypted: the partition is answered with CORRUPT_MESSAGE',
            fields,
          );
        } else {
          this.log('warn', 'a record cannot be decrypted: delivering the batches before it only', fields);
        }
      }
    }
  }

  /**
   * Decrypts the batches of one partition up to the first one that fails; control batches (bit 5,
   * transaction markers) pass as they are. Batches of aborted transactions are decrypted like any
   * other: the client drops them itself from `AbortedTransactions` (read_committed).
   */
  async #decryptRecords(
    topic: string,
    partition: number,
    records: Uint8Array,
    budget: number,
  ): Promise<{ bytes: Uint8Array; delivered: number; failure?: DecryptFailure }> {
    const w = new Writer(records.length * 2 + 64);
    let delivered = 0;
    let batches: RecordBatch[];
    try {
      batches = splitBatches(records).batches; // a trailing partial batch is dropped: the client refetches it
    } catch (e) {
      return { bytes: new Uint8Array(0), delivered, failure: { offset: -1n, reason: reasonOf(e) } };
    }
    for (const batch of batches) {
      const failure = await this.#decryptBatch(topic, partition, batch, w, budget - w.length);
      if (failure) return { bytes: w.finish(), delivered, failure };
      delivered++;
    }
    return { bytes: w.finish(), delivered };
  }

  async #decryptBatch(
    topic: string,
    partition: number,
    batch: RecordBatch,
    w: Writer,
    budget: number,
  ): Promise<DecryptFailure | undefined> {
    if (isControl(batch)) {
      w.bytes(batch.raw);
      return undefined;
    }
    if (!crcMatches(batch)) return { offset: batch.baseOffset, reason: 'record batch CRC mismatch' };
    let list: KafkaRecord[];
    try {
      list = decodeRecords(batch, budget);
    } catch (e) {
      return { offset: batch.baseOffset, reason: reasonOf(e) };
    }
    for (const rec of list) {
      if (rec.value === null) continue;
      try {
        rec.value = await this.#decryptValue(topic, partition, rec.value);
      } catch (e) {
        return { offset: batch.baseOffset + BigInt(rec.offsetDelta), reason: reasonOf(e) };
      }
    }
    encodeBatch(w, batch, list);
    return undefined;
  }

  #decryptValue(topic: string, partition: number, value: Uint8Array): Promise<Uint8Array> {
    const decrypt = (stored: Uint8Array) => this.#hooks.decryptValue(topic, partition, stored);
    if (this.#fields.length === 0) return decrypt(value);
    return decryptFields(value, this.#fields, decrypt);
  }
}

/** Calls a hook; its failure is fatal for the connection (the caller closes it), with the hook's reason. */
async function callHook<T>(what: string, hook: () => Promise<T>): Promise<T> {
  try {
    return await hook();
  } catch (e) {
    throw new KafkaInterceptError('invalid', `${what}: ${reasonOf(e)}`, { cause: e });
  }
}

class ProduceFailure extends Error {
  readonly code: number;
  constructor(code: number, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

function produceFailure(topic: string, partition: number, e: unknown): PartitionFailure {
  const code = e instanceof ProduceFailure ? e.code : KafkaErrorCode.CORRUPT_MESSAGE;
  return { topic, partition, code, message: `Ockam kafka-inlet: ${reasonOf(e)}` };
}

/** Adds partition errors to a Produce response (synthesized, or the broker's for the other partitions). */
function addProduceFailures(m: Struct, failures: readonly PartitionFailure[]): void {
  const responses = ((m.Responses as Struct[] | null) ?? []) as Struct[];
  for (const f of failures) {
    let topic = responses.find((t) => t.Name === f.topic);
    if (!topic) {
      topic = { Name: f.topic, PartitionResponses: [], _tagged: [] };
      responses.push(topic);
    }
    const partitions = (topic.PartitionResponses as Struct[] | null) ?? [];
    partitions.push({
      Index: f.partition,
      ErrorCode: f.code,
      BaseOffset: -1n,
      LogAppendTimeMs: -1n,
      LogStartOffset: -1n,
      RecordErrors: [],
      ErrorMessage: f.message,
      _tagged: [],
    });
    topic.PartitionResponses = partitions;
  }
  m.Responses = responses;
}

/** Where the response body starts (after the correlation id, and the tagged fields of header v1). */
function bodyStart(frame: Uint8Array, header: RequestHeader): number {
  return responseBody(frame, header, 'response header').offset;
}
