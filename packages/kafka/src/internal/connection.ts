/**
 * What the inlet and outlet interceptors share for one client connection: framing both ways,
 * request headers, and the ordered list of requests awaiting a response.
 *
 * Kafka answers the requests of one connection in order (protocol guide: "the server guarantees
 * that on a single TCP connection, requests will be processed in the order they are sent and
 * responses will return in that order too"), and clients check it. So a response synthesized
 * here (an encryption failure on Produce, an ApiVersions version we cannot decode) waits in that
 * list until every earlier request has been answered, and goes out right after. The list is
 * bounded (`maxInFlight`), and an entry leaves it when its response does (Ockam's grows forever).
 */
import { KafkaInterceptError } from '../errors.js';
import type { InterceptedRequest, KafkaConnectionInterceptor, KafkaLog } from '../types.js';
import { DEFAULT_MAX_FRAME_SIZE, FrameDecoder, frameAll } from './frames.js';
import { APIS, requestHeaderVersion, responseHeaderVersion } from './messages.js';
import { readTagged } from './schema.js';
import { Reader, type Writer } from './wire.js';

export const DEFAULT_MAX_IN_FLIGHT = 1000;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The header bytes as they came, to put back in front of a re-encoded body. */
  raw: Uint8Array;
  /** Where the request body starts in the frame. */
  bodyOffset: number;
}

/** What to do with one request frame. */
export type RequestOutcome =
  /** Forward `frame`; `awaitResponse` false for Produce with acks=0 (no response comes). */
  | { forward: Uint8Array; awaitResponse: boolean; note?: unknown }
  /** Answer the client with `reply` (a response body with its header) instead of forwarding. */
  | { reply: Uint8Array | null };

export interface Pending {
  header: RequestHeader;
  note?: unknown;
  reply?: Uint8Array | null;
}

const textDecoder = new TextDecoder();

export function parseRequestHeader(frame: Uint8Array): RequestHeader {
  const r = new Reader(frame, 'request header');
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  if (!APIS.has(apiKey)) {
    // An API this proxy does not know might carry records: never let it through unread.
    throw new KafkaInterceptError(
      'unsupported',
      `Unknown Kafka api key ${apiKey} (version ${apiVersion}): closing the connection`,
    );
  }
  const hv = requestHeaderVersion(apiKey, apiVersion);
  let clientId: string | null = null;
  if (hv >= 1) {
    const n = r.int16();
    if (n >= 0) clientId = textDecoder.decode(r.bytes(r.count(n, 1)));
  }
  if (hv === 2) readTagged(r);
  return {
    apiKey,
    apiVersion,
    correlationId,
    clientId,
    raw: frame.subarray(0, r.offset),
    bodyOffset: r.offset,
  };
}

/** Reads a response header (v0: correlation id; v1: plus tagged fields); returns the body's reader. */
export function responseBody(frame: Uint8Array, header: RequestHeader, what: string): Reader {
  const r = new Reader(frame, what);
  r.int32();
  if (responseHeaderVersion(header.apiKey, header.apiVersion) === 1) readTagged(r);
  return r;
}

/** Writes a response header for `header`'s request. */
export function writeResponseHeader(w: Writer, header: RequestHeader): void {
  w.int32(header.correlationId);
  if (responseHeaderVersion(header.apiKey, header.apiVersion) === 1) w.uvarint(0);
}

export interface ConnectionOptions {
  maxFrameSize?: number;
  maxInFlight?: number;
  log?: KafkaLog;
}

export abstract class InterceptingConnection implements KafkaConnectionInterceptor {
  readonly #requests: FrameDecoder;
  readonly #responses: FrameDecoder;
  readonly #maxInFlight: number;
  readonly #pending: Pending[] = [];
  protected readonly maxFrameSize: number;
  protected readonly log: KafkaLog;

  constructor(options: ConnectionOptions) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.log = options.log ?? (() => {});
    this.#requests = new FrameDecoder(this.maxFrameSize, 'Kafka request');
    this.#responses = new FrameDecoder(this.maxFrameSize, 'Kafka response');
  }

  /** Requests awaiting a response (and held synthesized replies). */
  get inFlight(): number {
    return this.#pending.length;
  }

  protected abstract onRequest(header: RequestHeader, frame: Uint8Array): Promise<RequestOutcome>;
  protected abstract onResponse(pending: Pending, frame: Uint8Array): Promise<Uint8Array>;

  async request(chunk: Uint8Array): Promise<InterceptedRequest> {
    const forward: Uint8Array[] = [];
    const reply: Uint8Array[] = [];
    for (const frame of this.#requests.push(chunk)) {
      const header = parseRequestHeader(frame);
      this.log('debug', 'Kafka request', { apiKey: header.apiKey, apiVersion: header.apiVersion });
      const outcome = await this.onRequest(header, frame);
      if ('forward' in outcome) {
        forward.push(outcome.forward);
        if (outcome.awaitResponse) this.#enqueue({ header, note: outcome.note });
      } else if (outcome.reply !== null) {
        // Held until every earlier request has its response, so the client sees them in order.
        if (this.#pending.length === 0) reply.push(outcome.reply);
        else this.#enqueue({ header, reply: outcome.reply });
      }
    }
    return { forward: frameAll(forward), reply: frameAll(reply) };
  }

  async response(chunk: Uint8Array): Promise<Uint8Array> {
    const out: Uint8Array[] = [];
    for (const frame of this.#responses.push(chunk)) {
      const head = this.#pending[0];
      const correlationId = new Reader(frame, 'response header').int32();
      if (head === undefined || head.header.correlationId !== correlationId) {
        throw new KafkaInterceptError(
          'protocol',
          `Kafka response with correlation id ${correlationId} answers no request in flight${head ? ` (expected ${head.header.correlationId})` : ''}`,
        );
      }
      // The entry stays until its response is ready: a reply synthesized meanwhile must wait.
      out.push(await this.onResponse(head, frame));
      this.#pending.shift();
      while (this.#pending[0]?.reply) out.push((this.#pending.shift() as Pending).reply as Uint8Array);
    }
    return frameAll(out);
  }

  #enqueue(p: Pending): void {
    if (this.#pending.length >= this.#maxInFlight) {
      throw new KafkaInterceptError(
        'resource',
        `More than ${this.#maxInFlight} Kafka requests awaiting a response on one connection: closing it`,
      );
    }
    this.#pending.push(p);
  }
}
