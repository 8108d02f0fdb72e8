/**
 * Fuzzing of every decoder of network input: random bytes and mutations of valid encodings
 * (bit flips, truncation, extension, splicing, inflated length fields), 100,000+ inputs in all.
 * A decoder may accept an input or reject it with a typed error (an OckamError from any package);
 * anything else fails with the input in hex. Each chunk of 1,000 inputs is timed and the memory
 * of the process watched, and declared lengths over every cap are checked not to allocate.
 */

import { readFileSync } from 'node:fs';
import { parseBooleanExpr, parseExpr, parsePolicyExpression } from '@ockam/abac';
import { decodeLegacyExpr, encodeLegacyExpr } from '@ockam/abac/codec';
import {
  Address,
  concatBytes,
  decodeBareString,
  decodeCbor,
  decodeLegacyTransportMessage,
  decodeTransportMessage,
  decodeTransportMessageParts,
  encodeBareString,
  encodeCbor,
  encodeLegacyTransportMessage,
  encodeTransportMessage,
  LocalMessage,
  MAX_MESSAGE_SIZE,
  MAX_ROUTE_LENGTH,
  MultiAddr,
  Node,
  OckamError,
  startEcho,
  startHop,
  toHex,
  utf8,
} from '@ockam/core';
import {
  createOneTimeCode,
  decodeEnrollmentTicket,
  encodeEnrollmentTicket,
  encodeLegacyEnrollmentTicket,
  issueCredential,
  verifyCredential,
} from '@ockam/credentials';
import {
  decodeAddMember,
  decodeApiErrorBody,
  decodeApiRequest,
  decodeApiResponse,
  decodeCreateToken,
  decodeMemberList,
  decodeOneTimeCode,
  encodeAddMember,
  encodeApiErrorBody,
  encodeApiRequest,
  encodeApiResponse,
  encodeCreateToken,
  encodeMemberList,
  encodeOneTimeCode,
} from '@ockam/credentials/codec';
import {
  createIdentity,
  createPurposeKey,
  type Identity,
  importIdentity,
  rotateIdentity,
} from '@ockam/identity';
import {
  decodeChangeHistory,
  decodeCredentialAndPurposeKey,
  decodePurposeKeyAttestation,
} from '@ockam/identity/codec';
import { KafkaInletInterceptor, KafkaOutletInterceptor } from '@ockam/kafka';
import { decodePortalMessage, encodePortalMessage } from '@ockam/portals/codec';
import { Decryptor, Encryptor, HandshakeState, OCKAM_PROTOCOL_NAME } from '@ockam/secure-channel';
import {
  decodeIdentityAndCredentials,
  decodeSecureChannelMessage,
  encodeIdentityAndCredentials,
  encodeSecureChannelMessage,
} from '@ockam/secure-channel/codec';
import { encodeFrame, FrameDecoder } from '@ockam/transport-tcp';
import {
  decodeNegotiationMessage,
  decodePunctureMessage,
  decodeRendezvousRequest,
  decodeRendezvousResponse,
  decodeUdpTransportMessage,
  encodeNegotiationMessage,
  encodePunctureMessage,
  encodeRendezvousRequest,
  encodeRendezvousResponse,
  fragmentRoutingMessage,
  Reassembler,
} from '@ockam/transport-udp/codec';
import { createVault } from '@ockam/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describe as describeError,
  type FuzzReport,
  type FuzzTarget,
  forceGc,
  formatReport,
  fuzz,
  mib,
  Rng,
  runSeed,
} from '../src/fuzz.js';
import { controlRequest, OckamEnv, pidAlive } from '../src/ockam.js';

const SEED = runSeed();
const EMPTY = new Uint8Array(0);
const reports: FuzzReport[] = [];
const lossy = new TextDecoder('utf-8', { fatal: false });
const text = (bytes: Uint8Array): string => lossy.decode(bytes);

/** A chunk of 1,000 calls of a decoder taking longer than this is a hang, not a slow machine. */
const MAX_CHUNK_MS = 30_000;
/** Memory a decoder's garbage may pile up between collections; far below 1,000 × 16 MiB. */
const MAX_GROWTH = 512 * 1024 * 1024;

async function check(target: FuzzTarget): Promise<void> {
  const report = await fuzz(target, SEED);
  reports.push(report);
  console.log(formatReport(report));
  expect(report.inputs).toBe(target.count);
  expect(report.maxChunkMs).toBeLessThan(MAX_CHUNK_MS);
  expect(report.maxArrayBufferGrowth).toBeLessThan(MAX_GROWTH);
  expect(report.maxRssGrowth).toBeLessThan(MAX_GROWTH);
}

const vault = createVault('node');

function message(onward: string[], ret: string[], payload: Uint8Array, tracing?: string): LocalMessage {
  return new LocalMessage(
    onward.map((a) => Address.parse(a)),
    ret.map((a) => Address.parse(a)),
    payload,
    undefined,
    tracing,
  );
}

const MESSAGES = [
  message(['echo'], ['app'], Uint8Array.of(1, 2, 3)),
  message(['1#127.0.0.1:4000', 'service', 'echo'], ['0#client', '1#127.0.0.1:5000'], utf8('hello ockam!')),
  message([], [], EMPTY),
  message(
    ['a'.repeat(200)],
    ['x'],
    new Uint8Array(1000).fill(7),
    '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}',
  ),
  message(['0#api', '0#outlet'], ['0#inlet'], new Uint8Array(70_000).fill(0xab)),
];

describe('decoders of network input fed random and mutated bytes', () => {
  beforeAll(() => {
    console.log(`FUZZ seed ${SEED} (replay with HARDENING_SEED=${SEED})`);
  });

  afterAll(() => {
    const total = reports.reduce((n, r) => n + r.inputs, 0);
    const rejected = reports.reduce((n, r) => n + r.rejected, 0);
    const slowest = reports.reduce((m, r) => Math.max(m, r.maxCallMs), 0);
    console.log(
      `FUZZ SUMMARY: ${total} inputs over ${reports.length} decoders (${rejected} rejected with typed errors, ` +
        `${total - rejected} accepted), no untyped error, slowest single call ${slowest.toFixed(1)} ms, seed ${SEED}`,
    );
  });

  describe('@ockam/core', () => {
    const transport = MESSAGES.map((m) => encodeTransportMessage(m));
    const legacy = MESSAGES.map((m) => encodeLegacyTransportMessage(m));

    it('decodeTransportMessage rejects every malformed transport message with a typed error', async () => {
      await check({
        name: 'core decodeTransportMessage',
        corpus: transport,
        count: 6000,
        run: decodeTransportMessage,
      });
    });

    it('decodeLegacyTransportMessage rejects every malformed BARE message with a typed error', async () => {
      await check({
        name: 'core decodeLegacyTransportMessage',
        corpus: legacy,
        count: 5000,
        run: decodeLegacyTransportMessage,
      });
    });

    it('decodeCbor rejects malformed CBOR (indefinite lengths, deep nesting, huge lengths) with a typed error', async () => {
      const values = [
        encodeCbor([
          1,
          -1,
          2n ** 64n - 1n,
          'text',
          Uint8Array.of(1, 2),
          true,
          null,
          1.5,
          [[[]]],
          new Map([[1, 'a']]),
        ]),
        encodeCbor({ tag: 24, value: Uint8Array.of(0x80) }),
        encodeCbor(new Map<never, never>([['k' as never, [1, 2, 3] as never]])),
        Uint8Array.of(0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x80),
        ...transport,
      ];
      await check({ name: 'core decodeCbor', corpus: values, count: 6000, run: decodeCbor });
    });

    it('decodeBareString rejects malformed BARE strings with a typed error', async () => {
      const corpus = ['', 'hello', 'é😀', 'x'.repeat(300)].map((s) => encodeBareString(s));
      await check({ name: 'core decodeBareString', corpus, count: 3000, run: decodeBareString });
    });

    it('MultiAddr.decode and MultiAddr.parse reject malformed multiaddrs with a typed error', async () => {
      const texts = [
        '/ip4/127.0.0.1/tcp/4000/service/echo',
        '/ip6/::1/tcp/4000/secure/api/service/outlet',
        '/dnsaddr/localhost/tcp/4000/node/n1/service/uppercase',
        '/node/n1/node/n2/service/hop/service/echo',
        '/worker/0123abcd/project/p/space/s',
      ];
      const binary = texts.map((t) => MultiAddr.parse(t).encode());
      await check({
        name: 'core MultiAddr.decode',
        corpus: binary,
        count: 4000,
        run: (b) => MultiAddr.decode(b),
      });
      await check({
        name: 'core MultiAddr.parse',
        corpus: texts.map((t) => utf8(t)),
        count: 2000,
        run: (b) => MultiAddr.parse(text(b)),
      });
    });
  });

  describe('@ockam/transport-tcp', () => {
    it('FrameDecoder splits random chunk streams into frames or fails typed, and frames decode or fail typed', async () => {
      const frames = MESSAGES.map((m) => encodeFrame(m));
      const huge = (n: number) =>
        Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
      const corpus = [
        ...frames.map((f) => Uint8Array.of(1, ...f.subarray(0, Math.min(f.length, 4096)))),
        Uint8Array.of(1, ...frames[0]!, ...frames[1]!),
        Uint8Array.of(1, ...huge(MAX_MESSAGE_SIZE), 0x83),
        Uint8Array.of(1, ...huge(MAX_MESSAGE_SIZE + 1)),
        Uint8Array.of(1, ...huge(0xffffffff)),
        Uint8Array.of(1, ...huge(0)),
      ];
      let framesOut = 0;
      let maxBuffered = 0;
      await check({
        name: 'transport-tcp FrameDecoder (+ decodeTransportMessage)',
        corpus,
        count: 3000,
        run: (stream) => {
          // A stream starts with the version byte most of the time, and is cut into random chunks.
          const decoder = new FrameDecoder();
          const rng = new Rng(stream.length * 2654435761);
          for (let o = 0; o < stream.length; ) {
            const n = 1 + rng.int(Math.min(512, stream.length - o));
            decoder.push(stream.subarray(o, o + n));
            o += n;
            for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
              framesOut++;
              try {
                decodeTransportMessage(frame);
              } catch (e) {
                if (!OckamError.is(e)) throw e;
              }
            }
            maxBuffered = Math.max(maxBuffered, decoder.buffered);
          }
        },
      });
      console.log(
        `  FrameDecoder: ${framesOut} frames out of the mutated streams, at most ${maxBuffered} bytes buffered`,
      );
    });

    it('FrameDecoder refuses a declared length over 16 MiB before buffering and never allocates for one under it', () => {
      forceGc();
      const before = process.memoryUsage().arrayBuffers;
      let refused = 0;
      let peak = 0;
      for (let i = 0; i < 1000; i++) {
        const under = new FrameDecoder();
        under.push(Uint8Array.of(1, 0x00, 0xff, 0xff, 0xff, 0x83)); // declares 16 MiB − 1, sends 1 byte
        expect(under.next()).toBeUndefined();
        const over = new FrameDecoder();
        over.push(Uint8Array.of(1, 0x01, 0x00, 0x00, 0x01));
        try {
          over.next();
        } catch (e) {
          expect(OckamError.is(e)).toBe(true);
          refused++;
        }
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
      }
      console.log(
        `  FrameDecoder: 1000 declared 16 MiB−1 frames held ${mib(peak)} MiB at peak; ${refused} over-cap lengths refused`,
      );
      expect(refused).toBe(1000);
      expect(peak).toBeLessThan(16 * 1024 * 1024);
    });
  });

  describe('routes and nested forwarding, structure-aware', () => {
    /** Workers a route may name that nobody exposed to the network: a channel's encryptor, a TCP sender to another node… */
    const INTERNAL = ['encryptor_0f3a9c', 'tcp_sender_77aa01', 'decryptor_internal_1b2c'];
    /** What a node exposes to its listener, hop enabled: two hop workers, so chains can alternate. */
    const EXPOSED = ['hop', 'hop2', 'echo'];
    const LENGTHS = [
      0,
      1,
      2,
      3,
      MAX_ROUTE_LENGTH - 1,
      MAX_ROUTE_LENGTH,
      MAX_ROUTE_LENGTH + 1,
      64,
      1000,
      20_000,
    ];
    const ODD_VALUES = ['', '#', 'hop#echo', 'é😀', ' hop', 'HOP', 'x'.repeat(1024), 'x'.repeat(1025)];

    function randomAddress(rng: Rng): Address {
      switch (rng.int(10)) {
        case 0:
        case 1:
        case 2:
          return Address.local(rng.pick(EXPOSED));
        case 3:
        case 4:
          return Address.local(rng.pick(INTERNAL));
        case 5:
          return new Address(1 + rng.int(5), rng.pick(['127.0.0.1:1', '[::1]:1', 'localhost:1', '']));
        case 6:
          return new Address(rng.int(256), text(rng.bytes(rng.int(12))));
        case 7:
          return Address.local(rng.pick(ODD_VALUES));
        default:
          return Address.local(`w${rng.int(4)}`);
      }
    }

    /** Mostly short routes, often at and around the cap, sometimes huge; a third are hop chains. */
    function randomRoute(rng: Rng): Address[] {
      const n = rng.bool(0.6) ? rng.int(6) : rng.pick(LENGTHS);
      if (n > 0 && rng.bool(0.35)) {
        // hop, hop2, hop, … (or hop, hop: a worker sending to itself), then anything: often internal.
        const chain = Array.from({ length: n - 1 }, (_, i) =>
          Address.local(rng.bool(0.85) ? (i % 2 === 0 ? 'hop' : 'hop2') : 'hop'),
        );
        return [...chain, rng.bool(0.5) ? Address.local(rng.pick(INTERNAL)) : randomAddress(rng)];
      }
      return Array.from({ length: n }, () => randomAddress(rng));
    }

    function structuredMessage(rng: Rng): LocalMessage {
      const payload = rng.bytes(rng.int(rng.bool(0.9) ? 16 : 4096));
      const tracing = rng.bool(0.1) ? text(rng.bytes(rng.int(40))) : undefined;
      return new LocalMessage(randomRoute(rng), randomRoute(rng), payload, undefined, tracing);
    }

    /** What a decoded message may be: routes within the cap, built from no more than the frame holds. */
    function checkDecoded(m: LocalMessage, wire: number): LocalMessage {
      let valueBytes = 0;
      for (const r of [m.onwardRoute, m.returnRoute]) {
        if (r.length > MAX_ROUTE_LENGTH) throw new Error(`a route of ${r.length} addresses got through`);
        for (const a of r.addresses) valueBytes += a.value.length;
      }
      if (valueBytes + m.payloadLength > wire)
        throw new Error(
          `decoded ${valueBytes + m.payloadLength} bytes of addresses and payload from ${wire}`,
        );
      return m;
    }

    const seeds = (encode: (m: LocalMessage) => Uint8Array) =>
      Array.from({ length: 40 }, (_, i) => encode(structuredMessage(new Rng(SEED + i))));

    it('transport message decoders build no route over MAX_ROUTE_LENGTH, whole or in pieces, and fail typed', async () => {
      await check({
        name: 'core routes: decodeTransportMessage',
        corpus: seeds(encodeTransportMessage),
        generate: (rng) => encodeTransportMessage(structuredMessage(rng)),
        count: 5000,
        run: (b) => checkDecoded(decodeTransportMessage(b), b.length),
      });
      const rng = new Rng(SEED ^ 0x9a7);
      await check({
        name: 'core routes: decodeTransportMessageParts',
        corpus: seeds(encodeTransportMessage),
        generate: (r) => encodeTransportMessage(structuredMessage(r)),
        count: 3000,
        run: (b) => {
          // Cut as socket reads would: one to four pieces at random points.
          const cuts = [...new Set(Array.from({ length: rng.int(4) }, () => rng.int(b.length + 1)))].sort(
            (x, y) => x - y,
          );
          const parts = [0, ...cuts].map((c, i) => b.subarray(c, cuts[i] ?? b.length));
          return checkDecoded(decodeTransportMessageParts(parts), b.length);
        },
      });
      await check({
        name: 'core routes: decodeLegacyTransportMessage',
        corpus: seeds(encodeLegacyTransportMessage),
        generate: (r) => encodeLegacyTransportMessage(structuredMessage(r)),
        count: 4000,
        run: (b) => checkDecoded(decodeLegacyTransportMessage(b), b.length),
      });
    });

    it('a router fed structured frames by a network producer never delivers to a worker not exposed to it, through any chain of hops', async () => {
      const node = new Node({ name: 'fuzz' });
      startEcho(node);
      startHop(node, 'hop');
      startHop(node, 'hop2');
      const listenerId = node.flowControls.generateId();
      node.flowControls.addSpawner(node.startProcessor('listener').address, listenerId);
      for (const a of EXPOSED) node.flowControls.addConsumer(a, listenerId);
      const reached = new Map<string, number>();
      for (const a of INTERNAL)
        node.startWorker(a, { handleMessage: () => void reached.set(a, (reached.get(a) ?? 0) + 1) });
      // The peer's connection: its receiver (a producer the listener spawned) and its sender.
      let replies = 0;
      let throughHops = 0;
      node.startWorker('sender', {
        handleMessage: (_c, { message }) => {
          replies++;
          if (message.returnRoute.addresses[0]?.value.startsWith('hop')) throughHops++;
        },
      });
      const receiver = node.startProcessor('receiver');
      node.flowControls.addProducer('receiver', node.flowControls.generateId(), listenerId);
      const settle = () => new Promise<void>((r) => setImmediate(r));
      try {
        await check({
          name: 'core router: frames from a network producer',
          corpus: seeds(encodeTransportMessage),
          generate: (rng) => encodeTransportMessage(structuredMessage(rng)),
          count: 5000,
          run: async (b) => {
            // What the TCP connection does with a frame (PROTOCOL.md §1.3, §2.1).
            const m = checkDecoded(decodeTransportMessage(b), b.length);
            if (m.onwardRoute.isEmpty) return;
            const routed = new LocalMessage(
              m.onwardRoute,
              m.returnRoute.prepend(Address.local('sender')),
              m.payload,
            );
            // A typed refusal (no such worker, an unresolved transport address) is kept for after
            // the check: whatever the hops forward happens before the next turn of the event loop.
            const refused = await node.route(receiver.address, routed).then(
              () => undefined,
              (e: unknown) => e,
            );
            await settle();
            for (const [a, n] of reached)
              if (n > 0) throw new Error(`${a} received ${n} message(s) from the network`);
            if (refused !== undefined) throw refused;
          },
        });
      } finally {
        await node.stop();
      }
      console.log(
        `  router: ${replies} replies reached the peer's sender, ${throughHops} of them back through hops`,
      );
      expect(replies).toBeGreaterThan(0);
      expect(throughHops).toBeGreaterThan(0);
      expect([...reached.values()].reduce((a, b) => a + b, 0)).toBe(0);
    });
  });

  describe('decoders given a declared length over their caps', () => {
    it('allocate nothing of that size (measured on arrayBuffers after each of 200 calls each)', () => {
      const rest = new Uint8Array(64 * 1024).fill(0x80);
      const cases: Array<[string, () => unknown]> = [
        ['decodeCbor bytes 2^32−1', () => decodeCbor(Uint8Array.of(0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2))],
        [
          'decodeCbor array 2^63',
          () => decodeCbor(Uint8Array.of(0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)),
        ],
        [
          'decodeBareString 2^35',
          () => decodeBareString(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x41)),
        ],
        [
          'decodeLegacyTransportMessage',
          () => decodeLegacyTransportMessage(Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0)),
        ],
        [
          'decodePortalMessage 16 MiB+1',
          () => decodePortalMessage(Uint8Array.of(3, 0x81, 0x80, 0x80, 0x08, 1)),
        ],
        [
          'decodeTransportMessage route 2^32−1',
          () => decodeTransportMessage(Uint8Array.of(0x83, 0x9a, 0xff, 0xff, 0xff, 0xff, 0x82, 0x00, 0x40)),
        ],
        [
          'decodeTransportMessageParts route 2^32−1',
          () => decodeTransportMessageParts([Uint8Array.of(0x83, 0x9a, 0xff, 0xff, 0xff, 0xff), rest]),
        ],
        [
          'decodeTransportMessage payload 2^32−1',
          () => decodeTransportMessage(Uint8Array.of(0x83, 0x80, 0x80, 0x5a, 0xff, 0xff, 0xff, 0xff, 0)),
        ],
        [
          'decodeUdpTransportMessage payload 2^32−1',
          () => decodeUdpTransportMessage(Uint8Array.of(0x85, 1, 1, 0, 0xf5, 0x5a, 0xff, 0xff, 0xff, 0xff)),
        ],
        [
          'decodeApiRequest BARE 2^32',
          () => decodeApiRequest(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10, 0xa0)),
        ],
        [
          'importIdentity changes 2^32−1',
          () => importIdentity(Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff, 0x80)),
        ],
      ];
      for (const [name, call] of cases) {
        forceGc();
        const before = process.memoryUsage().arrayBuffers;
        let peak = 0;
        for (let i = 0; i < 200; i++) {
          try {
            call();
          } catch (e) {
            if (!OckamError.is(e))
              throw new Error(`${name}: untyped error ${describeError(e)}`, { cause: e });
          }
          peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
        }
        console.log(`  ${name.padEnd(44)} peak arrayBuffers growth ${mib(peak)} MiB over 200 calls`);
        expect(peak, name).toBeLessThan(8 * 1024 * 1024);
      }
    });
  });

  describe('@ockam/secure-channel', () => {
    let initS: Awaited<ReturnType<typeof vault.generateX25519>>;
    let initE: Awaited<ReturnType<typeof vault.generateX25519>>;
    let respS: Awaited<ReturnType<typeof vault.generateX25519>>;
    let respE: Awaited<ReturnType<typeof vault.generateX25519>>;
    let msgs: Uint8Array[];
    let payloads: Uint8Array[];

    beforeAll(async () => {
      initS = await vault.generateX25519({ ephemeral: true });
      initE = await vault.generateX25519({ ephemeral: true });
      respS = await vault.generateX25519({ ephemeral: true });
      respE = await vault.generateX25519({ ephemeral: true });
      const alice = await createIdentity(vault);
      const key = await createPurposeKey(vault, alice, 'secure-channel');
      payloads = [
        encodeIdentityAndCredentials({
          changeHistory: importBytes(alice),
          purposeKeyAttestation: key.encoded,
          credentials: [],
        }),
      ];
      const init = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: true,
        s: initS,
        e: initE,
      });
      const resp = await HandshakeState.initialize({
        vault,
        protocol: OCKAM_PROTOCOL_NAME,
        initiator: false,
        s: respS,
        e: respE,
      });
      msgs = [init.writeMessage(EMPTY)];
      resp.readMessage(msgs[0]!);
      msgs.push(resp.writeMessage(payloads[0]!));
      init.readMessage(msgs[1]!);
      msgs.push(init.writeMessage(payloads[0]!));
      resp.readMessage(msgs[2]!);
    });

    /** What the channel does with a handshake payload: decode it and import the identity in it. */
    const readPayload = (payload: Uint8Array) => {
      if (payload.length === 0) return;
      const ic = decodeIdentityAndCredentials(payload);
      importIdentity(ic.changeHistory);
      decodePurposeKeyAttestation(ic.purposeKeyAttestation);
    };

    it('a fresh responder rejects every mutated message 1 with a typed error', async () => {
      await check({
        name: 'secure-channel responder.readMessage(msg1)',
        corpus: [msgs[0]!],
        count: 2000,
        run: async (m) => {
          const resp = await HandshakeState.initialize({
            vault,
            protocol: OCKAM_PROTOCOL_NAME,
            initiator: false,
            s: respS,
          });
          try {
            resp.readMessage(m);
          } finally {
            resp.destroy();
          }
        },
      });
    });

    it('an initiator waiting for message 2 rejects every mutated one with a typed error', async () => {
      await check({
        name: 'secure-channel initiator.readMessage(msg2)',
        corpus: [msgs[1]!],
        count: 2000,
        run: async (m) => {
          const init = await HandshakeState.initialize({
            vault,
            protocol: OCKAM_PROTOCOL_NAME,
            initiator: true,
            s: initS,
            e: initE,
          });
          try {
            init.writeMessage(EMPTY);
            readPayload(init.readMessage(m));
          } finally {
            init.destroy();
          }
        },
      });
    });

    it('a responder waiting for message 3 rejects every mutated one with a typed error', async () => {
      await check({
        name: 'secure-channel responder.readMessage(msg3)',
        corpus: [msgs[2]!],
        count: 2000,
        run: async (m) => {
          const resp = await HandshakeState.initialize({
            vault,
            protocol: OCKAM_PROTOCOL_NAME,
            initiator: false,
            s: respS,
            e: respE,
          });
          try {
            resp.readMessage(msgs[0]!);
            resp.writeMessage(payloads[0]!);
            readPayload(resp.readMessage(m));
          } finally {
            resp.destroy();
          }
        },
      });
    });

    it('decodeIdentityAndCredentials rejects every malformed handshake payload with a typed error', async () => {
      await check({
        name: 'secure-channel decodeIdentityAndCredentials',
        corpus: payloads,
        count: 3000,
        run: readPayload,
      });
    });

    it('decodeSecureChannelMessage rejects every malformed plaintext with a typed error', async () => {
      const corpus = [
        encodeSecureChannelMessage({ kind: 'close' }),
        encodeSecureChannelMessage({
          kind: 'payload',
          onwardRoute: MESSAGES[1]!.onwardRoute,
          returnRoute: MESSAGES[1]!.returnRoute,
          payload: utf8('hi'),
        }),
        encodeSecureChannelMessage({
          kind: 'refresh-credentials',
          changeHistory: payloads[0]!.subarray(0, 40),
          credentials: [Uint8Array.of(0x80)],
        }),
      ];
      await check({
        name: 'secure-channel decodeSecureChannelMessage',
        corpus,
        count: 5000,
        run: decodeSecureChannelMessage,
      });
    });

    it('a Decryptor rejects random and mutated frames with a typed error and keeps decrypting valid ones', async () => {
      const secret = vault.importSecret(new Uint8Array(32).fill(9));
      const encryptor = new Encryptor(vault, vault.aeadKey(secret));
      const decryptor = new Decryptor(vault, vault.aeadKey(vault.importSecret(new Uint8Array(32).fill(9))));
      const frames = Array.from({ length: 40 }, (_, i) =>
        encryptor.encrypt(new Uint8Array(i * 3).fill(i)),
      ).map((f) => f.slice());
      await check({
        name: 'secure-channel Decryptor.decrypt',
        corpus: frames,
        count: 4000,
        run: (f) => decryptor.decrypt(f),
      });
      // Forged frames changed nothing: the next genuine frames still decrypt.
      const next = encryptor.encrypt(utf8('still working'));
      expect(text(decryptor.decrypt(next))).toBe('still working');
    });
  });

  describe('@ockam/identity and @ockam/credentials', () => {
    let identities: Identity[];
    let exported: Uint8Array[];
    let attestations: Uint8Array[];
    let credentials: Uint8Array[];
    let authority: Identity;

    beforeAll(async () => {
      const a = await createIdentity(vault);
      const b = await rotateIdentity(vault, await rotateIdentity(vault, await createIdentity(vault)));
      const c = await createIdentity(vault, { keyType: 'p256' });
      identities = [a, b, c];
      exported = identities.map((i) => importBytes(i));
      attestations = [];
      for (const i of identities) {
        attestations.push((await createPurposeKey(vault, i, 'secure-channel')).encoded);
        attestations.push((await createPurposeKey(vault, i, 'credential-signing')).encoded);
      }
      authority = a;
      const signing = await createPurposeKey(vault, a, 'credential-signing');
      credentials = [
        await issueCredential({
          vault,
          issuer: a,
          purposeKey: signing,
          subject: b,
          attributes: { role: 'member', 'ockam-relay': 'x' },
        }),
        await issueCredential({
          vault,
          issuer: a,
          purposeKey: signing,
          subject: c.identifier,
          attributes: {},
        }),
      ];
    });

    it('importIdentity rejects every malformed or forged change history with a typed error', async () => {
      await check({
        name: 'identity importIdentity',
        corpus: exported,
        count: 4000,
        run: (b) => importIdentity(b),
      });
    });

    it('decodeChangeHistory rejects every malformed change history with a typed error', async () => {
      await check({
        name: 'identity decodeChangeHistory',
        corpus: exported,
        count: 4000,
        run: decodeChangeHistory,
      });
    });

    it('decodePurposeKeyAttestation rejects every malformed attestation with a typed error', async () => {
      await check({
        name: 'identity decodePurposeKeyAttestation',
        corpus: attestations,
        count: 3000,
        run: decodePurposeKeyAttestation,
      });
    });

    it('decodeCredentialAndPurposeKey and verifyCredential reject every malformed or forged credential with a typed error', async () => {
      await check({
        name: 'credentials decodeCredentialAndPurposeKey',
        corpus: credentials,
        count: 3000,
        run: decodeCredentialAndPurposeKey,
      });
      await check({
        name: 'credentials verifyCredential',
        corpus: credentials,
        count: 2000,
        run: (b) => verifyCredential(b, { trustedAuthorities: [authority] }),
      });
    });

    it('API request, response and error frames are rejected with a typed error when malformed', async () => {
      const requests = [
        encodeApiRequest('POST', '/', encodeCbor(new Map([[1, 'x']]))),
        encodeApiRequest('GET', '/members'),
        encodeApiRequest('DELETE', '/members/I' + '0'.repeat(64), undefined, 7),
      ];
      const responses = [
        encodeApiResponse(1, 200, credentials[0]),
        encodeApiResponse(2, 404, encodeApiErrorBody({ path: '/x', method: 'GET', message: 'not found' })),
        encodeApiResponse(3, 200),
      ];
      await check({
        name: 'credentials decodeApiRequest',
        corpus: requests,
        count: 3000,
        run: decodeApiRequest,
      });
      await check({
        name: 'credentials decodeApiResponse',
        corpus: responses,
        count: 3000,
        run: decodeApiResponse,
      });
      await check({
        name: 'credentials decodeApiErrorBody',
        corpus: [
          encodeApiErrorBody({ path: '/x', method: 'POST', message: 'bad', cause: { message: 'deeper' } }),
        ],
        count: 2000,
        run: decodeApiErrorBody,
      });
    });

    it('authority messages are rejected with a typed error when malformed', async () => {
      const corpus = [
        encodeAddMember({ member: identities[1]!.identifier, attributes: new Map([['role', 'member']]) }),
        encodeCreateToken({ attributes: new Map([['role', 'member']]), ttlSeconds: 60, ttlCount: 1 }),
        encodeMemberList(
          new Map([
            [
              identities[1]!.identifier,
              {
                attributes: new Map([['a', 'b']]),
                addedAt: 1,
                expiresAt: 2,
                attestedBy: identities[0]!.identifier,
              },
            ],
          ]),
        ),
      ];
      await check({
        name: 'credentials authority messages',
        corpus,
        count: 3000,
        run: (b) => {
          // The three decoders of what an authority receives; the first that accepts wins.
          const errors: unknown[] = [];
          for (const decode of [decodeAddMember, decodeCreateToken, decodeMemberList] as Array<
            (b: Uint8Array) => unknown
          >) {
            try {
              return decode(b);
            } catch (e) {
              errors.push(e);
            }
          }
          throw errors.find((e) => !OckamError.is(e)) ?? errors[0];
        },
      });
    });

    it('enrollment tickets and one-time codes are rejected with a typed error when malformed', async () => {
      const code = createOneTimeCode();
      const ticket = {
        oneTimeCode: code,
        projectRoute: '/dnsaddr/127.0.0.1/tcp/4000/service/api',
        projectName: 'default',
        projectChangeHistory: toHex(exported[0]!),
        authorityChangeHistory: toHex(exported[1]!),
        authorityRoute: '/ip4/127.0.0.1/tcp/4001/service/api',
      };
      const tickets = [
        encodeEnrollmentTicket(ticket),
        encodeLegacyEnrollmentTicket({ ...ticket, projectId: 'p1' }),
      ];
      const corpus = tickets.flatMap((t) => [utf8(t), utf8(new TextDecoder().decode(fromHexLoose(t)))]);
      await check({
        name: 'credentials decodeEnrollmentTicket',
        corpus,
        count: 3000,
        run: (b) => decodeEnrollmentTicket(text(b)),
      });
      await check({
        name: 'credentials decodeOneTimeCode',
        corpus: [encodeOneTimeCode(code)],
        count: 2000,
        run: decodeOneTimeCode,
      });
    });
  });

  describe('@ockam/portals and @ockam/abac', () => {
    it('decodePortalMessage rejects every malformed portal message with a typed error', async () => {
      const corpus = [
        encodePortalMessage({ kind: 'ping' }),
        encodePortalMessage({ kind: 'pong' }),
        encodePortalMessage({ kind: 'disconnect' }),
        encodePortalMessage({ kind: 'payload', data: utf8('GET / HTTP/1.1\r\n\r\n') }),
        encodePortalMessage({ kind: 'payload', data: new Uint8Array(300).fill(1), counter: 513 }),
      ];
      await check({ name: 'portals decodePortalMessage', corpus, count: 4000, run: decodePortalMessage });
    });

    it('policy parsers reject every malformed expression with a typed error', async () => {
      const policies = [
        '(and (= subject.role "member") (or (= resource.kind "db") (member? "x" subject.tags)))',
        '(or (not (= subject.a "b")) (if (= 1 1) [1 2 3] false) (exists? subject.c))',
        '(= subject.ockam-relay "*")',
        'a and (b or not c)',
        'subject.has_credential',
      ];
      const corpus = policies.map((p) => utf8(p));
      await check({ name: 'abac parseExpr', corpus, count: 4000, run: (b) => parseExpr(text(b)) });
      await check({
        name: 'abac parseBooleanExpr',
        corpus,
        count: 2000,
        run: (b) => parseBooleanExpr(text(b)),
      });
      await check({
        name: 'abac parsePolicyExpression',
        corpus,
        count: 2000,
        run: (b) => parsePolicyExpression(text(b)),
      });
      const legacy = policies.slice(0, 3).map((p) => encodeLegacyExpr(parseExpr(p)));
      await check({
        name: 'abac decodeLegacyExpr',
        corpus: legacy,
        count: 2000,
        run: (b) => decodeLegacyExpr(b),
      });
    });
  });

  describe('@ockam/kafka', () => {
    /** kafka-clients 3.7.2's encodings of message bodies (the package's own vectors). */
    const KAFKA_VECTORS = (
      JSON.parse(
        readFileSync(new URL('../../../packages/kafka/test/vectors/messages.json', import.meta.url), 'utf8'),
      ) as { vectors: Array<{ message: string; version: number; hex: string }> }
    ).vectors;
    const kafkaBody = (message: string, version: number): Uint8Array => {
      const v = KAFKA_VECTORS.find((x) => x.message === message && x.version === version);
      if (v === undefined) throw new Error(`no Kafka vector ${message} v${version}`);
      return Buffer.from(v.hex, 'hex');
    };
    /** The first version whose request header is flexible (v2: client id, then tagged fields). */
    const FLEXIBLE_FROM: Record<number, number> = { 0: 9, 1: 12, 3: 9, 10: 3, 18: 3 };
    const framed = (head: Uint8Array, body: Uint8Array): Uint8Array => {
      const frame = new Uint8Array(4 + head.length + body.length);
      new DataView(frame.buffer).setInt32(0, head.length + body.length);
      frame.set(head, 4);
      frame.set(body, 4 + head.length);
      return frame;
    };
    const requestFrame = (apiKey: number, version: number, correlationId: number, body: Uint8Array) => {
      const flexible = version >= (FLEXIBLE_FROM[apiKey] ?? Number.POSITIVE_INFINITY);
      const head = new Uint8Array(8 + 2 + 6 + (flexible ? 1 : 0));
      const view = new DataView(head.buffer);
      view.setInt16(0, apiKey);
      view.setInt16(2, version);
      view.setInt32(4, correlationId);
      view.setInt16(8, 6);
      head.set(utf8('client'), 10);
      return framed(head, body);
    };
    const responseFrame = (apiKey: number, version: number, correlationId: number, body: Uint8Array) => {
      // ApiVersions answers with a v0 header whatever its version (clients must parse its error).
      const flexible = apiKey !== 18 && version >= (FLEXIBLE_FROM[apiKey] ?? Number.POSITIVE_INFINITY);
      const head = new Uint8Array(flexible ? 5 : 4);
      new DataView(head.buffer).setInt32(0, correlationId);
      return framed(head, body);
    };
    const REQUESTS: Array<[number, string, number]> = [
      ...[3, 5, 7, 9, 10].map((v): [number, string, number] => [0, 'ProduceRequest', v]),
      ...[4, 7, 11, 12, 13, 16].map((v): [number, string, number] => [1, 'FetchRequest', v]),
    ];
    /** The exchanges a broker's answer can be mutated in: the request, then the response. */
    const EXCHANGES: Array<{ apiKey: number; version: number; request: Uint8Array; response: string }> = [
      { apiKey: 1, version: 12, request: kafkaBody('FetchRequest', 12), response: 'FetchResponse' },
      { apiKey: 1, version: 4, request: kafkaBody('FetchRequest', 4), response: 'FetchResponse' },
      { apiKey: 3, version: 12, request: Uint8Array.of(1, 0, 0, 0), response: 'Metadata' },
      { apiKey: 3, version: 0, request: Uint8Array.of(0, 0, 0, 0), response: 'Metadata' },
      { apiKey: 10, version: 4, request: new Uint8Array(8), response: 'FindCoordinator' },
      { apiKey: 10, version: 0, request: new Uint8Array(8), response: 'FindCoordinator' },
      { apiKey: 18, version: 3, request: Uint8Array.of(1, 1, 0), response: 'ApiVersions' },
      { apiKey: 0, version: 9, request: kafkaBody('ProduceRequest', 9), response: 'ProduceResponse' },
    ];
    let brokersSeen = 0;
    const kafkaRefusal = () => new OckamError('kafka', 'invalid', 'refused by the fuzzer hook');
    const inletHooks = {
      brokerAddress: async (nodeId: number) => {
        brokersSeen++;
        return { host: '127.0.0.1', port: 20_000 + (nodeId & 0x3fff) };
      },
      publishConsumer: async () => {},
      encryptValue: async (_t: string, _p: number, plaintext: Uint8Array) =>
        concatBytes(Uint8Array.of(0x82), plaintext),
      decryptValue: async (_t: string, _p: number, stored: Uint8Array) => {
        if (stored[0] !== 0x82) throw kafkaRefusal();
        return stored.subarray(1);
      },
    };
    const inlet = new KafkaInletInterceptor(inletHooks, { encryptContent: true, encryptedFields: [] });
    const fieldsInlet = new KafkaInletInterceptor(inletHooks, {
      encryptContent: true,
      encryptedFields: ['card'],
    });
    const outlet = new KafkaOutletInterceptor({
      brokerSeen: async () => {
        brokersSeen++;
      },
    });

    /** Cut as portal chunks would be: one to four pieces at random points. */
    const pieces = (rng: Rng, b: Uint8Array): Uint8Array[] => {
      const cuts = [...new Set(Array.from({ length: rng.int(4) }, () => rng.int(b.length + 1)))].sort(
        (x, y) => x - y,
      );
      return [0, ...cuts].map((c, i) => b.subarray(c, cuts[i] ?? b.length));
    };

    it('the inlet and outlet interceptors take hostile client requests, whole or in pieces, and fail typed', async () => {
      const corpus = REQUESTS.map(([apiKey, name, version], i) =>
        requestFrame(apiKey, version, i, kafkaBody(name, version)),
      );
      const rng = new Rng(SEED ^ 0x4af);
      for (const [name, interceptor] of [
        ['kafka inlet requests', inlet],
        ['kafka inlet requests, --encrypted-field', fieldsInlet],
        ['kafka outlet requests', outlet],
      ] as const) {
        await check({
          name,
          corpus,
          count: 3000,
          run: async (b) => {
            const conn = interceptor.connection();
            for (const chunk of pieces(rng, b)) await conn.request(chunk);
          },
        });
      }
    });

    it('a hostile broker: mutated Fetch, Metadata, FindCoordinator, ApiVersions and Produce responses fail typed at the inlet and the outlet', async () => {
      // One byte picks the exchange; the rest is the broker's answer to its request.
      const corpus = EXCHANGES.map((x, i) =>
        concatBytes(
          Uint8Array.of(i),
          responseFrame(x.apiKey, x.version, 1, kafkaBody(x.response, x.version)),
        ),
      );
      const rng = new Rng(SEED ^ 0xb40);
      for (const [name, interceptor] of [
        ['kafka inlet responses (hostile broker)', inlet],
        ['kafka outlet responses (hostile broker)', outlet],
      ] as const) {
        brokersSeen = 0;
        await check({
          name,
          corpus,
          count: 4000,
          run: async (b) => {
            const x = EXCHANGES[(b[0] ?? 0) % EXCHANGES.length]!;
            const conn = interceptor.connection();
            await conn.request(requestFrame(x.apiKey, x.version, 1, x.request));
            for (const chunk of pieces(rng, b.subarray(1))) await conn.response(chunk);
          },
        });
        // A broker list is read from the response's own bytes: no answer names more brokers than it could hold.
        expect(brokersSeen).toBeLessThan(4000 * 64);
      }
    });
  });

  describe('@ockam/transport-udp', () => {
    it('datagram, puncture, negotiation and rendezvous decoders reject malformed input with a typed error', async () => {
      const routing = encodeTransportMessage(MESSAGES[1]!);
      const datagrams = [
        ...fragmentRoutingMessage(routing, 7),
        ...fragmentRoutingMessage(encodeTransportMessage(MESSAGES[3]!), 65535),
      ];
      await check({
        name: 'transport-udp decodeUdpTransportMessage',
        corpus: datagrams,
        count: 3000,
        run: decodeUdpTransportMessage,
      });
      const reassembler = new Reassembler({ maxPendingBytes: 1 << 20 });
      const rng = new Rng(SEED);
      let whole = 0;
      await check({
        name: 'transport-udp Reassembler.push',
        corpus: datagrams,
        count: 3000,
        run: (d) => {
          // Never throws on bad input, by contract: any throw fails the test.
          const out = reassembler.push(`127.0.0.1:${4000 + rng.int(8)}`, d);
          if (out) whole++;
        },
        isTyped: () => false,
      });
      console.log(
        `  Reassembler: ${whole} whole messages, ${reassembler.pendingBytes} bytes pending, counters ${JSON.stringify(reassembler.counters)}`,
      );
      expect(reassembler.pendingBytes).toBeLessThanOrEqual(1 << 20);
      const puncture = [
        encodePunctureMessage({ type: 'ping' }),
        encodePunctureMessage({ type: 'pong' }),
        encodePunctureMessage({
          type: 'payload',
          onwardRoute: MESSAGES[1]!.onwardRoute,
          returnRoute: MESSAGES[1]!.returnRoute,
          payload: utf8('x'),
        }),
      ];
      await check({
        name: 'transport-udp decodePunctureMessage',
        corpus: puncture,
        count: 2000,
        run: decodePunctureMessage,
      });
      await check({
        name: 'transport-udp decodeNegotiationMessage',
        corpus: [
          encodeNegotiationMessage({ udpPublicAddress: '127.0.0.1:4000', remoteAddress: 'puncture_1' }),
        ],
        count: 1000,
        run: (b) => decodeNegotiationMessage(b),
      });
      await check({
        name: 'transport-udp rendezvous messages',
        corpus: [
          encodeRendezvousRequest({ type: 'ping' }),
          encodeRendezvousRequest({ type: 'get-my-address' }),
          encodeRendezvousResponse({ type: 'pong' }),
          encodeRendezvousResponse({ type: 'address', address: '127.0.0.1:4000' }),
        ],
        count: 1000,
        run: (b) => {
          try {
            decodeRendezvousRequest(b);
          } catch (e) {
            if (!OckamError.is(e)) throw e;
            decodeRendezvousResponse(b);
          }
        },
      });
    });
  });

  describe('the node control API', () => {
    let env: OckamEnv;
    beforeAll(() => {
      env = new OckamEnv();
    });
    afterAll(async () => {
      await env?.dispose();
    });

    it('answers every random request body with JSON and a status, and the node keeps running', async () => {
      await env.ok(['node', 'create', 'fz']);
      const shown = await env.json<{ pid: number }>(['node', 'show', 'fz']);
      const socket = env.socketPath('fz');
      const rng = new Rng(SEED ^ 0x5eed);
      const count = 1000;
      const statuses = new Map<number, number>();
      const internal = new Map<string, number>();
      let maxMs = 0;
      const started = performance.now();
      const one = async (i: number) => {
        const [method, urlPath] = rng.pick(ENDPOINTS);
        const body = rng.bool(0.15)
          ? text(rng.bytes(rng.int(200)))
          : JSON.stringify(randomBody(rng, urlPath));
        const t0 = performance.now();
        const answer = await controlRequest(socket, method, urlPath, body, 30_000);
        maxMs = Math.max(maxMs, performance.now() - t0);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        let parsed: { error?: { kind?: string; message?: string } };
        try {
          parsed = JSON.parse(answer.body);
        } catch {
          throw new Error(`request #${i} ${method} ${urlPath} ${body}: answer is not JSON: ${answer.body}`);
        }
        if (answer.status >= 400) {
          expect(typeof parsed.error?.message, `${method} ${urlPath} ${body}`).toBe('string');
          if (parsed.error?.kind === 'internal') {
            const key = `${method} ${urlPath}: ${parsed.error.message}`;
            internal.set(key, (internal.get(key) ?? 0) + 1);
          }
        }
      };
      // Eight requests in flight at a time.
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < count) await one(next++);
        }),
      );
      const ms = performance.now() - started;
      const status = await controlRequest(socket, 'GET', '/node', undefined);
      expect(status.status).toBe(200);
      expect(JSON.parse(status.body).pid).toBe(shown.pid);
      expect(pidAlive(shown.pid)).toBe(true);
      reports.push({
        name: 'node control API',
        inputs: count,
        accepted: statuses.get(200) ?? 0,
        rejected: count - (statuses.get(200) ?? 0),
        maxCallMs: maxMs,
        maxChunkMs: ms,
        totalMs: ms,
        maxArrayBufferGrowth: 0,
        maxRssGrowth: 0,
      });
      console.log(
        `node control API: ${count} random requests in ${ms.toFixed(0)} ms, slowest ${maxMs.toFixed(0)} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; node pid ${shown.pid} still running`,
      );
      for (const [k, n] of internal) console.log(`  500 internal ×${n}: ${k}`);
      // An 'internal' answer is an exception the API did not expect: a bug, even if the node lives.
      expect([...internal.keys()]).toEqual([]);
      expect(env.errorLines('fz').filter((l) => /uncaught|unhandled/i.test(l))).toEqual([]);
    });
  });
});

/** Endpoints the fuzzer posts to; never /stop (it would stop the node by design). */
const ENDPOINTS: ReadonlyArray<readonly [string, string]> = [
  ['POST', '/tcp-connections'],
  ['POST', '/messages'],
  ['POST', '/secure-channels'],
  ['POST', '/secure-channel-listeners'],
  ['POST', '/tcp-outlets'],
  ['POST', '/tcp-inlets'],
  ['POST', '/relays'],
  ['DELETE', '/tcp-connections/x%00y'],
  ['DELETE', '/secure-channels/nope'],
  ['DELETE', '/tcp-inlets/%ZZ'],
  ['GET', '/secure-channels/%2e%2e'],
  ['PUT', '/node'],
  ['POST', '/nope'],
];

/**
 * Strings for fields. Random ones use no digits, dots, colons or hex letters, so that no value
 * can name a host outside this machine; the fixed ones point at closed loopback ports or at
 * addresses that do not exist.
 */
const SAFE_STRINGS = [
  '127.0.0.1:1',
  'localhost:1',
  '[::1]:1',
  '0#nope',
  '1#127.0.0.1:1',
  '/node/nope/service/echo',
  '/service/nope',
  '/secure/nope/service/outlet',
  'I' + '0'.repeat(64),
  '',
  'x'.repeat(70_000),
];
const ALPHABET = 'ghijklmnopqrstuvwxyz_-/#@ {}[]"\\\'\u0000\u00e9\u{1f600}';

function randomString(rng: Rng): string {
  if (rng.bool(0.4)) return rng.pick(SAFE_STRINGS);
  let s = '';
  const n = rng.int(24);
  for (let i = 0; i < n; i++) s += [...ALPHABET][rng.int([...ALPHABET].length)];
  return s;
}

function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 5 : 7)) {
    case 0:
      return randomString(rng);
    case 1:
      return rng.pick([0, -1, 1e300, 2 ** 53 + 1, 0.5, Number.MAX_SAFE_INTEGER]);
    case 2:
      return rng.bool();
    case 3:
      return null;
    case 4:
      return rng.pick(['route', 'to', 'from', 'name', 'at', 'address', 'payloadHex']);
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.int(5) }, () => [randomString(rng), randomValue(rng, depth + 1)]),
      );
  }
}

const FIELDS = [
  'route',
  'to',
  'from',
  'name',
  'at',
  'address',
  'payloadHex',
  'authorized',
  'identity',
  'expose',
  'allow',
  'connectionWaitMs',
];

function randomBody(rng: Rng, _path: string): unknown {
  if (rng.bool(0.1)) return randomValue(rng);
  const body: Record<string, unknown> = {};
  for (const f of FIELDS)
    if (rng.bool(0.35)) body[f] = rng.bool(0.3) ? [randomString(rng)] : randomValue(rng, 2);
  // Bounded waits: a request that reaches a route waits at most a second.
  body.timeoutMs = rng.pick([1, 10, 1000]);
  body.connectionWaitMs = 10;
  return body;
}

function importBytes(identity: Identity): Uint8Array {
  return fromHexLoose(identity.export());
}

function fromHexLoose(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}
