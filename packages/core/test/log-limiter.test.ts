/** `LogLimiter` options beyond the defaults that `inbound-limits.test.ts` covers. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogLimiter, recordingLogger } from '../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('with summaries (as the secure channel uses it)', () => {
  it('writes the first line of a reason at once, counts the rest, and writes the count once per interval', () => {
    vi.useFakeTimers();
    const { logger, lines: all } = recordingLogger('debug');
    const log = new LogLimiter(logger, { intervalMs: 1_000, summaries: true });
    for (let i = 0; i < 100; i++) log.log('warn', 'frame', 'dropped', { error: `nonce ${i}` });
    log.log('info', 'other', 'something else', {});
    expect(all.map((l) => [l.message, l.fields.suppressed])).toEqual([
      ['dropped', undefined],
      ['something else', undefined],
    ]);
    vi.advanceTimersByTime(1_000);
    expect(all.slice(2).map((l) => [l.level, l.message, l.fields])).toEqual([
      ['warn', 'dropped', { error: 'nonce 99', suppressed: 99, intervalMs: 1_000 }],
    ]);
    // Still flooding: one line per interval; quiet for an interval: the next line is written at once.
    log.log('warn', 'frame', 'dropped', { error: 'again' });
    vi.advanceTimersByTime(1_000);
    expect(all).toHaveLength(4);
    vi.advanceTimersByTime(1_000);
    log.log('warn', 'frame', 'dropped', { error: 'later' });
    expect(all.at(-1)!.fields).toEqual({ error: 'later' });
    log.flush();
  });

  it('keeps at most 64 reasons apart and counts the others together', () => {
    const { logger, lines: all } = recordingLogger('debug');
    const log = new LogLimiter(logger, { intervalMs: 60_000, summaries: true });
    for (let i = 0; i < 1_000; i++) log.log('warn', `reason ${i}`, 'dropped', { i });
    expect(all).toHaveLength(65);
    log.flush();
    expect(all.at(-1)!.fields).toMatchObject({ i: 999, suppressed: 935 });
  });
});

describe('levels and options', () => {
  it('writes at the level given and caps kinds at maxKinds', () => {
    const { logger, lines } = recordingLogger('trace');
    const log = new LogLimiter(logger, { intervalMs: 60_000, maxKinds: 2 });
    log.log('debug', 'a', 'one');
    log.log('info', 'b', 'two');
    for (let i = 0; i < 100; i++) log.log('warn', `c${i}`, 'more');
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['debug', 'one'],
      ['info', 'two'],
      ['warn', 'more'],
    ]);
  });

  it('refuses intervals and caps that make no sense', () => {
    const { logger } = recordingLogger('trace');
    expect(() => new LogLimiter(logger, -1)).toThrow(RangeError);
    expect(() => new LogLimiter(logger, { intervalMs: 0, summaries: true })).toThrow(RangeError);
    expect(() => new LogLimiter(logger, { maxKinds: 0 })).toThrow(RangeError);
  });
});
