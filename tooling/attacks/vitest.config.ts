import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    // One file at a time: each attack measures a node's memory and answer times, which another
    // file's nodes would disturb on a 2-core machine.
    fileParallelism: false,
    sequence: { shuffle: false },
  },
});
