import { z } from 'zod';
import { RdError } from '../errors.ts';

const ticketParam = z.coerce.number().int().positive();

/** A :ticket path parameter, validated once here. */
export function ticketOf(raw: string): number {
  const p = ticketParam.safeParse(raw);
  if (!p.success) throw new RdError('RD_PAYLOAD_INVALID', `ticket: ${JSON.stringify(raw)} is not a ticket number`, { field: 'ticket' });
  return p.data;
}
