import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../config/index.ts';
import { dropDatabase, ensureDatabase } from '../../services/db/knex.ts';
import { createLogger } from '../../services/log.ts';
import { startService } from '../../services/main.ts';
import { uniquePrefix } from './app.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.ts';
import { RT_URL, rtTokens } from './rt.ts';

export const E2E_SECRET = 'e2e-webhook-secret-0123456789abcdef';
/** An operator's token (API_TOKENS) of every test service. */
export const E2E_TOKEN = 'e2e-operator-token-0123456789';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

let services = 0;

/**
 * A database of its own for one service: a STORAGE_DIR and its database belong together. Distributions hold
 * every product of a stage, so releases another service left in a shared database would name blobs this
 * one's store never had.
 */
async function ownDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const url = new URL(TEST_DATABASE_URL);
  const name = `${decodeURIComponent(url.pathname.slice(1))}_svc_${process.pid}_${++services}`;
  url.pathname = `/${name}`;
  await dropDatabase(url.toString());
  await ensureDatabase(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString()) };
}

/** The whole service (API + worker + loops) on a free loopback port, against the real RT, PG, Redis. */
export async function startTestService(over: Partial<Record<keyof Config, string>> = {}, role: 'all' | 'api' = 'all') {
  const port = await freePort();
  const storage = await mkdtemp(path.join(process.env.STORAGE_TMP ?? tmpdir(), 'rd-storage-'));
  const database = over.DATABASE_URL ? null : await ownDatabase();
  const env = {
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: database?.url ?? TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: uniquePrefix('e2e'),
    RT_URL,
    RT_TOKEN: rtTokens().releasedesk,
    WEBHOOK_SECRET: E2E_SECRET,
    STORAGE_DIR: storage,
    ALLOWED_DOWNLOAD_HOSTS: '127.0.0.1',
    RECONCILE_INTERVAL_MS: '0',
    OUTBOX_INTERVAL_MS: '200',
    DOWNLOAD_TIMEOUT_MS: '5000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // most suites read the release views without signing in; test/services/api/signin.test.ts tests the default
    PUBLIC_READS: 'true',
    API_TOKENS: E2E_TOKEN,
    ...over,
  };
  const config = loadConfig(env);
  const svc = await startService(config, role, createLogger(config.LOG_LEVEL));
  return {
    ...svc,
    config,
    env,
    url: `http://127.0.0.1:${port}`,
    storage,
    webhookUrl: `http://127.0.0.1:${port}/webhooks/rt`,
    close: async () => {
      await svc.stop();
      await rm(storage, { recursive: true, force: true });
      await database?.drop();
    },
  };
}
