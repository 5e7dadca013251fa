import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal workers crash inside worker threads.
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    // Two cores: integration files each start a dev server, so run two files at a time at most.
    maxWorkers: 2,
  },
});
