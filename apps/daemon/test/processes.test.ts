import { OckamError } from '@ockam/core';
import { describe, expect, it } from 'vitest';
import { daemonV8Flags } from '../src/processes.js';

describe('daemonV8Flags', () => {
  it('chooses single-threaded GC on two cores or fewer, and a 64 MiB initial old-space limit everywhere', () => {
    expect(daemonV8Flags({}, 1)).toEqual(['--single-threaded-gc', '--initial-old-space-size=64']);
    expect(daemonV8Flags({}, 2)).toEqual(['--single-threaded-gc', '--initial-old-space-size=64']);
    expect(daemonV8Flags({}, 4)).toEqual(['--initial-old-space-size=64']);
  });

  it('lets OCKAM_NODE_V8_FLAGS replace the choice, empty included', () => {
    expect(daemonV8Flags({ OCKAM_NODE_V8_FLAGS: '' }, 2)).toEqual([]);
    expect(
      daemonV8Flags({ OCKAM_NODE_V8_FLAGS: ' --max-semi-space-size=16  --single-threaded-gc ' }, 8),
    ).toEqual(['--max-semi-space-size=16', '--single-threaded-gc']);
  });

  it('refuses anything that is not a plain flag, and options that would run other code', () => {
    for (const bad of [
      '--require=./x.js',
      '--import=data:,1',
      '--inspect',
      '--inspect-brk=0',
      'script.js',
      '--eval=1',
      '--a=$(id)',
      '--cpu-prof-dir=/tmp',
    ]) {
      expect(() => daemonV8Flags({ OCKAM_NODE_V8_FLAGS: bad }, 2), bad).toThrow(OckamError);
    }
    expect(() => daemonV8Flags({ OCKAM_NODE_V8_FLAGS: '--require=./x.js' }, 2)).toThrow(
      /'--require=.\/x.js' is not a V8 flag/,
    );
  });
});
