import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  InboundGuard,
  type InboundLimitInfo,
  inboundLimits,
  LogLimiter,
  READ_OVERHEAD_BYTES,
  recordingLogger,
} from '../src/index.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function guard(limits: Parameters<typeof inboundLimits>[0] = {}) {
  const { logger, lines } = recordingLogger('trace');
  return { guard: new InboundGuard({ transport: 'tcp', logger, limits }), lines };
}

function watch(g: InboundGuard, options: { inbound?: boolean; handshake?: boolean } = {}) {
  const hits: InboundLimitInfo[] = [];
  const w = g.watch({
    peer: '10.0.0.1:5000',
    inbound: options.inbound ?? true,
    handshake: options.handshake ?? false,
    onLimit: (i) => hits.push(i),
  });
  return { w, hits };
}

describe('inbound limits', () => {
  it('fills in the documented defaults and refuses values out of range', () => {
    expect(inboundLimits()).toMatchObject({
      maxConnections: 1024,
      maxBufferedBytes: DEFAULT_MAX_BUFFERED_BYTES,
      firstMessageTimeoutMs: DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
    });
    expect(() => inboundLimits({ maxConnections: 0 })).toThrow(RangeError);
    expect(() => inboundLimits({ frameTimeoutMs: -1 })).toThrow(/frameTimeoutMs/);
    expect(() => inboundLimits({ maxBufferedBytes: 1.5 })).toThrow(RangeError);
    expect(inboundLimits({ frameTimeoutMs: 0 }).frameTimeoutMs).toBe(0);
  });

  it('admits connections up to maxConnections and logs the refusals once', () => {
    const { guard: g, lines } = guard({ maxConnections: 2 });
    expect(g.admit(1, 'a')).toBe(true);
    for (let i = 0; i < 100; i++) expect(g.admit(2, `peer${i}`)).toBe(false);
    expect(g.stats().refused).toBe(100);
    expect(lines.filter((l) => l.message === 'tcp connection refused')).toHaveLength(1);
  });

  it('charges what connections hold beyond their allowance to one shared budget', () => {
    const { guard: g } = guard({ maxBufferedBytes: 100_000, connectionAllowanceBytes: 10_000 });
    const a = watch(g);
    const b = watch(g);
    expect(a.w.hold(10_000, 0)).toBe(true);
    expect(g.stats().budgetedBytes).toBe(0);
    expect(a.w.hold(70_000, 0)).toBe(true);
    expect(g.stats().budgetedBytes).toBe(60_000);
    expect(b.w.hold(50_000, 0)).toBe(true);
    expect(g.stats().budgetedBytes).toBe(100_000);
    // One more read is one READ_OVERHEAD_BYTES more, which does not fit.
    expect(b.w.hold(50_000, 1)).toBe(false);
    expect(b.hits.map((h) => h.limit)).toEqual(['buffer-budget']);
    expect(g.stats().budgetedBytes).toBe(60_000);
    a.w.hold(0, 0);
    expect(g.stats().budgetedBytes).toBe(0);
    a.w.hold(10_000, 1);
    expect(g.stats().budgetedBytes).toBe(READ_OVERHEAD_BYTES);
    a.w.release();
    expect(g.stats()).toMatchObject({ budgetedBytes: 0, closed: { 'buffer-budget': 1 } });
  });

  it('times the handshake until it is done', () => {
    const { guard: g } = guard({ handshakeTimeoutMs: 1_000 });
    const late = watch(g, { handshake: true });
    const prompt = watch(g, { handshake: true });
    prompt.w.handshakeDone();
    vi.advanceTimersByTime(1_000);
    expect(late.hits.map((h) => h.limit)).toEqual(['handshake-timeout']);
    expect(prompt.hits).toEqual([]);
  });

  it('times a frame only while it waits for the peer', () => {
    const { guard: g, lines } = guard({ frameTimeoutMs: 1_000, firstMessageTimeoutMs: 0 });
    const { w, hits } = watch(g);
    w.frameProgress(true);
    vi.advanceTimersByTime(600);
    // The node routes (or has paused reading) for long: that time is not the peer's.
    w.busy();
    vi.advanceTimersByTime(10_000);
    w.frameProgress(true);
    vi.advanceTimersByTime(399);
    expect(hits).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(hits).toEqual([
      { limit: 'frame-timeout', reason: 'a frame was not complete within 1000 ms (frameTimeoutMs)' },
    ]);
    expect(lines.filter((l) => l.message === 'tcp connection closed')).toHaveLength(1);
  });

  it('gives each frame a clock of its own', () => {
    const { guard: g } = guard({ frameTimeoutMs: 1_000, firstMessageTimeoutMs: 0 });
    const { w, hits } = watch(g);
    for (let i = 0; i < 10; i++) {
      w.frameProgress(true);
      vi.advanceTimersByTime(900);
      w.frameDone();
    }
    w.frameProgress(false);
    vi.advanceTimersByTime(5_000);
    expect(hits).toEqual([]);
  });

  it('closes an accepted connection that delivers nothing, and lets one that did stay idle', () => {
    const { guard: g } = guard({ firstMessageTimeoutMs: 1_000 });
    const silent = watch(g);
    const talker = watch(g);
    const outgoing = watch(g, { inbound: false });
    talker.w.delivered();
    vi.advanceTimersByTime(1_000_000);
    expect(silent.hits.map((h) => h.limit)).toEqual(['first-message-timeout']);
    expect(talker.hits).toEqual([]);
    expect(outgoing.hits).toEqual([]);
  });

  it('lets a first message that is still arriving finish under the frame clock', () => {
    const { guard: g } = guard({ firstMessageTimeoutMs: 1_000, frameTimeoutMs: 5_000 });
    const { w, hits } = watch(g);
    vi.advanceTimersByTime(500);
    w.frameProgress(true);
    vi.advanceTimersByTime(2_000);
    expect(hits).toEqual([]);
    w.frameDone();
    w.delivered();
    vi.advanceTimersByTime(100_000);
    expect(hits).toEqual([]);
  });

  it('stops its timers when released', () => {
    const { guard: g } = guard({ handshakeTimeoutMs: 10, frameTimeoutMs: 10, firstMessageTimeoutMs: 10 });
    const { w, hits } = watch(g, { handshake: true });
    w.frameProgress(true);
    w.release();
    vi.advanceTimersByTime(1_000);
    expect(hits).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('log limiter', () => {
  it('writes one line per kind per interval and reports what it suppressed', () => {
    const { logger, lines } = recordingLogger('trace');
    const log = new LogLimiter(logger, 60_000);
    for (let i = 0; i < 1_000; i++) log.warn('a', 'closed', { peer: `p${i}` });
    log.warn('b', 'refused');
    expect(lines.map((l) => l.message)).toEqual(['closed', 'refused']);
    vi.advanceTimersByTime(60_000);
    log.warn('a', 'closed', { peer: 'last' });
    expect(lines[2]!.fields).toEqual({ peer: 'last', suppressed: 999 });
  });

  it('bounds the kinds it remembers, so varied input cannot flood the log', () => {
    const { logger, lines } = recordingLogger('trace');
    const log = new LogLimiter(logger, 60_000);
    for (let i = 0; i < 10_000; i++) log.warn(`reason ${i}`, 'closed');
    expect(lines).toHaveLength(65);
  });
});
