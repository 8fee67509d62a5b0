import type { Db } from '../db/knex.ts';
import { mirrorTargetRows, type MirrorTargetRow } from '../db/mirrors.ts';
import { describeTarget, type TargetSpec } from './target.ts';
import { viewFingerprint } from './view.ts';

export interface MirrorStatus {
  name: string;
  where: string;
  /** in-step: holds Production as it is now; behind: Production changed since; failing: the last try failed */
  state: 'in-step' | 'behind' | 'failing' | 'never-synced';
  lag_seconds: number;
  last_success_at: string | null;
  last_attempt_at: string | null;
  failures: number;
  last_error_code: string | null;
  last_error: string | null;
  files: number;
  bytes: number;
  delete_orphans: boolean;
  public_url: string | null;
}

/** Each configured target as operators read it (API, CLI, /healthz), measured against Production now. */
export async function mirrorStatuses(db: Db, storageDir: string, targets: TargetSpec[], now = new Date()): Promise<MirrorStatus[]> {
  const rows = new Map((await mirrorTargetRows(db)).map((r) => [r.name, r]));
  return Promise.all(
    targets.map(async (t) => {
      const row = rows.get(t.name);
      const fingerprint = await viewFingerprint({ db, storageDir, stage: 'production', publicUrl: t.publicUrl });
      return {
        name: t.name,
        where: describeTarget(t),
        state: stateOf(row, fingerprint),
        lag_seconds: lagSeconds(row, fingerprint, now),
        last_success_at: row?.last_success_at?.toISOString() ?? null,
        last_attempt_at: row?.last_attempt_at?.toISOString() ?? null,
        failures: row?.failures ?? 0,
        last_error_code: row?.last_error_code ?? null,
        last_error: row?.last_error ?? null,
        files: row?.files ?? 0,
        bytes: row?.bytes ?? 0,
        delete_orphans: t.deleteOrphans,
        public_url: t.publicUrl ?? null,
      };
    }),
  );
}

function stateOf(row: MirrorTargetRow | undefined, fingerprint: string): MirrorStatus['state'] {
  if (row?.failures) return 'failing';
  if (!row?.last_success_at) return 'never-synced';
  return row.fingerprint === fingerprint ? 'in-step' : 'behind';
}

/** 0 while the target holds Production as it is, else the time since its last good sync (or since it was first tried). */
export function lagSeconds(row: MirrorTargetRow | undefined, fingerprint: string, now: Date): number {
  if (row?.fingerprint === fingerprint) return 0;
  const since = row?.last_success_at ?? row?.created_at;
  return since ? Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000)) : 0;
}
