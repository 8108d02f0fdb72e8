import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../src/index.js';

describe('recordingLogger', () => {
  it('keeps the lines at or above its threshold, in order, with child fields merged', () => {
    const seen: string[] = [];
    const { logger, lines } = recordingLogger('debug', (l) => seen.push(l.message));
    logger.trace('not kept');
    logger.debug('kept', { a: 1 });
    logger.child({ node: 'n1' }).warn('dropped a frame', { peer: 'x' });
    expect(lines).toEqual([
      { level: 'debug', message: 'kept', fields: { a: 1 } },
      { level: 'warn', message: 'dropped a frame', fields: { node: 'n1', peer: 'x' } },
    ]);
    expect(seen).toEqual(['kept', 'dropped a frame']);
    expect(recordingLogger().lines).toEqual([]);
  });
});
