import { Queue, type ConnectionOptions } from 'bullmq';
import type { ActionJobV1 } from '../schemas/job-action.v1.ts';
import { lockKeys } from './db/locks.ts';

export const ACTION_QUEUE = 'actions';

/** Transient failures are retried with backoff: 2 s, 4 s, 8 s ... about 17 minutes in all. */
export const ACTION_JOB_OPTIONS = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 2_000 },
  removeOnComplete: { count: 1_000 },
  removeOnFail: { count: 5_000 },
} as const;

export function redisConnection(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    password: u.password || undefined,
    db: Number(u.pathname.slice(1) || 0),
    // BullMQ workers block on Redis; they must wait for it to come back rather than give up
    maxRetriesPerRequest: null,
  };
}

/**
 * The job of an inbox row. The row's receipt time is part of it: Redis outlives a recreated database,
 * and a completed job under a reused row id would make BullMQ drop the new one as a duplicate.
 */
export const jobIdOf = (row: { id: number; received_at: Date | string }) => `inbox-${row.id}-${new Date(row.received_at).getTime()}`;

type QueuedRow = { id: number; ticket_id: number; received_at: Date | string };

export class ActionQueue {
  readonly queue: Queue<ActionJobV1>;
  constructor(connection: ConnectionOptions, prefix: string) {
    // a producer must fail fast when Redis is away: the webhook answers in milliseconds and the relay retries
    const producer = { ...(connection as object), enableOfflineQueue: false, maxRetriesPerRequest: 1 } as ConnectionOptions;
    this.queue = new Queue<ActionJobV1>(ACTION_QUEUE, { connection: producer, prefix });
  }

  /** Idempotent: the job id is the inbox row, so a re-enqueue of a waiting job is a no-op. */
  async enqueue(row: QueuedRow): Promise<void> {
    await this.enqueueMany([row]);
  }

  /** Several rows in one round trip to Redis. */
  async enqueueMany(rows: readonly QueuedRow[]): Promise<void> {
    await this.queue.addBulk(
      rows.map((row) => ({
        name: 'action',
        data: { v: 1, ticketId: row.ticket_id, inboxId: row.id, exclusive: [lockKeys.ticket(row.ticket_id)] } satisfies ActionJobV1,
        opts: { ...ACTION_JOB_OPTIONS, jobId: jobIdOf(row) },
      })),
    );
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
