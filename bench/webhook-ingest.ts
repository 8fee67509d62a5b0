/**
 * Webhook ingest: signed, distinct RepoAction events against POST /webhooks/rt (real PostgreSQL and
 * Redis), beside an Express hello-world on the same machine in the same run. Prints req/s and latency
 * percentiles for both, and checks that the rows persisted equal the 202s answered.
 *   node --import tsx bench/webhook-ingest.ts [events=20000] [connections=50]
 */
import autocannon from 'autocannon';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../config/index.ts';
import { sign } from '../services/api/signature.ts';
import { createApp } from '../services/api/app.ts';
import { createDb, ensureDatabase, migrate } from '../services/db/knex.ts';
import { createLogger } from '../services/log.ts';
import { createMetrics } from '../services/metrics.ts';
import { ActionQueue, redisConnection } from '../services/queue.ts';

const amount = Number(process.argv[2] ?? 20_000);
const connections = Number(process.argv[3] ?? 50);
const DB = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/releasedesk_bench';
const SECRET = 'bench-webhook-secret-0123456789';

async function listen(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await new Promise<import('node:http').Server>((r) => { const s = app.listen(0, '127.0.0.1', () => r(s)); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, res) => (err ? reject(err) : resolve(res))));
}

const line = (name: string, r: autocannon.Result) =>
  `${name.padEnd(22)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   ` +
  `2xx ${r['2xx']}  non-2xx ${r.non2xx}  errors ${r.errors}`;

async function main() {
  await ensureDatabase(DB);
  const db = createDb(DB, { min: 0, max: 20 });
  await migrate(db);
  await db.raw('TRUNCATE inbox RESTART IDENTITY CASCADE');
  const queue = new ActionQueue(redisConnection(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'), `rdbench-${Date.now()}`);
  await queue.queue.waitUntilReady();

  const hello = express();
  hello.post('/webhooks/rt', (_req, res) => { res.status(202).json({ status: 'queued' }); });
  const h = await listen(hello);
  const base = await run({ url: `${h.url}/webhooks/rt`, method: 'POST', connections, amount, body: '{}', headers: { 'content-type': 'application/json' } });
  await h.close();

  const app = createApp({
    db, queue, log: createLogger('silent'), metrics: createMetrics(), secret: SECRET, rtQueue: 'Releases', rtUser: 'releasedesk',
    storageDir: '/nonexistent', health: {}, config: loadConfig({ RT_TOKEN: 'bench-token-0123456789abcdef', WEBHOOK_SECRET: SECRET }),
  });
  const s = await listen(app);
  let txn = 0;
  const r = await run({
    url: `${s.url}/webhooks/rt`, connections, amount,
    requests: [{
      method: 'POST',
      setupRequest: (req) => {
        txn++;
        const body = JSON.stringify({
          event: 'customfield.changed', ticket_id: 1 + (txn % 500), queue: 'Releases', subject: 'bench', transaction_id: txn,
          field: 'RepoAction', field_id: 2, old_value: null, new_value: 'MoveToUnverified', actor: { id: 33, name: 'provider1' },
          created: '2026-11-21T10:00:00Z', rt_url: 'http://127.0.0.1:8085',
        });
        return { ...req, body, headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, SECRET) } };
      },
    }],
  });
  await s.close();
  console.log(`webhook ingest, ${amount} signed distinct events, ${connections} connections, 2 cores`);
  console.log(line('express hello-world', base));
  console.log(line('releasedesk webhook', r));
  console.log(`ratio releasedesk/hello-world: ${(r.requests.average / base.requests.average).toFixed(2)}`);
  await new Promise((res) => setTimeout(res, 1000)); // the last hand-overs to the queue
  const final = Number((await db('inbox').count({ n: '*' }))[0]!.n);
  const enqueued = Number((await db('inbox').whereNotNull('enqueued_at').count({ n: '*' }))[0]!.n);
  console.log(`events sent ${txn}, persisted inbox rows ${final} (answered 2xx within the window ${r['2xx']}), enqueued ${enqueued}: ${final === txn ? 'none lost' : 'LOST ' + (txn - final)}`);
  await queue.queue.obliterate({ force: true });
  await queue.close();
  await db.destroy();
  if (final !== txn) process.exit(1);
}

main().catch((e) => { console.error(e); process.exit(1); });
