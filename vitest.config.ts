import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native addons (better-sqlite3, onnxruntime) and SIGKILL fault tests are safer in forked processes.
    pool: 'forks',
  },
});
