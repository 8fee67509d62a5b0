/**
 * Waking the releases that wait as Incomplete, on the real PostgreSQL: the dependency check reads the
 * packages rows of the release, those its target stage shows for the product (stage_members), BASE_PROVIDES
 * and BASE_REPOS.
 */
import { webhookEvent } from '../../support/inbox.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { finishEvent } from '../../../services/db/inbox.ts';
import { createLogger } from '../../../services/log.ts';
import type { RepoAction } from '../../../services/workflow/transitions.ts';
import { wakeWaiting } from '../../../workers/engine/waiting.ts';
import { useTestDb } from '../../support/db.ts';

const t = useTestDb();
const log = createLogger('silent');
let storage: string;
let gone: Server;
let goneUrl: string;
beforeAll(async () => {
  storage = await mkdtemp(path.join(tmpdir(), 'rd-waiting-'));
  gone = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  }); // a base repository that is not there
  await new Promise<void>((ok) => gone.listen(0, '127.0.0.1', ok));
  goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/el9/`;
});
afterAll(async () => {
  await new Promise((ok) => gone.close(ok));
  await rm(storage, { recursive: true, force: true });
});

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    RT_TOKEN: 'test-token-0123456789abcdef',
    WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
    STORAGE_DIR: storage,
    ...env,
  });

interface Rel {
  product?: string;
  status?: string;
  requested?: RepoAction;
  platform?: string;
  arch?: string;
  requires?: string[];
  provides?: string[];
}

/** A release of one rpm package with these requirements and provides. */
async function release(ticket: number, r: Rel = {}): Promise<number> {
  const [{ id }] = await t
    .db('releases')
    .insert({
      ticket_id: ticket,
      status: r.status ?? 'Production',
      requested_action: r.requested ?? null,
      product_short_name: r.product ?? 'P.x',
      repo_kind: 'yum',
      platform: r.platform ?? 'el9',
      arch: r.arch ?? 'noarch',
    })
    .returning('id');
  const sha256 = String(ticket).padStart(64, '0');
  await t.db('blobs').insert({ sha256, size: 1 });
  await t.db('packages').insert({
    release_id: id,
    filename: `pkg${ticket}-1.0-1.noarch.rpm`,
    pkgname: `pkg${ticket}`,
    version: '1.0',
    rel: '1',
    arch: 'noarch',
    format: 'rpm',
    sha256,
    size: 1,
    header: JSON.stringify({ requires: r.requires ?? [], provides: r.provides ?? [] }),
  });
  return id;
}

/** A release that an action (its inbox event, handled) left Incomplete, waiting to enter the action's target. */
async function waiting(ticket: number, r: Rel = {}) {
  const action = r.requested ?? 'MoveToProduction';
  const id = await release(ticket, { ...r, status: 'Incomplete', requested: action });
  const ev = await webhookEvent(t.db, ticket, ticket * 10, { action, actorName: 'rc1' });
  await t.db('transitions').insert({
    ticket_id: ticket,
    inbox_id: ev.id,
    transaction_id: ev.transaction_id,
    action,
    actor: 'rc1',
    from_status: 'StageRollOut',
    to_status: 'Incomplete',
    outcome: 'waiting',
    finished_at: t.db.fn.now(),
    duration_ms: 5,
  });
  await finishEvent(t.db, ev.id, 'done', 'waiting');
  return { id, ev };
}

const retries = () => t.db('inbox').where({ source: 'retry' }).orderBy('id');

describe('wakeWaiting', () => {
  it('re-runs an Incomplete release of the product whose requirements are now met (by BASE_PROVIDES), as a retry of the event that left it waiting', async () => {
    const landed = await release(1);
    const w = await waiting(2, { requires: ['libfoo >= 1.0'] });
    expect(await wakeWaiting({ db: t.db, config: config({ BASE_PROVIDES: 'libfoo = 1.2' }) }, landed, log)).toBe(1);
    expect(await retries()).toMatchObject([
      {
        ticket_id: 2,
        transaction_id: w.ev.transaction_id,
        action: 'MoveToProduction',
        actor_name: 'rc1',
        state: 'pending',
        retry_of: w.ev.id,
        payload: { retryOf: w.ev.id },
      },
    ]);
  });

  it("met by the packages the target stage shows for the product (the landed release's)", async () => {
    const landed = await release(1, { provides: ['libfoo = 2.0'] });
    await t.db('stage_members').insert({ release_id: landed, stage: 'stage-rollout' });
    const forStage = await waiting(2, { requires: ['libfoo >= 1.0'], requested: 'MoveToStageRollOut' });
    await waiting(3, { requires: ['libfoo >= 1.0'] }); // production shows nothing that provides it
    expect(await wakeWaiting({ db: t.db, config: config() }, landed, log)).toBe(1);
    expect((await retries()).map((r) => r.retry_of)).toEqual([forStage.ev.id]);
  });

  it('leaves one still unmet, one of another platform or arch, and one that is not Incomplete', async () => {
    const landed = await release(1);
    await waiting(2, { requires: ['libfoo >= 1.0', 'libbar'] }); // libbar is provided by nothing
    await waiting(3, { requires: ['libfoo'], platform: 'el8' });
    await waiting(5, { requires: ['libfoo'], arch: 'aarch64' });
    await release(4, { status: 'Unverified', requested: 'MoveToUnverified', requires: ['libfoo'] });
    expect(await wakeWaiting({ db: t.db, config: config({ BASE_PROVIDES: 'libfoo = 1.2' }) }, landed, log)).toBe(0);
    expect(await retries()).toEqual([]);
  });

  it('across products: a release of another product that provides the requirement lands in the target, and the waiting one is woken', async () => {
    const lib = await release(1, { product: 'LIB.x', provides: ['libfoo = 2.0'] });
    await t.db('stage_members').insert({ release_id: lib, stage: 'production' });
    const app = await waiting(2, { product: 'APP.y', requires: ['libfoo >= 1.0'] });
    const elsewhere = await release(3, { product: 'LIB.z', provides: ['libbar'], platform: 'el8' });
    await t.db('stage_members').insert({ release_id: elsewhere, stage: 'production' });
    await waiting(4, { product: 'APP.w', requires: ['libbar'] }); // libbar is only on el8
    expect(await wakeWaiting({ db: t.db, config: config() }, lib, log)).toBe(1);
    expect((await retries()).map((r) => r.retry_of)).toEqual([app.ev.id]);
  });

  it('does not wake a release twice while its retry is pending, and again once it was handled', async () => {
    const landed = await release(1);
    const w = await waiting(2, { requires: ['libfoo'] });
    const deps = { db: t.db, config: config({ BASE_PROVIDES: 'libfoo' }) };
    expect(await wakeWaiting(deps, landed, log)).toBe(1);
    expect(await wakeWaiting(deps, landed, log)).toBe(0);
    expect(await retries()).toHaveLength(1);
    // the retry ran and the release waits again (still Incomplete): a later landing wakes it again
    const [first] = await retries();
    await finishEvent(t.db, first.id, 'done', 'waiting');
    expect(await wakeWaiting(deps, landed, log)).toBe(1);
    expect((await retries()).map((r) => r.retry_of)).toEqual([w.ev.id, w.ev.id]);
  });

  it('a base repository that cannot be read (RD_BASE_REPO_UNAVAILABLE) leaves the release waiting and does not fail the landing', async () => {
    const deps = { db: t.db, config: config({ BASE_PROVIDES: 'libfoo', BASE_REPOS: `el9=yum:${goneUrl}` }) };
    const landed = await release(1);
    await waiting(2, { requires: ['libfoo'], platform: 'el9' }); // BASE_REPOS counts for el9 only
    await expect(wakeWaiting(deps, landed, log)).resolves.toBe(0);
    const landedEl8 = await release(5, { platform: 'el8' });
    const el8 = await waiting(3, { requires: ['libfoo'], platform: 'el8' });
    await expect(wakeWaiting(deps, landedEl8, log)).resolves.toBe(1);
    expect((await retries()).map((r) => r.retry_of)).toEqual([el8.ev.id]);
  });
});
