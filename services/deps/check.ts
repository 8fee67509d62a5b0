import type { Db } from '../db/knex.ts';
import type { PackageHeader } from '../storage/package-header.ts';
import type { Stage } from '../storage/repo-ref.ts';
import { STATUS_OF_STAGE } from '../workflow/transitions.ts';
import { resolve, type Kind, type Resolution } from './resolve.ts';


export interface DependencyCheck extends Resolution {
  target: Stage;
  satisfied: boolean;
}

/**
 * Would this release's requirements be met in `target` right now? Against what the target's index shows
 * for the product, the release itself, and the configured base (the OS). Reads rows only: cheap enough
 * for every promotion, every plan and every re-evaluation.
 */
export async function checkDependencies(db: Db, releaseId: number, target: Stage, baseProvides: readonly string[] = []): Promise<DependencyCheck> {
  const rel = await db('releases').where({ id: releaseId }).first();
  const own: Array<{ filename: string; header: PackageHeader }> = await db('packages').where({ release_id: releaseId }).select('filename', 'header');
  const there: Array<{ header: PackageHeader }> = await db('packages as p').join('releases as r', 'r.id', 'p.release_id')
    .where({ 'r.product_short_name': rel.product_short_name, 'r.status': STATUS_OF_STAGE[target] }).whereNot('r.id', releaseId)
    .select('p.header');
  const kind: Kind = rel.repo_kind === 'apt' ? 'deb' : 'rpm';
  const provides = [...baseProvides, ...there.flatMap((p) => p.header?.provides ?? []), ...own.flatMap((p) => p.header?.provides ?? [])];
  const r = resolve(own.map((p) => ({ package: p.filename, requires: p.header?.requires ?? [] })), provides, kind);
  return { ...r, target, satisfied: r.unmet.length === 0 };
}

export function describeCheck(c: DependencyCheck): string {
  if (c.satisfied) return `${c.target}: every requirement is met`;
  return `${c.target}: ${c.unmet.length} requirement(s) missing:\n` + c.unmet.map((u) => `  ${u.package} needs ${u.requirement}`).join('\n');
}
