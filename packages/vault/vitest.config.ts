import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/vault',
    include: ['test/**/*.test.ts'],
    // Property tests sign and verify with pure-JS noble on a 2-core machine that CI may share
    // with other suites: 5 s was not enough under load (one ed25519 property timed out).
    testTimeout: 60_000,
  },
});
