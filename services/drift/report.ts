import { initValue, readValue, writeValue } from '../db/kv.ts';
import type { Db } from '../db/knex.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { checkDrift, type DriftDeps, type DriftKind, type DriftReport } from './check.ts';

const KEY = 'drift:last';
const KINDS: DriftKind[] = [
  'ticket-fields',
  'index-missing',
  'index-extra',
  'file-missing',
  'file-changed',
  'mirror-missing',
  'mirror-changed',
];

/** Runs the drift check and keeps its report (for /drift, /healthz and the CLI), with a gauge per kind. */
export async function runDriftCheck(
  deps: DriftDeps & { log: Logger; metrics: Metrics },
  opts: { deep?: boolean } = {},
): Promise<DriftReport> {
  const report = await checkDrift(deps, opts);
  const json = JSON.stringify(report);
  await initValue(deps.db, KEY, json);
  await writeValue(deps.db, KEY, json);
  for (const k of KINDS) deps.metrics.driftItems.set({ kind: k }, report.items.filter((i) => i.kind === k).length);
  if (report.items.length)
    deps.log.warn(
      { items: report.items.slice(0, 20), count: report.items.length, repaired: report.items.filter((i) => i.repaired).length },
      'drift found',
    );
  return report;
}

export async function lastDriftReport(db: Db): Promise<DriftReport | null> {
  const v = await readValue(db, KEY);
  return v ? (JSON.parse(v) as DriftReport) : null;
}
