import type { Response } from 'express';
import type { z } from 'zod';
import { RdError } from '../errors.ts';

/**
 * Sends an answer after checking it, as it goes on the wire, against its schema (schemas/api.v1.ts): the
 * schema GET /openapi.json documents. An answer that would not match is a bug, said as RD_INTERNAL.
 */
export function reply(res: Response, schema: z.ZodType, body: unknown, status = 200): void {
  const wire = JSON.parse(JSON.stringify(body));
  const checked = schema.safeParse(wire);
  if (!checked.success) {
    const i = checked.error.issues[0]!;
    throw new RdError('RD_INTERNAL', `the answer does not match its documented schema at ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  res.status(status).json(wire);
}
