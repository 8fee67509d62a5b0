import { z } from 'zod';

/** BullMQ job data: ids only, versioned; the worker re-reads everything else. */
export const actionJobV1 = z.object({
  v: z.literal(1),
  ticketId: z.number().int().positive(),
  inboxId: z.number().int().positive(),
  /** serialisation keys, turned into PostgreSQL advisory locks before the first step */
  exclusive: z.array(z.string()).min(1),
});
export type ActionJobV1 = z.infer<typeof actionJobV1>;
