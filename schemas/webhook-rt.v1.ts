import { z } from 'zod';

/** What the RT scrip POSTs to /webhooks/rt (the contract other tools rely on; see README). */
export const rtWebhookV1 = z.object({
  event: z.enum(['customfield.changed', 'ticket.created']),
  ticket_id: z.number().int().positive(),
  queue: z.string().min(1).max(200),
  subject: z.string().max(2000).optional().default(''),
  transaction_id: z.number().int().positive(),
  field: z.string().min(1).max(200),
  field_id: z.number().int().nonnegative(),
  old_value: z.string().max(200).nullable(),
  new_value: z.string().max(200).nullable(),
  actor: z.object({ id: z.number().int().nonnegative(), name: z.string().min(1).max(200) }),
  created: z.iso.datetime({ offset: true }),
  rt_url: z.string().max(500),
});

export type RtWebhookV1 = z.infer<typeof rtWebhookV1>;

export const WEBHOOK_MAX_BYTES = 64 * 1024;
