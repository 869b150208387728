import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests open databases and sockets; each await is bounded by these rather than by timed asserts.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // two cores: more parallel files only make PGlite start-ups and fake servers fight for CPU
    maxWorkers: 2,
  },
});
