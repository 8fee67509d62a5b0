import type { Db } from '../services/db/knex.ts';
import type { Logger } from '../services/log.ts';
import { runGc, type RetentionConfig } from '../services/retention/gc.ts';
import { every, type Loop } from './loops.ts';

/** Purges releases past their retention every GC_INTERVAL_MS; one process at a time (the loop's lock). */
export const retentionLoop = (db: Db, log: Logger, config: RetentionConfig, ms: number): Loop =>
  every(db, 'gc', ms, log, async () => {
    await runGc({ db, log, config });
  });
