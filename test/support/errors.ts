import { expect } from 'vitest';
import { RdError } from '../../services/errors.ts';

/** Awaits a promise that must reject with an RdError of `code`; returns the error for more checks. */
export async function fails(p: Promise<unknown>, code: RdError['code']): Promise<RdError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RdError);
  expect((e as RdError).code).toBe(code);
  return e as RdError;
}
