import { kill9LoadSuite } from '../support/kill9-load.ts';

// Two worker machines (their own STORAGE_DIRs) sharing PostgreSQL, Redis and an object store (Swift), one of
// them SIGKILLed at random points and taken over by the other: test/support/kill9-load.ts. Chaos only
// (vitest.config.ts): about two minutes even when short.
kill9LoadSuite({ scaleOut: true });
