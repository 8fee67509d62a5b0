import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createApp, type AppDeps } from '../../services/api/app.ts';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../services/log.ts';
import { createMetrics } from '../../services/metrics.ts';
import { ActionQueue, redisConnection } from '../../services/queue.ts';
import type { Db } from '../../services/db/knex.ts';
import { TEST_REDIS_URL } from './env.ts';

export const TEST_SECRET = 'test-webhook-secret-0123456789';
/** An operator's token (API_TOKENS) of the default test app. */
export const TEST_TOKEN = 'test-operator-token-0123456789';

/** A unique BullMQ prefix per test file, so files never see each other's jobs. */
export const uniquePrefix = (name: string) => `rdtest-${name}-${randomBytes(4).toString('hex')}`;

export async function startApp(db: Db, overrides: Partial<AppDeps> = {}) {
  const queue = new ActionQueue(redisConnection(TEST_REDIS_URL), uniquePrefix('api'));
  await queue.queue.waitUntilReady();
  const deps: AppDeps = {
    db,
    queue,
    log: createLogger('silent'),
    metrics: createMetrics(),
    secret: TEST_SECRET,
    rtQueue: 'Releases',
    rtUser: 'releasedesk',
    storageDir: '/nonexistent',
    health: {},
    signer: {
      signFile: async () => {
        throw new Error('this test was not expected to export a bundle (pass a signer)');
      },
    },
    // the release views open to anyone, as most tests read them; test/services/api/signin.test.ts tests the default
    config: loadConfig({
      RT_TOKEN: 'test-token-0123456789abcdef',
      WEBHOOK_SECRET: TEST_SECRET,
      PUBLIC_READS: 'true',
      API_TOKENS: TEST_TOKEN,
    }),
    ...overrides,
  };
  const server: Server = await new Promise((resolve) => {
    const s = createServer(createApp(deps)).listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    deps,
    queue,
    close: async () => {
      await new Promise((r) => server.close(r));
      await queue.queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    },
  };
}
