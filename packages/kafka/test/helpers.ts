import { readFileSync } from 'node:fs';
import { frameAll } from '../src/internal/frames.js';
import {
  FetchResponse,
  ProduceRequest,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../src/internal/messages.js';
import { encodeMessage, type MessageSchema, type Struct } from '../src/internal/schema.js';
import { Writer } from '../src/internal/wire.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors/messages.json', import.meta.url), 'utf8')) as {
  vectors: { message: string; version: number; hex: string }[];
};
const batches = JSON.parse(readFileSync(new URL('./vectors/batches.json', import.meta.url), 'utf8')) as {
  batches: { name: string; hex: string }[];
};

export function vector(message: string, version: number): Uint8Array {
  const v = vectors.vectors.find((x) => x.message === message && x.version === version);
  if (!v) throw new Error(`no vector ${message} v${version}`);
  return Buffer.from(v.hex, 'hex');
}

export function batch(name: string): Uint8Array {
  return Buffer.from(batches.batches.find((b) => b.name === name)?.hex ?? '', 'hex');
}

/** A framed request: header for (apiKey, version) + body. */
export function requestFrame(
  apiKey: number,
  version: number,
  correlationId: number,
  body: Uint8Array,
): Uint8Array {
  const w = new Writer();
  w.int16(apiKey).int16(version).int32(correlationId);
  const hv = requestHeaderVersion(apiKey, version);
  if (hv >= 1) w.int16(6).bytes(new TextEncoder().encode('client'));
  if (hv === 2) w.uvarint(0);
  w.bytes(body);
  return frameAll([w.finish()]);
}

/** A framed response to (apiKey, version) with this body. */
export function responseFrame(
  apiKey: number,
  version: number,
  correlationId: number,
  body: Uint8Array,
): Uint8Array {
  const w = new Writer();
  w.int32(correlationId);
  if (responseHeaderVersion(apiKey, version) === 1) w.uvarint(0);
  w.bytes(body);
  return frameAll([w.finish()]);
}

export function encode(schema: MessageSchema, value: Struct, version: number): Uint8Array {
  const w = new Writer();
  encodeMessage(w, schema, value, version);
  return w.finish();
}

/** Splits framed bytes into frame bodies. */
export function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at < bytes.length) {
    const n = view.getInt32(at);
    out.push(bytes.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** A Produce request body with one partition's records. */
export function produceBody(
  version: number,
  topic: string,
  partition: number,
  records: Uint8Array,
  acks = -1,
): Uint8Array {
  return encode(
    ProduceRequest,
    {
      TransactionalId: null,
      Acks: acks,
      TimeoutMs: 1000,
      TopicData: [
        { Name: topic, PartitionData: [{ Index: partition, Records: records, _tagged: [] }], _tagged: [] },
      ],
      _tagged: [],
    },
    version,
  );
}

/** A Fetch response body with one partition's records. */
export function fetchBody(
  version: number,
  topic: string,
  partition: number,
  records: Uint8Array,
): Uint8Array {
  return encode(
    FetchResponse,
    {
      Responses: [
        {
          Topic: topic,
          Partitions: [
            {
              PartitionIndex: partition,
              HighWatermark: 8n,
              AbortedTransactions: null,
              Records: records,
              _tagged: [],
            },
          ],
          _tagged: [],
        },
      ],
      _tagged: [],
    },
    version,
  );
}
