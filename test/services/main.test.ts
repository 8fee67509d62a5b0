/** services/main.ts: what starting the service wires from the configuration. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../services/log.ts';
import { startService } from '../../services/main.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import { uniquePrefix } from '../support/app.ts';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../support/env.ts';
import { freePort } from '../support/service.ts';

let root: string;
let svc: Awaited<ReturnType<typeof startService>>;
let url: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-main-'));
  await mkdir(join(root, 'objects'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: uniquePrefix('main'),
    RT_URL: `http://127.0.0.1:${await freePort()}`, // no RT: only what the object store wires is looked at
    RT_TOKEN: 'rt-token-0123456789abcdef',
    WEBHOOK_SECRET: 'webhook-secret-0123456789',
    STORAGE_DIR: join(root, 'storage'),
    BLOB_STORE: `file://${join(root, 'objects')}`,
    LOG_LEVEL: 'silent',
  });
  svc = await startService(config, 'api', createLogger('silent'));
}, 120_000);
afterAll(async () => {
  await svc?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('BLOB_STORE at start', () => {
  it('backs the blobs of STORAGE_DIR with the object store and /healthz checks it', async () => {
    expect(new BlobStore(join(root, 'storage')).objects?.where).toBe(`dir ${join(root, 'objects')}`);
    const ok = (await (await fetch(`${url}/healthz`)).json()) as { checks: Record<string, string> };
    expect(ok.checks.object_store).toBe('ok');
    await rm(join(root, 'objects'), { recursive: true });
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { checks: Record<string, string> }).checks.object_store).toMatch(/^down: dir .*objects: ENOENT$/);
  });
});
