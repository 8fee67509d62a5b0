import { z } from 'zod';
import { isLockKey, lockKeys } from '../services/db/locks.ts';

/** BullMQ job data: ids only, versioned; the worker re-reads everything else. */
export const actionJobV1 = z
  .object({
    v: z.literal(1),
    ticketId: z.number().int().positive(),
    /** the inbox row whose arrival made the job; its log lines name it */
    inboxId: z.number().int().positive(),
    /**
     * Serialisation keys (lockKeys), set by the enqueuer and taken by the engine as PostgreSQL advisory locks
     * before the first step. The ticket's own is always among them: two actions on one ticket never interleave.
     */
    exclusive: z.array(z.string().refine(isLockKey, 'is not a key lockKeys makes (services/db/locks.ts)')).min(1),
  })
  .refine((j) => j.exclusive.includes(lockKeys.ticket(j.ticketId)), { message: "must include the ticket's own key", path: ['exclusive'] });
export type ActionJobV1 = z.infer<typeof actionJobV1>;
