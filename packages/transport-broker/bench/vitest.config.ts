import { defineConfig } from 'vitest/config';

// `pnpm bench`: vitest only runs the TypeScript (the brokers' launcher is TS); nothing is asserted on time.
export default defineConfig({
  test: {
    name: '@ockam/transport-broker bench',
    include: ['bench/**/*.bench.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
  },
});
