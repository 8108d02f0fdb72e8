/**
 * A small, seeded mutation fuzzer for decoders of network input. Inputs are either random bytes
 * or mutations of valid encodings (bit flips, truncation, extension, splicing, length-field
 * inflation), so that most of them get past the first checks of a decoder and reach its deeper
 * paths. Every failure names the seed and the input in hex so it can be replayed.
 */
import { OckamError, toHex } from '@ockam/core';

/** xoshiro128** (Blackman and Vigna): fast, seedable, good enough for test inputs. */
export class Rng {
  #s: Uint32Array;

  constructor(seed: number) {
    // splitmix32 fills the state from one 32-bit seed.
    this.#s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  u32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** An integer in 0..n-1. */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }

  bool(p = 0.5): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The seed of this run: HARDENING_SEED if set, else random (printed by the tests). */
export function runSeed(): number {
  const env = process.env.HARDENING_SEED;
  if (env !== undefined && env !== '') return Number.parseInt(env, 10) >>> 0;
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

/** Byte values that sit on boundaries of CBOR, BARE and u32 length fields. */
const INTERESTING = [
  0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x3f, 0x40, 0x5f, 0x7f, 0x80, 0x9f, 0xbf, 0xff,
];

/**
 * Headers that declare huge lengths: CBOR byte/text strings, arrays and maps with 4- and 8-byte
 * lengths, an indefinite length, BARE uvarints of 2^35 and 2^63, and big-endian u32s.
 */
const INFLATED_LENGTHS: readonly Uint8Array[] = [
  Uint8Array.of(0x5a, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x5a, 0x01, 0x00, 0x00, 0x01),
  Uint8Array.of(0x7a, 0x7f, 0xff, 0xff, 0xff),
  Uint8Array.of(0x7b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00),
  Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0xba, 0x10, 0x00, 0x00, 0x00),
  Uint8Array.of(0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x9f),
  Uint8Array.of(0x5f),
  Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
  Uint8Array.of(0xff, 0xff, 0xff, 0xff),
  Uint8Array.of(0x01, 0x00, 0x00, 0x01),
  Uint8Array.of(0x7f, 0xff, 0xff, 0xff),
];

export type Mutation =
  | 'random'
  | 'bitflip'
  | 'byte'
  | 'truncate'
  | 'extend'
  | 'splice'
  | 'inflate'
  | 'duplicate'
  | 'delete';

/** The most bytes one `duplicate` mutation adds to an input. */
const MAX_DUPLICATED = 1024 * 1024;

const MUTATIONS: readonly Mutation[] = [
  'bitflip',
  'byte',
  'truncate',
  'extend',
  'splice',
  'inflate',
  'duplicate',
  'delete',
];

/** One mutation of `valid` (or, with `other`, a splice of the two). */
export function mutate(rng: Rng, valid: Uint8Array, other: Uint8Array, kind: Mutation): Uint8Array {
  const n = valid.length;
  switch (kind) {
    case 'random':
      return rng.bytes(rng.int(rng.bool(0.9) ? 64 : 2048));
    case 'bitflip': {
      const out = valid.slice();
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips && n > 0; i++) out[rng.int(n)]! ^= 1 << rng.int(8);
      return out;
    }
    case 'byte': {
      const out = valid.slice();
      const edits = 1 + rng.int(4);
      for (let i = 0; i < edits && n > 0; i++)
        out[rng.int(n)] = rng.bool() ? rng.pick(INTERESTING) : rng.int(256);
      return out;
    }
    case 'truncate':
      return valid.slice(0, rng.int(n + 1));
    case 'extend': {
      const tail = rng.bool(0.3) ? rng.bytes(1 + rng.int(4096)) : rng.bytes(1 + rng.int(16));
      const out = new Uint8Array(n + tail.length);
      out.set(valid);
      out.set(tail, n);
      return out;
    }
    case 'splice': {
      const a = rng.int(n + 1);
      const b = rng.int(other.length + 1);
      const out = new Uint8Array(a + other.length - b);
      out.set(valid.subarray(0, a));
      out.set(other.subarray(b), a);
      return out;
    }
    case 'inflate': {
      // Overwrite (or insert) a header that declares a length far beyond the bytes that follow.
      const header = rng.pick(INFLATED_LENGTHS);
      const at = rng.int(n + 1);
      if (rng.bool()) {
        const out = valid.slice();
        out.set(header.subarray(0, Math.max(0, Math.min(header.length, n - at))), at);
        return out;
      }
      const out = new Uint8Array(n + header.length);
      out.set(valid.subarray(0, at));
      out.set(header, at);
      out.set(valid.subarray(at), at + header.length);
      return out;
    }
    case 'duplicate': {
      const a = rng.int(n + 1);
      const b = a + rng.int(n - a + 1);
      const piece = valid.subarray(a, b);
      // At most MAX_DUPLICATED more bytes: a 20 MB seed copied 200 times is the fuzzer's own 4 GB.
      const times = Math.min(
        1 + rng.int(rng.bool(0.1) ? 200 : 3),
        Math.max(1, Math.floor(MAX_DUPLICATED / Math.max(1, piece.length))),
      );
      const out = new Uint8Array(n + piece.length * times);
      out.set(valid.subarray(0, b));
      for (let i = 0; i < times; i++) out.set(piece, b + i * piece.length);
      out.set(valid.subarray(b), b + piece.length * times);
      return out;
    }
    case 'delete': {
      const a = rng.int(n + 1);
      const b = a + rng.int(Math.min(16, n - a) + 1);
      const out = new Uint8Array(n - (b - a));
      out.set(valid.subarray(0, a));
      out.set(valid.subarray(b), a);
      return out;
    }
  }
}

/** An input for a decoder: random one time in ten, else one to three stacked mutations of the corpus. */
export function nextInput(rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  if (corpus.length === 0 || rng.bool(0.1))
    return mutate(rng, new Uint8Array(0), new Uint8Array(0), 'random');
  let input = rng.pick(corpus);
  const rounds = 1 + (rng.bool(0.7) ? 0 : rng.int(3));
  for (let i = 0; i < rounds; i++) input = mutate(rng, input, rng.pick(corpus), rng.pick(MUTATIONS));
  return input;
}

export interface FuzzTarget {
  name: string;
  /** Valid encodings to mutate. */
  corpus: readonly Uint8Array[];
  /** How many inputs to feed. */
  count: number;
  /** Decodes one input; may return a promise. Anything it throws must be typed. */
  run: (input: Uint8Array) => unknown;
  /** Errors that count as typed (default: `OckamError.is`). */
  isTyped?: (e: unknown) => boolean;
  /**
   * Builds one structured input (a valid frame with odd contents) for structure-aware fuzzing:
   * when given, half the inputs are built by it and the other half are mutations of the corpus.
   */
  generate?: (rng: Rng) => Uint8Array;
}

export interface FuzzReport {
  name: string;
  inputs: number;
  accepted: number;
  rejected: number;
  /** Longest single call, ms. */
  maxCallMs: number;
  /** Slowest chunk of CHUNK inputs, ms. */
  maxChunkMs: number;
  totalMs: number;
  /** Largest growth of `arrayBuffers` seen after any chunk, bytes (no GC forced inside a chunk). */
  maxArrayBufferGrowth: number;
  /** Largest growth of RSS seen after any chunk, bytes. */
  maxRssGrowth: number;
}

export class UntypedErrorFailure extends Error {}

const CHUNK = 1000;

/**
 * Feeds `target.count` inputs in chunks of 1000. Throws (failing the test) on the first untyped
 * error, with the seed, the input's index and its hex.
 */
export async function fuzz(target: FuzzTarget, seed: number): Promise<FuzzReport> {
  const rng = new Rng(seed ^ hashName(target.name));
  const isTyped = target.isTyped ?? ((e: unknown) => OckamError.is(e));
  forceGc();
  const base = process.memoryUsage();
  const report: FuzzReport = {
    name: target.name,
    inputs: 0,
    accepted: 0,
    rejected: 0,
    maxCallMs: 0,
    maxChunkMs: 0,
    totalMs: 0,
    maxArrayBufferGrowth: 0,
    maxRssGrowth: 0,
  };
  const started = performance.now();
  for (let done = 0; done < target.count; ) {
    const chunkStart = performance.now();
    const end = Math.min(target.count, done + CHUNK);
    for (; done < end; done++) {
      const input =
        target.generate !== undefined && rng.bool(0.5) ? target.generate(rng) : nextInput(rng, target.corpus);
      const t0 = performance.now();
      try {
        const result = target.run(input);
        if (result instanceof Promise) await result;
        report.accepted++;
      } catch (e) {
        if (!isTyped(e)) {
          throw new UntypedErrorFailure(
            `${target.name}: input #${done} (seed ${seed}) threw an untyped error: ${describe(e)}\ninput hex: ${toHex(input)}`,
            { cause: e },
          );
        }
        report.rejected++;
      }
      const dt = performance.now() - t0;
      if (dt > report.maxCallMs) report.maxCallMs = dt;
      report.inputs++;
    }
    const chunkMs = performance.now() - chunkStart;
    if (chunkMs > report.maxChunkMs) report.maxChunkMs = chunkMs;
    const m = process.memoryUsage();
    report.maxArrayBufferGrowth = Math.max(report.maxArrayBufferGrowth, m.arrayBuffers - base.arrayBuffers);
    report.maxRssGrowth = Math.max(report.maxRssGrowth, m.rss - base.rss);
  }
  report.totalMs = performance.now() - started;
  return report;
}

export function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Runs a full GC when the process was started with --expose-gc (the vitest config does that). */
export function forceGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

export function formatReport(r: FuzzReport): string {
  return (
    `${r.name.padEnd(44)} ${String(r.inputs).padStart(6)} inputs ` +
    `(${r.accepted} accepted, ${r.rejected} rejected) in ${r.totalMs.toFixed(0)} ms; ` +
    `slowest call ${r.maxCallMs.toFixed(1)} ms, slowest chunk ${r.maxChunkMs.toFixed(0)} ms; ` +
    `growth arrayBuffers ${mib(r.maxArrayBufferGrowth)} MiB, rss ${mib(r.maxRssGrowth)} MiB`
  );
}

export function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
