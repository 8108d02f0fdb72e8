import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/transport-udp',
    include: ['test/**/*.test.ts'],
    // Namespace tests run the built package in child processes: build it once first.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
