import { OckamError } from '@ockam/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type KafkaInletHooks, KafkaInletInterceptor, KafkaOutletInterceptor } from '../src/index.js';
import { FrameDecoder } from '../src/internal/frames.js';
import {
  ApiVersionsResponse,
  FetchRequest,
  FetchResponse,
  FindCoordinatorResponse,
  MetadataResponse,
  ProduceRequest,
  ProduceResponse,
} from '../src/internal/messages.js';
import { decodeRecords, splitBatches } from '../src/internal/records.js';
import { decodeMessage, type Struct } from '../src/internal/schema.js';
import { Reader } from '../src/internal/wire.js';
import {
  batch,
  concat,
  encode,
  fetchBody,
  frames,
  produceBody,
  requestFrame,
  responseFrame,
  vector,
} from './helpers.js';

/** Test-only hooks: "encryption" prefixes ENC: (the real hooks are another package's). */
function hooks(overrides: Partial<KafkaInletHooks> = {}) {
  const published: [string, number[]][] = [];
  const h: KafkaInletHooks = {
    brokerAddress: async (id) => ({ host: '127.0.0.1', port: 5000 + id }),
    publishConsumer: async (topic, partitions) => {
      published.push([topic, [...partitions]]);
    },
    encryptValue: async (_t, _p, plaintext) => concat(Buffer.from('ENC:'), plaintext),
    decryptValue: async (_t, _p, stored) => {
      if (Buffer.from(stored.subarray(0, 4)).toString() !== 'ENC:')
        throw Object.assign(new Error('no'), { reason: 'not ours' });
      return stored.subarray(4);
    },
    ...overrides,
  };
  return { h, published };
}

const OPTIONS = { encryptContent: true, encryptedFields: [] as string[] };
const body = (frame: Uint8Array, skip: number) => frame.subarray(4 + skip);
/** The first partition of the first topic of a decoded message. */
function firstPartition(m: Struct, topics: string, partitions: string): Struct {
  const topic = (m[topics] as Struct[])[0];
  const partition = (topic?.[partitions] as Struct[] | undefined)?.[0];
  if (!partition) throw new Error('no partition');
  return partition;
}

/** A response frame with only a correlation id before `body` (response header v0). */
function frameWithCorrelation(correlationId: number, body: Uint8Array): Uint8Array {
  const b = Buffer.alloc(8 + body.length);
  b.writeInt32BE(4 + body.length, 0);
  b.writeInt32BE(correlationId, 4);
  Buffer.from(body).copy(b, 8);
  return b;
}

describe('framing', () => {
  it('gives the same frames however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 50 }),
        (bodies, cuts) => {
          const bytes = Buffer.concat(
            bodies.map((b) => Buffer.concat([Buffer.from(Uint32Array.of(0).buffer), b])),
          );
          let at = 0;
          for (const b of bodies) {
            bytes.writeInt32BE(b.length, at);
            at += 4 + b.length;
          }
          const d = new FrameDecoder(1024, 'test');
          const got: string[] = [];
          let i = 0;
          let k = 0;
          while (i < bytes.length) {
            const n = cuts[k++ % cuts.length] as number;
            for (const f of d.push(bytes.subarray(i, i + n))) got.push(Buffer.from(f).toString('hex'));
            i += n;
          }
          expect(got).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
        },
      ),
    );
  });

  it('reassembles frames whose 4-byte length prefix is split across chunks', () => {
    const d = new FrameDecoder(1024, 'test');
    const bytes = Buffer.from('00000003abcdef00000001ff', 'hex');
    const got: string[] = [];
    for (const b of bytes) for (const f of d.push(Uint8Array.of(b))) got.push(Buffer.from(f).toString('hex'));
    expect(got).toEqual(['abcdef', 'ff']);
    expect(d.buffered).toBe(0);
  });

  it('keeps its own copy of a partial frame, so a caller may reuse its chunk after the call', () => {
    const d = new FrameDecoder(1024, 'test');
    const chunk = Buffer.from('00000004aabb', 'hex');
    expect(d.push(chunk)).toEqual([]);
    chunk.fill(0);
    expect(d.push(Buffer.from('ccdd', 'hex')).map((f) => Buffer.from(f).toString('hex'))).toEqual([
      'aabbccdd',
    ]);
  });

  it('returns several frames from one chunk', () => {
    const d = new FrameDecoder(1024, 'test');
    expect(
      d.push(Buffer.from('00000001aa00000002bbcc000000', 'hex')).map((f) => Buffer.from(f).toString('hex')),
    ).toEqual(['aa', 'bbcc']);
    expect(d.push(Buffer.from('01dd', 'hex')).map((f) => Buffer.from(f).toString('hex'))).toEqual(['dd']);
  });

  it('refuses zero, negative and oversized lengths before buffering them', () => {
    for (const hex of ['00000000', 'ffffffff', '00000401']) {
      expect(() => new FrameDecoder(1024, 'test').push(Buffer.from(hex, 'hex'))).toThrow(
        /Cannot decode test frame/,
      );
    }
  });
});

describe('KafkaInletInterceptor', () => {
  it('rewrites broker addresses in Metadata responses v0 and v12, even with every chunk one byte long', async () => {
    for (const version of [0, 12]) {
      const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
      const req = requestFrame(3, version, 7, new Uint8Array(version >= 9 ? [1, 0, 0, 0] : [0, 0, 0, 0]));
      let forwarded: Uint8Array = new Uint8Array(0);
      for (const b of req) forwarded = concat(forwarded, (await conn.request(Uint8Array.of(b))).forward);
      expect(Buffer.from(forwarded).equals(Buffer.from(req))).toBe(true);
      const res = responseFrame(3, version, 7, vector('Metadata', version));
      let out: Uint8Array = new Uint8Array(0);
      for (const b of res) out = concat(out, await conn.response(Uint8Array.of(b)));
      const [frame] = frames(out);
      const skip = version >= 9 ? 5 : 4;
      const m = decodeMessage(new Reader(frame as Uint8Array, 'm', skip), MetadataResponse, version);
      expect((m.Brokers as Struct[]).map((b) => [b.NodeId, b.Host, b.Port])).toEqual([
        [1, '127.0.0.1', 5001],
      ]);
      expect((m.Topics as Struct[])[0]?.Name).toBe('topic-a');
    }
  });

  it('rewrites FindCoordinator responses in both layouts (v0–3 top level, v4 coordinators)', async () => {
    for (const version of [0, 3, 4]) {
      const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
      await conn.request(requestFrame(10, version, 1, new Uint8Array(8)));
      const out = await conn.response(responseFrame(10, version, 1, vector('FindCoordinator', version)));
      const m = decodeMessage(
        new Reader(frames(out)[0] as Uint8Array, 'f', version >= 3 ? 5 : 4),
        FindCoordinatorResponse,
        version,
      );
      const c = version >= 4 ? ((m.Coordinators as Struct[])[0] as Struct) : m;
      expect([c.NodeId, c.Host, c.Port]).toEqual([2, '127.0.0.1', 5002]);
    }
  });

  it('clamps ApiVersions to the versions it decodes and drops unknown api keys', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
    await conn.request(requestFrame(18, 3, 1, new Uint8Array([1, 1, 0])));
    const out = await conn.response(responseFrame(18, 3, 1, vector('ApiVersions', 3)));
    const m = decodeMessage(new Reader(frames(out)[0] as Uint8Array, 'a', 4), ApiVersionsResponse, 3);
    expect((m.ApiKeys as Struct[]).map((k) => [k.ApiKey, k.MinVersion, k.MaxVersion])).toEqual([
      [0, 3, 10],
      [1, 4, 16],
    ]);
    // The supported/finalized features (tagged fields) come through unchanged.
    expect((m._tagged ?? []).map((t) => t.tag)).toEqual([0, 1, 3]);
  });

  it('answers an ApiVersions request newer than v3 itself, with UNSUPPORTED_VERSION in v0', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
    const { forward, reply } = await conn.request(requestFrame(18, 4, 9, new Uint8Array([1, 1, 0])));
    expect(forward.length).toBe(0);
    const m = decodeMessage(new Reader(frames(reply)[0] as Uint8Array, 'a', 4), ApiVersionsResponse, 0);
    expect(m.ErrorCode).toBe(35);
    expect((m.ApiKeys as Struct[]).map((k) => [k.ApiKey, k.MinVersion, k.MaxVersion])).toEqual([[18, 0, 3]]);
  });

  it('refuses LeaderAndIsr, UpdateMetadata, unknown api keys and too-new intercepted versions', async () => {
    for (const [key, version] of [
      [4, 7],
      [6, 8],
      [99, 0],
      [0, 11],
      [1, 17],
      [3, 13],
      [10, 5],
    ] as const) {
      const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
      const err = await conn.request(requestFrame(key, version, 1, new Uint8Array(4))).catch((e) => e);
      expect(OckamError.isKind(err, 'unsupported', 'kafka'), `${key} v${version}`).toBe(true);
    }
  });

  it('encrypts Produce values (tombstones stay null, keys and headers untouched) from a compressed batch', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
    const produce = produceBody(10, 't', 0, batch('zstd'), -1);
    const { forward } = await conn.request(requestFrame(0, 10, 1, produce));
    const sent = decodeMessage(new Reader(frames(forward)[0] as Uint8Array, 'p', 17), ProduceRequest, 10);
    const records = firstPartition(sent, 'TopicData', 'PartitionData').Records as Uint8Array;
    const b = splitBatches(records).batches[0];
    if (!b) throw new Error('no batch');
    expect(b.attributes & 7).toBe(0);
    const list = decodeRecords(b, 1 << 24);
    expect(Buffer.from(list[0]?.value as Uint8Array).toString()).toBe('ENC:hello world');
    expect(Buffer.from(list[0]?.key as Uint8Array).toString()).toBe('k1');
    expect(list[1]?.value).toBeNull();
    expect(list[2]?.headers.length).toBe(2);
  });

  it('answers a Produce it cannot encrypt with TOPIC_AUTHORIZATION_FAILED, after the responses before it', async () => {
    const { h } = hooks({
      encryptValue: async () =>
        Promise.reject(Object.assign(new Error('x'), { reason: 'consumer refused by policy' })),
    });
    const conn = new KafkaInletInterceptor(h, OPTIONS).connection();
    // A Metadata request in flight, then the Produce.
    await conn.request(requestFrame(3, 12, 1, new Uint8Array([1, 0, 0, 0])));
    const produce = produceBody(9, 't', 2, batch('none'), 1);
    const { forward, reply } = await conn.request(requestFrame(0, 9, 2, produce));
    expect(forward.length).toBe(0);
    expect(reply.length).toBe(0); // held: the Metadata response must come first
    const out = frames(await conn.response(responseFrame(3, 12, 1, vector('Metadata', 12))));
    expect(out.map((f) => new DataView(f.buffer, f.byteOffset).getInt32(0))).toEqual([1, 2]);
    const r = decodeMessage(new Reader(out[1] as Uint8Array, 'r', 5), ProduceResponse, 9);
    const p = firstPartition(r, 'Responses', 'PartitionResponses');
    expect([p.Index, p.ErrorCode]).toEqual([2, 29]);
    expect(p.ErrorMessage).toMatch(/consumer refused by policy/);
  });

  it("forwards the partitions it could encrypt and adds the failed ones to the broker's Produce response", async () => {
    const { h } = hooks({
      encryptValue: async (_t, partition, plaintext) => {
        if (partition === 1) throw Object.assign(new Error('x'), { reason: 'no key for partition 1' });
        return concat(Buffer.from('ENC:'), plaintext);
      },
    });
    const conn = new KafkaInletInterceptor(h, OPTIONS).connection();
    const two = encode(
      ProduceRequest,
      {
        TransactionalId: null,
        Acks: -1,
        TimeoutMs: 1000,
        TopicData: [
          {
            Name: 't',
            PartitionData: [
              { Index: 0, Records: batch('none'), _tagged: [] },
              { Index: 1, Records: batch('none'), _tagged: [] },
            ],
            _tagged: [],
          },
        ],
        _tagged: [],
      },
      10,
    );
    const { forward } = await conn.request(requestFrame(0, 10, 4, two));
    const sent = decodeMessage(new Reader(frames(forward)[0] as Uint8Array, 'p', 17), ProduceRequest, 10);
    expect(((sent.TopicData as Struct[])[0] as Struct).PartitionData).toMatchObject([{ Index: 0 }]);
    const brokerAnswer = encode(
      ProduceResponse,
      {
        Responses: [
          {
            Name: 't',
            PartitionResponses: [{ Index: 0, ErrorCode: 0, BaseOffset: 7n, RecordErrors: [], _tagged: [] }],
            _tagged: [],
          },
        ],
        _tagged: [],
      },
      10,
    );
    const out = await conn.response(responseFrame(0, 10, 4, brokerAnswer));
    const r = decodeMessage(new Reader(frames(out)[0] as Uint8Array, 'r', 5), ProduceResponse, 10);
    const parts = ((r.Responses as Struct[])[0] as Struct).PartitionResponses as Struct[];
    expect(parts.map((p) => [p.Index, p.ErrorCode, p.BaseOffset])).toEqual([
      [0, 0, 7n],
      [1, 29, -1n],
    ]);
  });

  it('answers nothing to an acks=0 Produce it cannot encrypt, and keeps later responses in order', async () => {
    const { h } = hooks({ encryptValue: async () => Promise.reject(new Error('refused')) });
    const conn = new KafkaInletInterceptor(h, OPTIONS).connection();
    const { forward, reply } = await conn.request(
      requestFrame(0, 9, 1, produceBody(9, 't', 0, batch('none'), 0)),
    );
    expect([forward.length, reply.length]).toEqual([0, 0]);
    await conn.request(requestFrame(3, 12, 2, new Uint8Array([1, 0, 0, 0])));
    const out = frames(await conn.response(responseFrame(3, 12, 2, vector('Metadata', 12))));
    expect(out.length).toBe(1);
  });

  it('reads an ApiVersions answer in v0 when the broker did not know the version asked (UNSUPPORTED_VERSION)', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
    await conn.request(requestFrame(18, 3, 1, new Uint8Array([1, 1, 0])));
    const v0 = encode(
      ApiVersionsResponse,
      { ErrorCode: 35, ApiKeys: [{ ApiKey: 18, MinVersion: 0, MaxVersion: 2 }] },
      0,
    );
    const out = await conn.response(frameWithCorrelation(1, v0));
    const m = decodeMessage(new Reader(frames(out)[0] as Uint8Array, 'a', 4), ApiVersionsResponse, 0);
    expect([m.ErrorCode, (m.ApiKeys as Struct[])[0]?.MaxVersion]).toEqual([35, 2]);
  });

  it("scales a Fetch's byte limits by the growth of encrypted values, and caps them below its frame limit", async () => {
    const request = (maxBytes: number, partitionMaxBytes: number) =>
      requestFrame(
        1,
        12,
        7,
        encode(
          FetchRequest,
          {
            ReplicaId: -1,
            MaxWaitMs: 500,
            MinBytes: 1,
            MaxBytes: maxBytes,
            IsolationLevel: 0,
            SessionId: 0,
            SessionEpoch: -1,
            Topics: [
              {
                Topic: 'topic-a',
                Partitions: [
                  {
                    Partition: 3,
                    CurrentLeaderEpoch: 0,
                    FetchOffset: 10n,
                    LastFetchedEpoch: -1,
                    LogStartOffset: -1n,
                    PartitionMaxBytes: partitionMaxBytes,
                  },
                ],
              },
            ],
            ForgottenTopicsData: [],
            RackId: '',
          },
          12,
        ),
      );
    const limits = async (
      options: typeof OPTIONS & { maxFrameSize?: number },
      max: number,
      partition: number,
    ) => {
      const { forward } = await new KafkaInletInterceptor(hooks().h, options)
        .connection()
        .request(request(max, partition));
      const m = decodeMessage(new Reader(frames(forward)[0] as Uint8Array, 'f', 17), FetchRequest, 12);
      const p = firstPartition(m, 'Topics', 'Partitions');
      return [m.MaxBytes, p.PartitionMaxBytes, p.FetchOffset];
    };
    // Whole values decrypted: a 1 MB partition fetch asks the broker for 1.875 MB of stored records.
    expect(await limits(OPTIONS, 4 << 20, 1 << 20)).toEqual([7.5 * (1 << 20), 1.875 * (1 << 20), 10n]);
    // A client's default fetch.max.bytes (50 MB) is capped below the 16 MB frame limit.
    expect(await limits(OPTIONS, 52_428_800, 1 << 20)).toEqual([
      (16 << 20) - (64 << 10),
      1.875 * (1 << 20),
      10n,
    ]);
    // Without decryption only the cap applies; within it, the frame goes on as it came.
    const plain = { ...OPTIONS, encryptContent: false };
    expect(await limits(plain, 4 << 20, 1 << 20)).toEqual([4 << 20, 1 << 20, 10n]);
    const same = request(4 << 20, 1 << 20);
    const { forward } = await new KafkaInletInterceptor(hooks().h, plain).connection().request(same);
    expect(Buffer.from(forward).equals(Buffer.from(same))).toBe(true);
    expect(await limits({ ...plain, maxFrameSize: 1 << 20 }, 4 << 20, 1 << 20)).toEqual([
      960 << 10,
      960 << 10,
      10n,
    ]);
    // With chosen fields only, values barely grow: no scaling.
    expect(await limits({ ...OPTIONS, encryptedFields: ['a'] }, 4 << 20, 1 << 20)).toEqual([
      4 << 20,
      1 << 20,
      10n,
    ]);
  });

  it('publishes the consumer for each fetched topic and decrypts Fetch responses', async () => {
    const { h, published } = hooks();
    const conn = new KafkaInletInterceptor(h, OPTIONS).connection();
    await conn.request(requestFrame(1, 12, 1, body(Buffer.from(vector('FetchRequest', 12)), -4)));
    expect(published).toEqual([['topic-a', [3]]]);
    // The producer side's output, as stored.
    const produced = await new KafkaInletInterceptor(h, OPTIONS)
      .connection()
      .request(requestFrame(0, 9, 1, produceBody(9, 'topic-a', 3, batch('gzip'), 1)));
    const sent = decodeMessage(
      new Reader(frames(produced.forward)[0] as Uint8Array, 'p', 17),
      ProduceRequest,
      9,
    );
    const stored = firstPartition(sent, 'TopicData', 'PartitionData').Records as Uint8Array;
    const fetch = fetchBody(12, 'topic-a', 3, concat(stored, batch('control')));
    const out = await conn.response(responseFrame(1, 12, 1, fetch));
    const m = decodeMessage(new Reader(frames(out)[0] as Uint8Array, 'f', 5), FetchResponse, 12);
    const p = firstPartition(m, 'Responses', 'Partitions');
    expect(p.ErrorCode).toBe(0);
    const { batches } = splitBatches(p.Records as Uint8Array);
    expect(batches.length).toBe(2);
    expect(Buffer.from(decodeRecords(batches[0] as never, 1 << 24)[0]?.value as Uint8Array).toString()).toBe(
      'hello world',
    );
    // The transaction marker passes as it came.
    expect(Buffer.from((batches[1] as { raw: Uint8Array }).raw).equals(Buffer.from(batch('control')))).toBe(
      true,
    );
  });

  it('answers a Fetch whose first record cannot be decrypted with CORRUPT_MESSAGE and no records, and logs where', async () => {
    const logs: [string, string, Record<string, unknown> | undefined][] = [];
    const conn = new KafkaInletInterceptor(hooks().h, {
      ...OPTIONS,
      log: (l, m, f) => logs.push([l, m, f]),
    }).connection();
    await conn.request(requestFrame(1, 12, 1, body(Buffer.from(vector('FetchRequest', 12)), -4)));
    const fetch = fetchBody(12, 'topic-a', 3, batch('none'));
    const out = await conn.response(responseFrame(1, 12, 1, fetch));
    const m = decodeMessage(new Reader(frames(out)[0] as Uint8Array, 'f', 5), FetchResponse, 12);
    const p = firstPartition(m, 'Responses', 'Partitions');
    expect(p.ErrorCode).toBe(2);
    expect((p.Records as Uint8Array).length).toBe(0);
    expect(logs.find((l) => l[0] === 'error')?.[2]).toMatchObject({
      topic: 'topic-a',
      partition: 3,
      offset: '5',
      reason: 'not ours',
    });
  });

  it('bounds the requests in flight and forgets each one when its response comes', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, { ...OPTIONS, maxInFlight: 3 }).connection();
    for (let i = 0; i < 3; i++) await conn.request(requestFrame(12, 4, i, new Uint8Array([0, 0, 0, 0])));
    await conn.response(responseFrame(12, 4, 0, new Uint8Array([0, 0, 0, 0, 0, 0, 0])));
    await conn.request(requestFrame(12, 4, 3, new Uint8Array([0, 0, 0, 0])));
    const err = await conn.request(requestFrame(12, 4, 4, new Uint8Array([0, 0, 0, 0]))).catch((e) => e);
    expect(OckamError.isKind(err, 'resource', 'kafka')).toBe(true);
  });

  it('refuses a response that answers no request in flight', async () => {
    const conn = new KafkaInletInterceptor(hooks().h, OPTIONS).connection();
    await expect(conn.response(responseFrame(12, 4, 5, new Uint8Array(7)))).rejects.toThrow(
      /answers no request/,
    );
  });
});

describe('KafkaOutletInterceptor', () => {
  it('reports every broker of a Metadata response and forwards its bytes unchanged', async () => {
    const seen: [number, string, number][] = [];
    const conn = new KafkaOutletInterceptor({
      brokerSeen: async (id, a) => void seen.push([id, a.host, a.port]),
    }).connection();
    // Produce v9, null transactional id, acks -1: a response will come.
    await conn.request(requestFrame(0, 9, 1, new Uint8Array([0, 0xff, 0xff])));
    const req = requestFrame(3, 12, 2, new Uint8Array([1, 0, 0, 0]));
    expect(Buffer.from((await conn.request(req)).forward).equals(Buffer.from(req))).toBe(true);
    await conn.response(responseFrame(0, 9, 1, new Uint8Array([1, 0, 0, 0, 0, 0])));
    const res = responseFrame(3, 12, 2, vector('Metadata', 12));
    expect(Buffer.from(await conn.response(res)).equals(Buffer.from(res))).toBe(true);
    expect(seen).toEqual([[1, 'broker-1.example', 9092]]);
  });

  it('expects no response to a Produce with acks=0', async () => {
    const conn = new KafkaOutletInterceptor({ brokerSeen: async () => {} }).connection();
    await conn.request(requestFrame(0, 9, 1, new Uint8Array([1, 0, 0])));
    await conn.request(requestFrame(3, 12, 2, new Uint8Array([1, 0, 0, 0])));
    const res = responseFrame(3, 12, 2, vector('Metadata', 12));
    expect((await conn.response(res)).length).toBe(res.length);
  });
});
