import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  await writeFile(file, statementBytes(statement));
  return { file, signature: await signer.signFile(file) };
}

export async function removeEvidence(storageDir: string, ticket: number, revision: number): Promise<void> {
  const file = evidencePath(storageDir, ticket, revision);
  await rm(file, { force: true });
  await rm(`${file}.asc`, { force: true });
}

/** The signed index of a repository version: what a site's client verifies first, named by its digest. */
export async function signedIndexDigest(versionDir: string, kind: RepoKind): Promise<{ index: string; indexSha256: string }> {
  const index = kind === 'yum' ? 'repodata/repomd.xml' : 'Release';
  const bytes = await readFile(join(versionDir, index));
  return { index, indexSha256: createHash('sha256').update(bytes).digest('hex') };
}
