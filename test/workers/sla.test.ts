import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../services/log.ts';
import { createMetrics } from '../../services/metrics.ts';
import { slaOnce, type SlaDeps } from '../../workers/sla.ts';
import { startApp, TEST_SECRET } from '../support/app.ts';
import { useTestDb } from '../support/db.ts';

// SLA clocks on the real database with an injected clock: nothing sleeps.
const t = useTestDb();
const DAY = 86_400_000;
const T0 = new Date('2026-06-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);
let deps: SlaDeps;
let app: Awaited<ReturnType<typeof startApp>>;

beforeAll(async () => {
  const config = loadConfig({ RT_TOKEN: 'test-token-0123456789abcdef', WEBHOOK_SECRET: TEST_SECRET, PUBLIC_READS: 'true' });
  deps = { db: t.db, log: createLogger('silent'), metrics: createMetrics(), config };
  app = await startApp(t.db, { config });
});
afterAll(() => app?.close());

/** A release that went New -> to at `enteredDay` (the transition's end is its clock's start). */
async function release(ticket: number, to: string, enteredDay: number) {
  const [r] = await t
    .db('releases')
    .insert({ ticket_id: ticket, status: to, product_short_name: `P${ticket}` })
    .returning('id');
  await t
    .db('transitions')
    .insert({ ticket_id: ticket, action: 'X', from_status: 'New', to_status: to, outcome: 'ok', finished_at: at(enteredDay) });
  return Number(r.id);
}
const outbox = () => t.db('outbox').orderBy('id').select('ticket_id', 'kind', 'payload');

describe('SLA clocks', () => {
  beforeEach(async () => {
    await release(1, 'Unverified', 0);
    await release(2, 'StageRollOut', 0);
    await release(3, 'Incomplete', 0);
    await release(4, 'Unverified', 20);
  });

  it('give each release past its deadline one notice: a comment and its group notified again; Incomplete has no clock', async () => {
    expect(await slaOnce(deps, at(13))).toBe(0);
    expect(await slaOnce(deps, at(14))).toBe(1); // Stage-Rollout: 14 days
    expect(await slaOnce(deps, at(30))).toBe(1); // Unverified: the verification month
    const rows = await outbox();
    expect(rows.map((r) => [r.ticket_id, r.kind, r.payload.adminCcGroup ?? null])).toEqual([
      [2, 'watchers', 'RolloutCoordinators'],
      [2, 'comment', null],
      [1, 'watchers', 'TechnologyUnit'],
      [1, 'comment', null],
    ]);
    expect(rows[1].payload.text).toContain(
      '[RD_SLA_OVERDUE] This release has been StageRollOut for 14 days; the deadline there is 14 days',
    );
    expect(rows[1].payload.text).toContain('It waits for group RolloutCoordinators: set RepoAction to MoveToProduction.');
    expect(rows[3].payload.text).toContain('set RepoAction to MoveToStageRollOut or Reject.');
    // once: a later check, or another process's, says nothing again
    expect(await slaOnce(deps, at(45))).toBe(0);
    expect(await outbox()).toHaveLength(4);
    const m = await deps.metrics.slaOverdue.get();
    expect(m.values.find((v) => v.labels.status === 'Unverified')?.value).toBe(1);
  });

  it('fires late rather than never: a check that first runs long after the deadline gives the notice', async () => {
    expect(await slaOnce(deps, at(400))).toBe(3); // 1, 2 and 4; never 3 (Incomplete)
    expect((await outbox()).filter((r) => r.kind === 'comment').map((r) => r.ticket_id)).toEqual([1, 2, 4]);
  });

  it('starts again on a new stay in the status', async () => {
    expect(await slaOnce(deps, at(55))).toBe(3);
    // ticket 1 left Unverified and came back (Rejected, then submitted again)
    await t.db('transitions').insert({
      ticket_id: 1,
      action: 'MoveToUnverified',
      from_status: 'Rejected',
      to_status: 'Unverified',
      outcome: 'ok',
      finished_at: at(56),
    });
    expect(await slaOnce(deps, at(85))).toBe(0);
    expect(await slaOnce(deps, at(86))).toBe(1);
  });

  it('shows in the API and the CLI list', async () => {
    const all = (await (await fetch(`${app.url}/releases`)).json()).releases;
    const one = all.find((r: { ticket: number }) => r.ticket === 1);
    expect(one.sla).toMatchObject({
      status: 'Unverified',
      enteredAt: at(0).toISOString(),
      deadlineAt: at(30).toISOString(),
      overdue: true,
    });
    expect(all.find((r: { ticket: number }) => r.ticket === 3).sla).toBeNull();
    const overdue = (await (await fetch(`${app.url}/releases?overdue=1`)).json()).releases.map((r: { ticket: number }) => r.ticket);
    expect(overdue.sort()).toEqual([1, 2, 4]);
  });
});
