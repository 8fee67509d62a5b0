import { kill9LoadSuite } from '../support/kill9-load.ts';

// kill -9 of the worker under load, one machine: test/support/kill9-load.ts
kill9LoadSuite();
