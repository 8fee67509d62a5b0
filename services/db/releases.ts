import type { RepoAction, RepoStatus } from '../workflow/transitions.ts';
import type { Db, Exec } from './knex.ts';

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
  repo_uri: string | null;
  revision: number | null;
  deprecated_at: Date | null;
  tombstone: unknown;
  updated_at: Date;
}

export const releaseById = (db: Db, id: number): Promise<ReleaseRow> => db('releases').where({ id }).first();

/** The releases of a product that wait as Incomplete for their requirements. */
export const incompleteOf = (db: Db, product: string | null): Promise<ReleaseRow[]> =>
  db('releases').where({ product_short_name: product, status: 'Incomplete' });

export async function ensureRelease(db: Db, ticketId: number): Promise<ReleaseRow> {
  await db('releases').insert({ ticket_id: ticketId }).onConflict('ticket_id').ignore();
  return db('releases').where({ ticket_id: ticketId }).first();
}

/**
 * Compare-and-set on RepoStatus (Pulp's set_completed): changes the row only if it is still in `from`.
 * False means someone else moved it; the caller re-reads and decides again.
 */
export async function casStatus(
  trx: Exec, ticketId: number, from: RepoStatus, to: RepoStatus, extra: Partial<Omit<ReleaseRow, 'id' | 'ticket_id' | 'status'>> = {},
): Promise<boolean> {
  const n = await trx('releases').where({ ticket_id: ticketId, status: from })
    .update({ ...extra, status: to, updated_at: trx.fn.now() });
  return n === 1;
}
