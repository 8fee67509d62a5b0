/** Mirror sync state: per target its last attempt and success, per file put there the digest behind its tag. */
import type { Known } from '../mirror/plan.ts';
import type { Db, Exec } from './knex.ts';

export interface MirrorTargetRow {
  name: string;
  created_at: Date;
  fingerprint: string | null;
  last_attempt_at: Date | null;
  last_success_at: Date | null;
  last_error_code: string | null;
  last_error: string | null;
  failures: number;
  files: number;
  bytes: number;
  uploaded: number;
  deleted: number;
  uploaded_bytes: number;
}

const asRow = (r: MirrorTargetRow): MirrorTargetRow => ({ ...r, bytes: Number(r.bytes), uploaded_bytes: Number(r.uploaded_bytes) });

export async function mirrorTargetRows(db: Db): Promise<MirrorTargetRow[]> {
  return (await db('mirror_targets').select('*').orderBy('name')).map(asRow);
}

export async function mirrorTargetRow(db: Db, name: string): Promise<MirrorTargetRow | undefined> {
  const row = await db('mirror_targets').where({ name }).first();
  return row ? asRow(row) : undefined;
}

export async function markSyncAttempt(db: Db, name: string): Promise<void> {
  await db('mirror_targets').insert({ name, last_attempt_at: db.fn.now() }).onConflict('name').merge(['last_attempt_at']);
}

export interface SyncFigures {
  fingerprint: string;
  files: number;
  bytes: number;
  uploaded: number;
  deleted: number;
  uploadedBytes: number;
}

export async function markSyncSuccess(db: Db, name: string, f: SyncFigures): Promise<void> {
  await db('mirror_targets').where({ name }).update({
    fingerprint: f.fingerprint,
    last_success_at: db.fn.now(),
    last_error_code: null,
    last_error: null,
    failures: 0,
    files: f.files,
    bytes: f.bytes,
    uploaded: f.uploaded,
    deleted: f.deleted,
    uploaded_bytes: f.uploadedBytes,
  });
}

/** Returns the number of failures in a row, this one included. */
export async function markSyncFailure(db: Db, name: string, code: string, message: string): Promise<number> {
  const [row] = await db('mirror_targets')
    .where({ name })
    .update({ last_error_code: code, last_error: message.slice(0, 2000), failures: db.raw('failures + 1') })
    .returning('failures');
  return row?.failures ?? 1;
}

export async function knownObjects(db: Db, target: string): Promise<Known[]> {
  const rows = await db('mirror_objects').where({ target }).select('path', 'sha256', 'size', 'tag');
  return rows.map((r) => ({ ...r, size: Number(r.size) }));
}

export async function recordObjects(db: Db, target: string, rows: Known[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    await db('mirror_objects')
      .insert(rows.slice(i, i + 1000).map((r) => ({ target, ...r })))
      .onConflict(['target', 'path'])
      .merge(['sha256', 'size', 'tag']);
  }
}

export async function forgetObjects(db: Db, target: string, paths: string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += 1000) {
    await db('mirror_objects')
      .where({ target })
      .whereIn('path', paths.slice(i, i + 1000))
      .del();
  }
}

export interface AwaitingMirror {
  transition_id: number;
  ticket_id: number;
  action: string;
}

/**
 * Releases whose last change of Production (reaching it, or leaving it by Deprecate) is newer than the
 * target's last good sync and whose ticket was not told yet about this target.
 */
export async function awaitingMirror(db: Db, target: string): Promise<AwaitingMirror[]> {
  const since = db('mirror_targets').where({ name: target }).select(db.raw('coalesce(last_success_at, created_at)'));
  const rows = await db('transitions as t')
    .where('t.outcome', 'ok')
    .whereIn('t.to_status', ['Production', 'Deprecated'])
    .where('t.finished_at', '>', since)
    .whereNotExists(db('mirror_notices as n').where('n.target', target).whereRaw('n.transition_id = t.id'))
    .select('t.id as transition_id', 't.ticket_id', 't.action')
    .orderBy('t.id');
  return rows.map((r) => ({ ...r, transition_id: Number(r.transition_id) }));
}

/** Records that the ticket was told; false when another process told it first. */
export async function noteMirrorNotice(db: Exec, target: string, transitionId: number): Promise<boolean> {
  const rows = await db('mirror_notices')
    .insert({ target, transition_id: transitionId })
    .onConflict(['target', 'transition_id'])
    .ignore()
    .returning('target');
  return rows.length > 0;
}

/** Makes the next look of the mirror loop sync these targets, changed or not; returns when it was asked (the database's clock). */
export async function requestSync(db: Db, names: string[]): Promise<Date> {
  for (const name of names) {
    await db('mirror_targets').insert({ name }).onConflict('name').ignore();
    await db('mirror_targets').where({ name }).update({ fingerprint: null, failures: 0 });
  }
  return (await db.raw('SELECT now() AS now')).rows[0].now;
}
