import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('the README example runs and prints what it says', async () => {
  const script = path.resolve(import.meta.dirname, '../examples/policy.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script]);
  expect(stdout.trim().split('\n')).toEqual([
    '(and (= subject.component.db "true") (not (= subject.web "true")))',
    'true false',
    'db got a message from I1111',
  ]);
});
