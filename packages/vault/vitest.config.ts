import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/vault',
    include: ['test/**/*.test.ts'],
  },
});
