import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('the README example runs and prints the echoed greeting', async () => {
  const script = path.resolve(import.meta.dirname, '../examples/hello.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script]);
  expect(stdout.trim()).toBe('hello from Bob');
});
