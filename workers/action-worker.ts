import { Worker, type ConnectionOptions } from 'bullmq';
import { actionJobV1 } from '../schemas/job-action.v1.ts';
import { ACTION_QUEUE } from '../services/queue.ts';
import { processTicket } from './engine/engine.ts';
import type { EngineDeps } from './engine/step.ts';

/** The backoff still ahead of a job after this attempt fails (BullMQ's exponential: delay * 2^(n-1) before retry n). */
export function retriesLeftMs(attempts: number, made: number, backoff: unknown): number {
  const delay = typeof backoff === 'object' && backoff && 'delay' in backoff ? Number(backoff.delay) : Number(backoff ?? 0);
  let ms = 0;
  for (let n = made + 1; n < attempts; n++) ms += delay * 2 ** (n - 1);
  return ms;
}

/** The shim between BullMQ and the engine (workers/engine): validate the job, hand it over. */
export function createActionWorker(
  deps: EngineDeps,
  connection: ConnectionOptions,
  prefix: string,
  concurrency: number,
  lockMs = 30_000,
): Worker {
  const worker = new Worker(
    ACTION_QUEUE,
    async (job) => {
      const data = actionJobV1.parse(job.data);
      const log = deps.log.child({ job: job.id, inbox: data.inboxId });
      // since the job was queued (after the webhook's answer); on a retry that includes the earlier attempts
      log.debug({ queuedMs: Date.now() - job.timestamp, attempt: job.attemptsMade + 1 }, 'job taken');
      const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      // Progress is for watchers, best effort: a Redis that is away, or restarted and forgot the job
      // ("Missing key for job"), must neither hold up nor fail the action, nor crash the process
      // (download progress is not awaited).
      const onProgress = async (p: object) => {
        job.updateProgress(p).catch((err: Error) => log.warn({ err: err.message }, 'job progress not published'));
      };
      await processTicket(deps, data, {
        finalAttempt,
        retryWindowMs: retriesLeftMs(job.opts.attempts ?? 1, job.attemptsMade, job.opts.backoff),
        onProgress,
      });
    },
    { connection, prefix, concurrency, lockDuration: lockMs, stalledInterval: lockMs, maxStalledCount: 100 },
  );
  worker.on('failed', (job, err) => deps.log.warn({ job: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job attempt failed'));
  worker.on('error', (err) => deps.log.error({ err }, 'worker error'));
  return worker;
}
