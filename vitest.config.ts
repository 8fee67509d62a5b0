import { defineConfig } from 'vitest/config';

/**
 * Long fault runs (minutes each even when short) run with `npm run test:chaos`, which sets FAULTS_SCALE, so
 * that `npm test` stays within its time. kill9-load, mirror-kill and the hostile inputs stay in both.
 */
const CHAOS_ONLY = [
  'test/faults/rt-outage.test.ts',
  'test/faults/restarts.test.ts',
  'test/faults/duplicates.test.ts',
  'test/faults/scale-out.test.ts',
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...(process.env.FAULTS_SCALE ? [] : CHAOS_ONLY)],
    // worker and end-to-end tests share one PostgreSQL and one RT; files run one at a time
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
