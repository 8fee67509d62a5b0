import { describe, it } from 'vitest';
import { kill9LoadSuite } from '../support/kill9-load.ts';

// Two worker machines (their own STORAGE_DIRs) sharing PostgreSQL, Redis and an object store (Swift), one of
// them SIGKILLed at random points and taken over by the other: test/support/kill9-load.ts. About two minutes
// even when short, so it runs with the long fault runs (npm run test:chaos sets FAULTS_SCALE).
if (process.env.FAULTS_SCALE) kill9LoadSuite({ scaleOut: true });
else describe.skip('two worker machines and one object store, kill -9 under load (npm run test:chaos)', () => it('runs under test:chaos'));
