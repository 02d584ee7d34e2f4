import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Benchmark data (gigabytes of LevelDB files) lives in tests/artifacts: never walk it.
    exclude: [...configDefaults.exclude, 'tests/artifacts/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default', './tests/helpers/summary-reporter.ts'],
  },
});
