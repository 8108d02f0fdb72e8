import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // Each file starts a JVM or an Erlang VM: one at a time on a 2-core machine.
    fileParallelism: false,
  },
});
