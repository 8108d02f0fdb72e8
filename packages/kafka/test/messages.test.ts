import { readFileSync } from 'node:fs';
import { OckamError } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ApiVersionsResponse,
  FetchRequest,
  FetchResponse,
  FindCoordinatorResponse,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
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
