import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/transport-broker',
    include: ['test/**/*.test.ts'],
    // Each file starts one real broker (a JVM for Kafka): give its start and stop room.
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
