import { readFileSync } from 'node:fs';
import { OckamError } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRequestHeader } from '../src/internal/connection.js';
import {
  APIS,
  ApiVersionsResponse,
  FetchRequest,
  FetchResponse,
  FindCoordinatorResponse,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../src/internal/messages.js';
import { decodeMessage, encodeMessage, type MessageSchema, type Struct } from '../src/internal/schema.js';
import { Reader, Writer } from '../src/internal/wire.js';

const SCHEMAS: Record<string, MessageSchema> = {
  Metadata: MetadataResponse,
  FindCoordinator: FindCoordinatorResponse,
  ApiVersions: ApiVersionsResponse,
  ProduceRequest,
  ProduceResponse,
  FetchRequest,
  FetchResponse,
};

const vectors = JSON.parse(readFileSync(new URL('./vectors/messages.json', import.meta.url), 'utf8')) as {
  vectors: { message: string; version: number; hex: string }[];
};

function roundTrip(
  schema: MessageSchema,
  version: number,
  bytes: Uint8Array,
): { value: Struct; again: Uint8Array } {
  const value = decodeMessage(new Reader(bytes, schema.name), schema, version);
  const w = new Writer();
  encodeMessage(w, schema, value, version);
  return { value, again: w.finish() };
}

describe('message codec against kafka-clients 3.7.2', () => {
  for (const v of vectors.vectors) {
    it(`${v.message} v${v.version} decodes and re-encodes to the same bytes`, () => {
      const schema = SCHEMAS[v.message] as MessageSchema;
      const bytes = Buffer.from(v.hex, 'hex');
      const { value, again } = roundTrip(schema, v.version, bytes);
      expect(Buffer.from(again).toString('hex')).toBe(v.hex);
      if (v.message === 'Metadata') {
        const broker = (value.Brokers as Struct[])[0] as Struct;
        expect(broker.Host).toBe('broker-1.example');
        expect(broker.Port).toBe(9092);
        const topic = (value.Topics as Struct[])[0] as Struct;
        expect(topic.Name).toBe('topic-a');
        if (v.version >= 10)
          expect(Buffer.from(topic.TopicId as Uint8Array).toString('hex')).toBe(
            '0123456789abcdef1122334455667788',
          );
      }
      if (v.message === 'FetchResponse') {
        const partitions = ((value.Responses as Struct[])[0] as Struct).Partitions as Struct[];
        const p = partitions[0] as Struct;
        expect(Buffer.from(p.Records as Uint8Array)).toEqual(Buffer.from([1, 2, 3, 4, 5]));
        expect(p.HighWatermark).toBe(100n);
      }
    });
  }

  it('covers every intercepted message at its lowest and highest version', () => {
    const have = new Set(vectors.vectors.map((v) => `${v.message}:${v.version}`));
    for (const need of [
      'Metadata:0',
      'Metadata:12',
      'FindCoordinator:0',
      'FindCoordinator:4',
      'ApiVersions:0',
      'ApiVersions:3',
      'ProduceRequest:3',
      'ProduceRequest:10',
      'FetchRequest:4',
      'FetchRequest:16',
      'FetchResponse:4',
      'FetchResponse:16',
    ]) {
      expect(have.has(need), need).toBe(true);
    }
  });

  it('fails with a serialization error, never a partial value, on random or truncated bytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(SCHEMAS)),
        fc.integer({ min: 0, max: 16 }),
        fc.uint8Array({ maxLength: 200 }),
        (name, version, bytes) => {
          try {
            roundTrip(SCHEMAS[name] as MessageSchema, version, bytes);
          } catch (e) {
            expect(OckamError.isKind(e, 'serialization', 'kafka')).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
    for (const v of vectors.vectors) {
      const bytes = Buffer.from(v.hex, 'hex');
      for (const cut of [1, Math.floor(bytes.length / 2), bytes.length - 1]) {
        expect(() =>
          roundTrip(SCHEMAS[v.message] as MessageSchema, v.version, bytes.subarray(0, cut)),
        ).toThrow(/Cannot decode/);
      }
    }
  });

  it('refuses an array count larger than the bytes left before allocating', () => {
    // Metadata v0: Brokers count 0x7fffffff with 4 bytes left.
    const bytes = Buffer.from('7fffffff00000000', 'hex');
    expect(() => roundTrip(MetadataResponse, 0, bytes)).toThrow(/count 2147483647 exceeds/);
  });
});

describe('request headers', () => {
  const header = (hex: string) => parseRequestHeader(Buffer.from(hex, 'hex'));

  it('reads v0 (ControlledShutdown v0: no client id), v1 (client id) and v2 (client id, tagged fields)', () => {
    expect(header('0007000000000005' + 'ffff')).toMatchObject({
      apiKey: 7,
      correlationId: 5,
      clientId: null,
      bodyOffset: 8,
    });
    expect(header('0011000100000006' + '000161' + 'ff')).toMatchObject({
      apiKey: 17,
      clientId: 'a',
      bodyOffset: 11,
    });
    // Heartbeat v4 is flexible: the client id stays a non-compact string, then tagged fields (one, 2 bytes).
    expect(header('000c000400000007' + '000162' + '01' + '0002abcd' + '00')).toMatchObject({
      apiKey: 12,
      apiVersion: 4,
      clientId: 'b',
      bodyOffset: 16,
    });
  });

  it('knows which request versions are flexible for every api key of Kafka 3.7', () => {
    expect(requestHeaderVersion(0, 8)).toBe(1);
    expect(requestHeaderVersion(0, 9)).toBe(2);
    expect(requestHeaderVersion(18, 3)).toBe(2);
    expect(responseHeaderVersion(18, 3)).toBe(0); // ApiVersions responses never have header v1
    expect(requestHeaderVersion(17, 1)).toBe(1); // SaslHandshake is never flexible
    expect(APIS.size).toBe(75);
  });

  it('refuses an api key Kafka 3.7 does not have', () => {
    expect(() => header('004b000000000001ffff')).toThrow(/Unknown Kafka api key 75/);
  });
});
