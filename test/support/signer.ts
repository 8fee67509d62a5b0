import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type Signer, startSigner } from '../../services/signing/signer.ts';

/** For tests whose code publishes nothing: a signature asked for is a test bug, said loudly. */
export const noSigner: Pick<Signer, 'signRepository' | 'trusted' | 'signFile' | 'fingerprints'> = {
  fingerprints: [],
  signFile: async () => {
    throw new Error('this test was not expected to sign a file (give it useTestSigner())');
  },
  signRepository: async () => {
    throw new Error('this test was not expected to publish a repository (give it useTestSigner())');
  },
  trusted: {
    fingerprints: [],
    verify: async () => {
      throw new Error('this test was not expected to import a bundle (give it useTestSigner())');
    },
  },
};

/** A real signer (the default key, generated once per file) for the tests of a file that publish. */
export function useTestSigner(): { readonly signer: Signer } {
  const holder = {} as { signer: Signer; dir: string };
  beforeAll(async () => {
    holder.dir = await mkdtemp(join(tmpdir(), 'rd-signer-'));
    holder.signer = await startSigner({ storageDir: holder.dir, keys: [] });
  }, 60_000);
  afterAll(async () => {
    await holder.signer?.stop();
    if (holder.dir) await rm(holder.dir, { recursive: true, force: true });
  });
  return {
    get signer() {
      return holder.signer;
    },
  };
}
