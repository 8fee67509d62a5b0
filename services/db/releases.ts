/** The releases table: one row per ticket, its RepoStatus moved only by compare-and-set. */
import type { RepoAction, RepoStatus } from '../workflow/transitions.ts';
import type { Db, Exec } from './knex.ts';
import type { Platform } from './stage-members.ts';

export interface ReleaseRow {
  id: number;
  ticket_id: number;
  status: RepoStatus;
  requested_action: RepoAction | null;
  active_inbox_id: number | null;
  product_short_name: string | null;
  product_name: string | null;
  version: string | null;
  platform: string | null;
  arch: string | null;
  repo_kind: 'yum' | 'apt' | null;
  metadata: unknown;
  xml_sha256: string | null;
  xml: Buffer | null;
  repo_uri: string | null;
  revision: number | null;
  deprecated_at: Date | null;
  tombstone: unknown;
  updated_at: Date;
}

export const releaseById = (db: Db, id: number): Promise<ReleaseRow> => db('releases').where({ id }).first();

export const releaseOfTicket = (db: Db, ticketId: number): Promise<ReleaseRow | undefined> =>
  db('releases').where({ ticket_id: ticketId }).first();

/** The newest changed first, optionally of one status or product. */
export const listReleases = (db: Db, q: { status?: RepoStatus; product?: string; limit: number }): Promise<ReleaseRow[]> =>
  db('releases')
    .modify((b) => {
      if (q.status) b.where({ status: q.status });
      if (q.product) b.where({ product_short_name: q.product });
    })
    .orderBy('updated_at', 'desc')
    .limit(q.limit);

/** The releases of any product of this kind, platform and arch that wait as Incomplete for their requirements. */
export const incompleteIn = (db: Db, of: Platform): Promise<ReleaseRow[]> =>
  db('releases').where({ repo_kind: of.kind, platform: of.platform, arch: of.arch, status: 'Incomplete' }).orderBy('id');

export async function ensureRelease(db: Db, ticketId: number): Promise<ReleaseRow> {
  await db('releases').insert({ ticket_id: ticketId }).onConflict('ticket_id').ignore();
  return (await releaseOfTicket(db, ticketId))!;
}

/**
 * Compare-and-set on RepoStatus (Pulp's set_completed): changes the row only if it is still in `from`.
 * False means someone else moved it; the caller re-reads and decides again.
 */
export async function casStatus(
  trx: Exec,
  ticketId: number,
  from: RepoStatus,
  to: RepoStatus,
  extra: Partial<Omit<ReleaseRow, 'id' | 'ticket_id' | 'status'>> = {},
): Promise<boolean> {
  const n = await trx('releases')
    .where({ ticket_id: ticketId, status: from })
    .update({ ...extra, status: to, updated_at: trx.fn.now() });
  return n === 1;
}

/** The revision a release holds (kept while Deprecated), and since when it is deprecated. */
export const revisionOf = (db: Db, id: number): Promise<Pick<ReleaseRow, 'revision' | 'deprecated_at' | 'tombstone'>> =>
  db('releases').where({ id }).first('revision', 'deprecated_at', 'tombstone');

/** When retention purged the release's packages (services/retention), or null. */
export const purgedAt = (r: Pick<ReleaseRow, 'tombstone'>): string | null =>
  ((r.tombstone as { purged?: { at?: string } } | null)?.purged?.at as string | undefined) ?? null;

/** Gives the revision back, unless the release has another one by now. */
export async function clearRevision(db: Db, id: number, revision: number): Promise<void> {
  await db('releases').where({ id, revision }).update({ revision: null });
}

/** The revisions of a product in Production, this release's aside. */
export const productionRevisions = (db: Db, product: string, exceptId: number): Promise<number[]> =>
  db('releases')
    .where({ product_short_name: product, status: 'Production' })
    .whereNot('id', exceptId)
    .whereNotNull('revision')
    .pluck('revision');

/** The console's board: releases by filters; `q` is a ticket number, or part of a package or product name. */
export function boardReleases(
  db: Db,
  f: { status?: RepoStatus; product?: string; platform?: string; q?: string; limit: number },
): Promise<ReleaseRow[]> {
  return db('releases as r')
    .whereNot('r.status', 'New')
    .modify((b) => {
      if (f.status) b.where('r.status', f.status);
      if (f.product) b.where('r.product_short_name', f.product);
      if (f.platform) b.where('r.platform', f.platform);
      if (f.q) {
        const q = f.q.trim();
        const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        b.where((w) => {
          if (/^\d{1,9}$/.test(q)) w.orWhere('r.ticket_id', Number(q));
          w.orWhereILike('r.product_short_name', like).orWhereExists(
            db('packages as p')
              .whereRaw('p.release_id = r.id')
              .where((p) => p.whereILike('p.pkgname', like).orWhereILike('p.filename', like)),
          );
        });
      }
    })
    .orderBy('r.updated_at', 'desc')
    .limit(f.limit)
    .select('r.*');
}

/** Every release of a product that got a revision or is on its way, newest revision first (the console's product page). */
export const productReleases = (db: Db, product: string): Promise<ReleaseRow[]> =>
  db('releases').where({ product_short_name: product }).orderByRaw('revision DESC NULLS LAST, ticket_id DESC');
