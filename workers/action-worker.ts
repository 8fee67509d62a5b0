import { Worker, type ConnectionOptions } from 'bullmq';
import { actionJobV1 } from '../schemas/job-action.v1.ts';
import { ACTION_QUEUE } from '../services/queue.ts';
import { processTicket, type EngineDeps } from '../services/workflow/engine.ts';

/** The shim between BullMQ and services/workflow: validate the job, hand it over. */
export function createActionWorker(deps: EngineDeps, connection: ConnectionOptions, prefix: string, concurrency: number, lockMs = 30_000): Worker {
  const worker = new Worker(
    ACTION_QUEUE,
    async (job) => {
      const data = actionJobV1.parse(job.data);
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await processTicket(deps, data.ticketId, { finalAttempt, onProgress: (p) => job.updateProgress(p) });
    },
    { connection, prefix, concurrency, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 100 },
  );
  worker.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job attempt failed'));
  worker.on('error', (err) => deps.log.error({ err }, 'worker error'));
  return worker;
}
