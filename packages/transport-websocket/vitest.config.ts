import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/transport-websocket',
    include: ['test/**/*.test.ts'],
    // The browser bundle is built from dist/ through the package's exports: build it first.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
