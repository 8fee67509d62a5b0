import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { loadConfig, ConfigError, type Config } from '../config/index.ts';
import { createDb, ensureDatabase, migrate, ping } from './db/knex.ts';
import { createHelpdesk } from './helpdesk/index.ts';
import { checkWritesAccepted } from './helpdesk/outbox.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { ActionQueue, redisConnection } from './queue.ts';
import { SigningKeyError } from './signing/key-file.ts';
import { configuredKeys, publicKeysDir, startSigner, type Signer } from './signing/signer.ts';
import { replicateKeys } from './storage/objects/published.ts';
import { backBlobsWith, openObjectStore } from './storage/objects/open.ts';
import { createActionWorker } from '../workers/action-worker.ts';
import { outboxLoop, relayLoop, type Loop } from '../workers/loops.ts';
import { mirrorLoop } from '../workers/mirror-sync.ts';
import { retentionLoop } from '../workers/retention.ts';
import { sweepLeftovers } from '../workers/sweep.ts';
import { driftLoop } from '../workers/drift.ts';
import { slaLoop } from '../workers/sla.ts';
import { PeerClient } from './bundles/peer-client.ts';
import { resignLoop } from '../workers/resign.ts';
import { reconcileLoop } from '../workers/reconciler.ts';
import { plans } from '../workers/steps/index.ts';

export type Role = 'all' | 'api' | 'worker';

/**
 * Starts the API, the worker, or both in one process; returns a stop function for tests and signals. The
 * signing keys come first: a bad one stops the start (SigningKeyError) before anything else runs.
 */
export async function startService(config: Config, role: Role = 'all', log: Logger = createLogger(config.LOG_LEVEL)) {
  const signer = await startSigner({
    storageDir: config.STORAGE_DIR,
    keys: configuredKeys(config),
    trustedKeys: config.TRUSTED_BUNDLE_KEYS,
    log,
  });
  try {
    return await startParts(config, role, log, signer);
  } catch (e) {
    await signer.stop();
    throw e;
  }
}

async function startParts(config: Config, role: Role, log: Logger, signer: Signer) {
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb(config.DATABASE_URL, undefined, log);
  await migrate(db);
  const connection = redisConnection(config.REDIS_URL);
  const queue = new ActionQueue(connection, config.QUEUE_PREFIX);
  // without a listener BullMQ prints every reconnect attempt's stack on stderr; a failed enqueue is logged
  // where it happens (intake, relay) and health answers for Redis
  queue.queue.on('error', (err) => log.debug({ err: err.message }, 'queue connection error'));
  const metrics = createMetrics();
  const rt = createHelpdesk(config, log);
  const redis = new Redis({ ...(connection as object), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // health answers for it; ioredis reconnects by itself
  await redis.connect().catch(() => undefined);
  const intake = { db, queue, log, rtQueue: config.RT_QUEUE, rtUser: config.RT_USER };
  const stops: Array<() => Promise<unknown>> = [];
  // every BlobStore on STORAGE_DIR puts to and gets from it (services/storage/objects/open.ts)
  const objects = await openObjectStore(config.BLOB_STORE);
  backBlobsWith(config.STORAGE_DIR, objects);

  let server: Server | undefined;
  if (role !== 'worker') {
    // imported here: a worker alone does not carry the API's and the console's modules (~6 MB of its heap,
    // which every full GC marks, and ~18 MB of its RSS)
    const { createApp } = await import('./api/app.ts');
    const app = createApp({
      ...intake,
      secret: config.WEBHOOK_SECRET,
      metrics,
      storageDir: config.STORAGE_DIR,
      config,
      signer,
      helpdesk: rt,
      objects,
      health: {
        postgres: () => ping(db),
        redis: async () => {
          await redis.ping();
        },
        helpdesk: () => rt.ping(),
        helpdesk_writes: () => checkWritesAccepted(db),
        // actions need it as they need PostgreSQL: away, they wait and retry (RD_STORE_UNAVAILABLE)
        ...(objects && { object_store: () => objects.ping() }),
      },
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = createServer(app)
        .listen(config.PORT, config.HOST, () => resolve(s))
        .on('error', reject);
    });
    stops.push(() => new Promise((r) => server!.close(r)));
    log.info({ url: `http://${config.HOST}:${config.PORT}`, publicUrl: config.PUBLIC_URL, node: process.version }, 'api listening');
  }
  if (role !== 'api') {
    await sweepLeftovers(config.STORAGE_DIR, log);
    if (objects)
      await replicateKeys(objects, publicKeysDir(config.STORAGE_DIR)).catch((e) =>
        log.warn(
          { err: (e as Error).message, store: objects.where },
          'the public keys could not be put in the object store; sites reading it directly lack them until the next start',
        ),
      );
    const outbox = outboxLoop(db, rt, log, metrics, config.OUTBOX_INTERVAL_MS, config.OUTBOX_REFUSED_RETRY_MS, new PeerClient(config));
    const worker = createActionWorker(
      { db, rt, config, metrics, log, plans, signer, writeBacksQueued: outbox.kick },
      connection,
      config.QUEUE_PREFIX,
      config.WORKER_CONCURRENCY,
      config.WORKER_LOCK_MS,
    );
    const loops: Loop[] = [outbox, relayLoop(db, queue, log, 5_000, config.STORAGE_DIR), resignLoop(db, config.STORAGE_DIR, signer, log)];
    if (config.DRIFT_INTERVAL_MS > 0)
      loops.push(driftLoop({ db, config, helpdesk: rt, log, metrics, writeBacksQueued: outbox.kick }, config.DRIFT_INTERVAL_MS));
    if (config.SLA_CHECK_MS > 0) loops.push(slaLoop({ db, log, metrics, config, writeBacksQueued: outbox.kick }, config.SLA_CHECK_MS));
    if (config.GC_INTERVAL_MS > 0) loops.push(retentionLoop(db, log, config, config.GC_INTERVAL_MS));
    if (config.MIRROR_TARGETS.length) loops.push(mirrorLoop({ db, log, metrics, config, writeBacksQueued: outbox.kick }));
    if (config.RECONCILE_INTERVAL_MS > 0)
      loops.push(reconcileLoop({ db, rt: rt.client, log, intake, config }, config.RECONCILE_INTERVAL_MS));
    stops.push(() => worker.close(), ...loops.map((l) => () => l.stop()));
    // the first action need not wait for the queue's fields and the groups: read now, and again when needed
    void rt.warm().catch((err: Error) => log.info({ err: err.message }, 'RT not read at start; the first action will'));
    log.info({ concurrency: config.WORKER_CONCURRENCY, node: process.version }, 'worker started');
  }
  stops.push(
    () => queue.close(),
    async () => redis.disconnect(),
    () => db.destroy(),
    () => signer.stop(),
    async () => {
      backBlobsWith(config.STORAGE_DIR, null);
      await objects?.close();
    },
  );
  return {
    server,
    db,
    queue,
    metrics,
    log,
    stop: async () => {
      for (const s of stops) await s().catch((e) => log.warn({ err: e }, 'stop step failed'));
    },
  };
}

async function main() {
  const roleArg = process.argv.indexOf('--role');
  const role = (roleArg > 0 ? process.argv[roleArg + 1] : 'all') as Role;
  if (!['all', 'api', 'worker'].includes(role)) throw new Error(`--role must be all, api or worker, not ${role}`);
  // A bad configuration or signing key: its lines on stderr, exit 2 (no stack, nothing started)
  const misconfigured = (e: unknown) => {
    if (!(e instanceof ConfigError || e instanceof SigningKeyError)) throw e;
    console.error(e.message);
    process.exit(2);
  };
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    return misconfigured(e);
  }
  const log = createLogger(config.LOG_LEVEL);
  const svc = await startService(config, role, log).catch(misconfigured);
  const shutdown = async (sig: string) => {
    log.info({ sig }, 'stopping');
    await svc.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
