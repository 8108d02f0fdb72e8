import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/secure-channel',
    include: ['test/**/*.test.ts'],
  },
});
