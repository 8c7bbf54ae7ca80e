import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // the default output, then what was skipped and why (test/helpers/requirements.ts)
    reporters: ['default', './test/helpers/skip-reporter.ts'],
  },
});
