import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/transport-tcp',
    include: ['test/**/*.test.ts'],
    // Child-process tests run the built package: build it once before any test file.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
