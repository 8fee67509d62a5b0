/** The packages of each release and the blobs they point at (content-addressed by sha256). */
import { dropClaims } from './blobs.ts';
import type { Db, Exec } from './knex.ts';

/** A package of a release as recorded once verified: what the indexes and promotions work from. */
export interface PackageRecord {
  filename: string;
  pkgname: string;
  version: string;
  rel: string;
  arch: string;
  format: string;
  url: string | null;
  sha256: string;
  size: number;
  /** what rpm/dpkg-deb read from the file (requires, provides...) */
  header: unknown;
}

/** What release.xml says the release is; written with its packages. */
export interface ReleaseIdentity {
  product_short_name: string;
  product_name: string;
  version: string;
  platform: string;
  arch: string;
  repo_kind: string;
  metadata: unknown;
  xml_sha256: string;
  /** the release.xml as attached, when known */
  xml: Buffer | null;
}

/** A release's content in one transaction: its blobs (shared by digest), its packages (replacing any), its identity. */
export async function recordContent(
  db: Db,
  inboxId: number,
  releaseId: number,
  blobs: Array<{ sha256: string; size: number }>,
  packages: PackageRecord[],
  identity: ReleaseIdentity,
  imported?: ImportRecord,
): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('bundle_imports').where({ release_id: releaseId }).del();
    if (imported) {
      await trx('bundle_imports').insert({ release_id: releaseId, ...imported, manifest: JSON.stringify(imported.manifest) });
    }
    await trx('blobs').insert(blobs).onConflict('sha256').ignore();
    await dropClaims(trx, inboxId);
    await trx('packages').where({ release_id: releaseId }).del();
    await trx('packages').insert(packages.map((p) => ({ release_id: releaseId, ...p, header: JSON.stringify(p.header) })));
    await trx('releases')
      .where({ id: releaseId })
      .update({ ...identity, metadata: JSON.stringify(identity.metadata), updated_at: trx.fn.now() });
  });
}

export async function deletePackages(db: Db, releaseId: number): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('packages').where({ release_id: releaseId }).del();
    await trx('bundle_imports').where({ release_id: releaseId }).del();
  });
}

/** Where an imported release came from: another desk's ticket, by its signed bundle. */
export interface ImportRecord {
  source_desk: string;
  source_url: string;
  source_ticket: number;
  bundle_sha256: string;
  signed_by: string;
  manifest: unknown;
}

/** The import record of the release on a ticket, inside the caller's transaction. */
export const importOfTicket = (trx: Exec, ticketId: number): Promise<ImportRecord | undefined> =>
  trx('bundle_imports as b').join('releases as r', 'r.id', 'b.release_id').where('r.ticket_id', ticketId).first('b.*');

/** The files of a release and their recorded digests and sizes, by name. */
export const storedFiles = (db: Db, releaseId: number): Promise<Array<{ filename: string; sha256: string; size: number }>> =>
  db('packages').where({ release_id: releaseId }).orderBy('filename').select('filename', 'sha256', 'size');

/** The packages of a release as the API shows them, by name. */
export const packageList = (db: Db, releaseId: number): Promise<Array<Record<string, unknown>>> =>
  db('packages')
    .where({ release_id: releaseId })
    .orderBy('filename')
    .select('filename', 'pkgname', 'version', 'rel as release', 'arch', 'sha256', 'size', 'url');

export const hasPackages = async (db: Db, releaseId: number): Promise<boolean> =>
  Boolean(await db('packages').where({ release_id: releaseId }).first());

/** The recorded headers of a release's packages (their requirements and what they provide). */
export const headersOf = <H>(db: Db, releaseId: number): Promise<Array<{ filename: string; header: H }>> =>
  db('packages').where({ release_id: releaseId }).select('filename', 'header');
