import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RdError } from '../../errors.ts';
import { youngGcEvery } from '../../young-gc.ts';
import type { Digest } from './store.ts';

/**
 * Writes an object's bytes to `dest` while hashing them, then holds them against the sha256 the object
 * records: a mismatch (or none recorded) is RD_STORE_CORRUPT naming the key, and `dest` is removed, as it is
 * when the transfer fails.
 */
export async function receive(body: Readable, dest: string, key: string, recorded: string | null | undefined): Promise<Digest> {
  const hash = createHash('sha256');
  const freeBuffers = youngGcEvery();
  let size = 0;
  try {
    await pipeline(
      body,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
          freeBuffers(chunk.length);
        }
      },
      createWriteStream(dest, { mode: 0o600 }),
    );
  } catch (e) {
    await rm(dest, { force: true });
    throw e;
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== recorded) {
    await rm(dest, { force: true });
    throw new RdError('RD_STORE_CORRUPT', `object ${key}: its bytes hash to sha256 ${sha256}, it records ${recorded ?? 'no sha256'}`, {
      key,
    });
  }
  return { sha256, size };
}
