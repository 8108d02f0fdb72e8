import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLogSink, redact, resolveLogLevel } from '../src/index.js';

describe('node log files', () => {
  it('rotates by size and keeps only the configured number of old files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocklog-'));
    try {
      const path = join(dir, 'node.log');
      const sink = fileLogSink(path, { level: 'info', maxSizeBytes: 1000, maxFiles: 2 });
      for (let i = 0; i < 100; i++) sink.logger.info('line', { i });
      await sink.close();
      expect(existsSync(`${path}.1`)).toBe(true);
      expect(existsSync(`${path}.2`)).toBe(true);
      expect(existsSync(`${path}.3`)).toBe(false);
      for (const f of [path, `${path}.1`, `${path}.2`])
        expect(readFileSync(f).length).toBeLessThanOrEqual(1000);
      const last = readFileSync(path, 'utf8').trim().split('\n').pop()!;
      expect(JSON.parse(last)).toMatchObject({ level: 'info', message: 'line', i: 99 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes pretty lines when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocklog-'));
    try {
      const sink = fileLogSink(join(dir, 'n.log'), { level: 'debug', format: 'pretty' });
      sink.logger.debug('hello', { peer: '127.0.0.1:1' });
      await sink.close();
      expect(readFileSync(join(dir, 'n.log'), 'utf8')).toMatch(/^\S+Z DEBUG hello peer=127\.0\.0\.1:1\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('redacts secret-looking fields and never prints bytes', () => {
    expect(
      redact({
        passphrase: 'x',
        otc: 'y',
        payload: 'z',
        secretKey: 'k',
        bytes: new Uint8Array(3),
        peer: 'p',
      }),
    ).toEqual({
      passphrase: '[redacted]',
      otc: '[redacted]',
      payload: '[redacted]',
      secretKey: '[redacted]',
      bytes: '[3 bytes]',
      peer: 'p',
    });
  });

  it('resolves the level with one precedence', () => {
    expect(resolveLogLevel('warn', 2, { OCKAM_LOG_LEVEL: 'trace' })).toBe('warn');
    expect(resolveLogLevel(undefined, 1, { OCKAM_LOG_LEVEL: 'error' })).toBe('info');
    expect(resolveLogLevel(undefined, 2, {})).toBe('info');
    expect(resolveLogLevel(undefined, 3, {})).toBe('debug');
    expect(resolveLogLevel(undefined, 4, {})).toBe('trace');
    expect(resolveLogLevel(undefined, 0, { OCKAM_LOG_LEVEL: 'error' })).toBe('error');
    expect(resolveLogLevel(undefined, 0, {})).toBe('info');
  });
});
