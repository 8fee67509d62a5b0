import { createHmac, timingSafeEqual } from 'node:crypto';
import { RdError } from '../errors.ts';

export function sign(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifySignature(raw: Buffer, header: string | undefined, secret: string): void {
  if (!header) throw new RdError('RD_SIGNATURE_MISSING', 'X-RT-Signature header missing');
  const want = Buffer.from(sign(raw, secret));
  const got = Buffer.from(header.trim());
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    throw new RdError('RD_SIGNATURE_INVALID', 'X-RT-Signature does not match the body');
  }
}
