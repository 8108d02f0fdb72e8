import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    // One file at a time: the load test needs both cores, and the fuzzer's memory figures must not
    // include another file's work. Forks so that --expose-gc reaches the test process.
    fileParallelism: false,
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
    sequence: { shuffle: false },
  },
});
