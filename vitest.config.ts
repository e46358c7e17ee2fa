import { defineConfig } from 'vitest/config';

// One suite for the whole repository. Tests sit beside the code: `x.test.ts` runs anywhere,
// `x.int.test.ts` needs a real server (PostgreSQL, Kafka, Orthanc, a mail server, Chromium): see test/services.ts.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', 'data/**', '**/dist/**', '.work/**', 'ui/**/e2e/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
    reporters: process.env.KENEY_TEST_JSON ? ['default', ['json', { outputFile: process.env.KENEY_TEST_JSON }]] : ['default'],
  },
});
