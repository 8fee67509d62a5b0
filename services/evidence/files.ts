import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../signing/signer.ts';
import type { RepoKind } from '../storage/repo-ref.ts';
import { statementBytes, type Statement } from './statement.ts';

/** STORAGE_DIR/evidence/<ticket>/v<revision>.intoto.json and its detached signature `.asc` beside it. */
export const evidencePath = (storageDir: string, ticket: number, revision: number) =>
  join(storageDir, 'evidence', String(ticket), `v${revision}.intoto.json`);

export async function writeEvidence(
  storageDir: string,
  ticket: number,
  revision: number,
  statement: Statement,
  signer: Pick<Signer, 'signFile'>,
): Promise<{ file: string; signature: string }> {
  const file = evidencePath(storageDir, ticket, revision);
  await mkdir(join(storageDir, 'evidence', String(ticket)), { recursive: true });
  // written and signed aside, then renamed over what a rerun or a restore of the same revision left
  const aside = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(aside, statementBytes(statement));
    await signer.signFile(aside);
    await rename(`${aside}.asc`, `${file}.asc`);
    await rename(aside, file);
  } finally {
    await rm(aside, { force: true });
    await rm(`${aside}.asc`, { force: true });
  }
  return { file, signature: `${file}.asc` };
}

export async function removeEvidence(storageDir: string, ticket: number, revision: number): Promise<void> {
  const file = evidencePath(storageDir, ticket, revision);
  await rm(file, { force: true });
  await rm(`${file}.asc`, { force: true });
}

export interface SignedIndex {
  index: string;
  indexSha256: string;
}

/** The signed index of a repository version: what a site's client verifies first, named by its digest. */
export async function signedIndexDigest(versionDir: string, kind: RepoKind): Promise<SignedIndex> {
  const index = kind === 'yum' ? 'repodata/repomd.xml' : 'Release';
  const bytes = await readFile(join(versionDir, index));
  return { index, indexSha256: createHash('sha256').update(bytes).digest('hex') };
}
