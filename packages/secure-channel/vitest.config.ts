import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/secure-channel',
    include: ['test/**/*.test.ts'],
    // Property tests run real cryptography; CI's 2 cores may be shared with other suites.
    testTimeout: 60_000,
  },
});
