import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('the README example runs and prints the enrolled credential', async () => {
  const script = path.resolve(import.meta.dirname, '../examples/enroll.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script]);
  expect(stdout.trim().split('\n')).toEqual([
    "{ component: 'db', trust_context_id: 'my-project' }",
    'valid for 30 days',
  ]);
});
