import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // One file at a time: every test starts several daemons of two implementations, which is what
    // a 2-core machine can take without turning timeouts into failures.
    fileParallelism: false,
    sequence: { shuffle: false },
  },
});
