import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: '@ockam/identity',
    include: ['test/**/*.test.ts'],
  },
});
