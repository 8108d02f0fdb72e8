import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/portals',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Memory figures (per-connection cost, back-pressure) are measured after a forced GC.
    pool: 'forks',
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
