/**
 * Webhook ingest, sustained: signed, distinct RepoAction events against POST /webhooks/rt of the real
 * service (its own process, role api, real PostgreSQL and Redis) for a fixed time at the highest rate
 * the clients can drive, beside an Express hello-world (its own process) in the same run, sent '{}' and then
 * the same signed events (the client's signing is work on the same two cores), and beside the intake's floor
 * (bench/intake-floor.ts: the same INSERT and hand-over with no other work per request). Prints req/s
 * and latency percentiles for both, then checks that nothing answered 2xx was lost: every 202 has an
 * inbox row, and every row reached the queue as a job (job ids are the rows', so equal counts are the same set).
 *   node bench/webhook-ingest.ts [seconds=60] [connections=50]
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { sign } from '../services/api/signature.ts';
import { createDb, ensureDatabase, migrate } from '../services/db/knex.ts';
import { ActionQueue, redisConnection } from '../services/queue.ts';
import { freePort } from '../test/support/service.ts';

const seconds = Number(process.argv[2] ?? 60);
const connections = Number(process.argv[3] ?? 50);
const DB = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/releasedesk_bench';
const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'bench-webhook-secret-0123456789';
const root = path.resolve(import.meta.dirname, '..');

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, res) => (err ? reject(err) : resolve(res))));
}

const line = (name: string, r: autocannon.Result) =>
  `${name.padEnd(22)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms   ` +
  `2xx ${r['2xx']}  non-2xx ${r.non2xx}  errors ${r.errors}  timeouts ${r.timeouts}`;

/** Starts a server process and waits until its port answers. */
async function serve(args: string[], env: Record<string, string>, port: number): Promise<ChildProcess> {
  // BENCH_SERVER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": written when the server stops (SIGTERM)
  // the service as `npm run start:api` runs it
  const extra =
    args[0] !== 'bench/hello-server.ts'
      ? ['--max-semi-space-size=16', ...(process.env.BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean)]
      : [];
  const child = spawn(process.execPath, [...extra, ...args], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) }).then(
        () => true,
        () => false,
      )
    )
      return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${args.join(' ')} did not start on port ${port}`);
}

async function stop(child: ChildProcess) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}

async function main() {
  await ensureDatabase(DB);
  const db = createDb(DB);
  await migrate(db);
  await db.raw('TRUNCATE inbox RESTART IDENTITY CASCADE');
  const prefix = `rdbench-${Date.now()}`;

  let txn = 0;
  // what RT sends: a distinct, signed event per request (the client's own work per request is part of a run)
  const signed: autocannon.Request[] = [
    {
      method: 'POST',
      setupRequest: (req) => {
        txn++;
        const body = JSON.stringify({
          event: 'customfield.changed',
          ticket_id: 1 + (txn % 500),
          queue: 'Releases',
          subject: 'bench',
          transaction_id: txn,
          field: 'RepoAction',
          field_id: 2,
          old_value: null,
          new_value: 'MoveToUnverified',
          actor: { id: 33, name: 'provider1' },
          created: new Date().toISOString(),
          rt_url: 'http://127.0.0.1:8085',
        });
        return { ...req, body, headers: { 'content-type': 'application/json', 'x-rt-signature': sign(body, SECRET) } };
      },
    },
  ];

  const helloPort = await freePort();
  const hello = await serve(['bench/hello-server.ts'], {}, helloPort);
  const helloUrl = `http://127.0.0.1:${helloPort}/webhooks/rt`;
  const base = await run({
    url: helloUrl,
    method: 'POST',
    connections,
    duration: seconds,
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  // the same client work as the service's run gets: the hello-world answers the signed events too
  const baseSigned = await run({ url: helloUrl, connections, duration: seconds, requests: signed });
  await stop(hello);
  txn = 0;

  // the intake's guarantees alone (bench/intake-floor.ts), with a queue of their own
  const floorPrefix = `${prefix}-floor`;
  const floorPort = await freePort();
  const floorServer = await serve(
    ['bench/intake-floor.ts'],
    { DATABASE_URL: DB, REDIS_URL: REDIS, QUEUE_PREFIX: floorPrefix, FLOOR: process.env.FLOOR ?? '' },
    floorPort,
  );
  const floor = await run({ url: `http://127.0.0.1:${floorPort}/webhooks/rt`, connections, duration: seconds, requests: signed });
  await stop(floorServer);
  const floorQueue = new ActionQueue(redisConnection(REDIS), floorPrefix);
  await floorQueue.queue.obliterate({ force: true });
  await floorQueue.close();
  await db.raw('TRUNCATE inbox RESTART IDENTITY CASCADE');
  txn = 0;

  const port = await freePort();
  const svc = await serve(
    ['services/main.ts', '--role', 'api'],
    {
      DATABASE_URL: DB,
      REDIS_URL: REDIS,
      QUEUE_PREFIX: prefix,
      WEBHOOK_SECRET: SECRET,
      RT_TOKEN: 'bench-not-used-0123456789abcdef',
      RT_URL: 'http://127.0.0.1:9',
      LOG_LEVEL: 'warn',
    },
    port,
  );
  const r = await run({ url: `http://127.0.0.1:${port}/webhooks/rt`, connections, duration: seconds, requests: signed });
  // the hand-over to the queue happens after the answer: let the last ones finish
  const queue = new ActionQueue(redisConnection(REDIS), prefix);
  // requests still in flight when the run ends commit their rows meanwhile: both counts are read until they meet
  const countRows = async () => Number((await db('inbox').count({ n: '*' }))[0]!.n);
  const countJobs = () => queue.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
  let [rows, jobs] = [await countRows(), await countJobs()];
  for (let i = 0; i < 100 && jobs !== rows; i++) {
    await new Promise((res) => setTimeout(res, 100));
    [rows, jobs] = [await countRows(), await countJobs()];
  }
  await stop(svc);

  console.log(`webhook ingest, ${seconds} s at the highest rate, ${connections} connections, signed distinct events`);
  console.log(line('express hello-world', base));
  console.log(line('  same signed events', baseSigned));
  console.log(line('intake floor (I/O only)', floor));
  console.log(line('releasedesk webhook', r));
  console.log(
    `ratio releasedesk/hello-world: ${(r.requests.average / base.requests.average).toFixed(2)} ` +
      `(to the hello-world given the same signed events: ${(r.requests.average / baseSigned.requests.average).toFixed(2)})`,
  );
  console.log(
    `ratio floor/hello-world: ${(floor.requests.average / base.requests.average).toFixed(2)} (PostgreSQL and Redis per event), ` +
      `releasedesk/floor: ${(r.requests.average / floor.requests.average).toFixed(2)} (the service's own work per request)`,
  );
  const lost = r['2xx'] - rows;
  console.log(
    `answered 2xx ${r['2xx']}, inbox rows ${rows}, queue jobs ${jobs}: ` +
      (lost <= 0 && jobs === rows ? 'none lost' : `LOST ${Math.max(lost, 0)} answered, ${rows - jobs} without a job`),
  );
  await queue.queue.obliterate({ force: true });
  await queue.close();
  await db.destroy();
  if (lost > 0 || jobs !== rows) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
