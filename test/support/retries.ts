import type { Queue } from 'bullmq';
import type { ActionJobV1 } from '../../schemas/job-action.v1.ts';

/**
 * Only in the delayed set (so no worker holds the job): make the next attempt the last one. BullMQ keeps
 * attemptsMade in the job hash as `atm`; the worker reads it when it takes the job.
 */
const LAST_ATTEMPT_NEXT = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HSET', KEYS[2], 'atm', ARGV[2])
  return 1
end
return 0`;
const COMMAND = 'releasedeskTestLastAttemptNext';
const defined = new WeakSet<object>();

/**
 * Fast-forwards BullMQ's retries of a ticket's job that failed transiently and waits in its back-off
 * (2 s, 4 s ... about 17 minutes in all, services/queue.ts): its next attempt becomes the final one and
 * runs now, so a test sees in seconds what the ticket shows once retries are exhausted. Returns whether
 * a job was fast-forwarded; call it again while waiting.
 */
export async function finalAttemptNow(queue: Queue<ActionJobV1>, ticketId: number): Promise<boolean> {
  for (const job of await queue.getDelayed()) {
    const last = (job.opts.attempts ?? 1) - 1;
    if (job.data.ticketId !== ticketId || job.id === undefined || job.attemptsMade >= last) continue;
    const client = await queue.getBackend().client;
    if (!defined.has(client)) {
      client.defineCommand(COMMAND, { numberOfKeys: 2, lua: LAST_ATTEMPT_NEXT });
      defined.add(client);
    }
    const done = await client.runCommand(COMMAND, [queue.keys.delayed!, queue.toKey(job.id), job.id, String(last)]);
    if (done !== 1) return false;
    await job.promote().catch(() => undefined); // its back-off may have just ended by itself
    return true;
  }
  return false;
}
