import { z } from 'zod';

// PostgreSQL stores none of these: ids beyond its integer columns, NUL in text or jsonb
const PG_INT_MAX = 2_147_483_647;
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');

/** What the RT scrip POSTs to /webhooks/rt (the contract other tools rely on; see README). */
export const rtWebhookV1 = z.object({
  event: z.enum(['customfield.changed', 'ticket.created']),
  ticket_id: z.number().int().positive().max(PG_INT_MAX),
  queue: text(200).min(1),
  subject: text(2000).optional().default(''),
  transaction_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  field: text(200).min(1),
  field_id: z.number().int().nonnegative().max(PG_INT_MAX),
  old_value: text(200).nullable(),
  new_value: text(200).nullable(),
  actor: z.object({ id: z.number().int().nonnegative().max(PG_INT_MAX), name: text(200).min(1) }),
  created: z.iso.datetime({ offset: true }),
  rt_url: text(500),
});

export type RtWebhookV1 = z.infer<typeof rtWebhookV1>;

export const WEBHOOK_MAX_BYTES = 64 * 1024;
