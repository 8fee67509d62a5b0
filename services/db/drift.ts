/** What the drift check (services/drift) reads of the records, and where it keeps its last report. */
import type { Db } from './knex.ts';

export interface RecordedFields {
  ticket_id: number;
  status: string;
  repo_uri: string | null;
}

/**
 * Releases whose ticket should show their status now: past New, no action running, and no write-back to RT
 * still on its way (those are expected to differ until delivered).
 */
export function settledReleases(db: Db): Promise<RecordedFields[]> {
  return db('releases as r')
    .whereNot('r.status', 'New')
    .whereNull('r.active_inbox_id')
    .whereNotExists(db('outbox as o').whereRaw('o.ticket_id = r.ticket_id').where('o.channel', 'rt').whereNull('o.delivered_at'))
    .select('r.ticket_id', 'r.status', 'r.repo_uri')
    .orderBy('r.ticket_id');
}

/** Tickets of the releases with this content: who a file in an index belongs to. */
export async function ticketsOfContent(db: Db, shas: string[]): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  if (!shas.length) return out;
  const rows = await db('packages as p')
    .join('releases as r', 'r.id', 'p.release_id')
    .whereIn('p.sha256', shas)
    .select('p.sha256', 'r.ticket_id');
  for (const r of rows) out.set(r.sha256, [...(out.get(r.sha256) ?? []), r.ticket_id]);
  return out;
}

/** Products and platforms with an action running: their repositories may be between index and record. */
export async function busyScopes(db: Db): Promise<{ products: Set<string>; platforms: Set<string> }> {
  const rows = await db('releases').whereNotNull('active_inbox_id').select('product_short_name', 'repo_kind', 'platform', 'arch');
  return {
    products: new Set(rows.map((r) => r.product_short_name)),
    platforms: new Set(rows.flatMap((r) => [`${r.repo_kind}/${r.platform}/${r.arch}`, `${r.repo_kind}/${r.platform}`])),
  };
}

export type RecordScope = { stage: string; product: string } | { stage: string; kind: string; platform: string; arch?: string };

/** The files (name and content) the records say a repository shows: its stage members' packages. */
export async function expectedFiles(db: Db, scope: RecordScope): Promise<Array<{ filename: string; sha256: string; ticket: number }>> {
  return db('stage_members as m')
    .join('releases as r', 'r.id', 'm.release_id')
    .join('packages as p', 'p.release_id', 'r.id')
    .where('m.stage', scope.stage)
    .modify((q) => {
      if ('product' in scope) q.where('r.product_short_name', scope.product);
      else {
        q.where({ 'r.repo_kind': scope.kind, 'r.platform': scope.platform });
        if (scope.arch) q.where('r.arch', scope.arch);
      }
    })
    .select('p.filename', 'p.sha256', 'r.ticket_id as ticket');
}
