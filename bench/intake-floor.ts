/**
 * The floor under the webhook: what the intake's guarantees cost on their own. Each POST is read, parsed and
 * handed to the service's own `accept` (the same batched INSERT committed before the answer, the same
 * hand-over to BullMQ after it), with nothing else the service does per request: no HMAC, no schema, no age
 * check, no metrics, no Express for the other routes. bench/webhook-ingest.ts runs it between the
 * hello-world and the service, so the gap splits in two: hello-world -> floor is PostgreSQL and Redis, floor
 * -> service is the service's own work per request.
 */
import { createServer } from 'node:http';
import type { RtWebhookV1 } from '../schemas/webhook-rt.v1.ts';
import { createDb } from '../services/db/knex.ts';
import { accept } from '../services/intake.ts';
import { createLogger } from '../services/log.ts';
import { ActionQueue, redisConnection } from '../services/queue.ts';

const db = createDb(process.env.DATABASE_URL!);
const queue = new ActionQueue(redisConnection(process.env.REDIS_URL!), process.env.QUEUE_PREFIX!);
// FLOOR=pg: the row only (no job), to split the floor between PostgreSQL and Redis
const noJobs = { enqueueMany: async () => undefined } as unknown as ActionQueue;
const deps = {
  db,
  queue: process.env.FLOOR === 'pg' ? noJobs : queue,
  log: createLogger('warn'),
  rtQueue: 'Releases',
  rtUser: 'releasedesk',
  answerBeforeEnqueue: true,
};

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const answer = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    };
    if (req.method !== 'POST') return answer(200, { status: 'up' });
    accept(deps, JSON.parse(Buffer.concat(chunks).toString('utf8')) as RtWebhookV1, 'webhook').then(
      (r) => answer(r.outcome === 'duplicate' ? 200 : 202, { status: r.outcome }),
      (e: Error) => answer(500, { error: e.message }),
    );
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void Promise.all([queue.close(), db.destroy()]).then(() => process.exit(0));
});
