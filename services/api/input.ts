import { z } from 'zod';
import { RdError } from '../errors.ts';

const ticketParam = z.coerce.number().int().positive();

/** A :ticket path parameter, validated once here. */
export function ticketOf(raw: string): number {
  const p = ticketParam.safeParse(raw);
  if (!p.success) throw new RdError('RD_PAYLOAD_INVALID', `ticket: ${JSON.stringify(raw)} is not a ticket number`, { field: 'ticket' });
  return p.data;
}

/** A query or body checked by its schema once here; the first problem names its field. */
export function parsed<T>(schema: z.ZodType<T>, input: unknown): T {
  const p = schema.safeParse(input);
  if (p.success) return p.data;
  const i = p.error.issues[0]!;
  throw new RdError('RD_PAYLOAD_INVALID', `${i.path.join('.') || 'body'}: ${i.message}`, { field: i.path.join('.') });
}
