import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../services/cli/main.ts';
import { jobIdOf } from '../../../services/queue.ts';
import { useTestDb } from '../../support/db.ts';
import { seedFailedPromotion } from '../../support/seed.ts';
import { startApp, TEST_TOKEN } from '../../support/app.ts';

const t = useTestDb();
let app: Awaited<ReturnType<typeof startApp>>;
beforeAll(async () => {
  app = await startApp(t.db);
});
afterAll(async () => {
  await app?.close();
});

let printed: string[];
beforeEach(async () => {
  printed = [];
  vi.spyOn(console, 'log').mockImplementation((s: string) => void printed.push(s));
  vi.spyOn(console, 'error').mockImplementation((s: string) => void printed.push(s));
  await seedFailedPromotion(t.db);
});

const cli = (...args: string[]) => run(['--url', app.url, ...args]);

describe('releasedesk CLI', () => {
  it('get TICKET prints the release table, its repository and packages', async () => {
    expect(await cli('get', '42')).toBe(0);
    const text = printed.join('\n');
    for (const col of ['TICKET', 'PRODUCT', 'VERSION', 'REVISION', 'PLATFORM', 'ARCH', 'STATUS', 'UPDATED']) expect(text).toContain(col);
    expect(text).toMatch(/42\s+│ TP\.tool\.el9\.noarch │ 1\.2\.3\s+│ -\s+│ el9\s+│ noarch │ Unverified/);
    expect(text).toContain('tool-1.2.3-1.noarch.rpm');
  });
  it('list --status filters, and --json prints what scripts read', async () => {
    expect(await cli('--json', 'list', '--status', 'Unverified')).toBe(0);
    expect(JSON.parse(printed[0]!).releases).toMatchObject([{ ticket: 42, status: 'Unverified' }]);
    printed.length = 0;
    expect(await cli('--json', 'list', '--status', 'Production')).toBe(0);
    expect(JSON.parse(printed[0]!).releases).toEqual([]);
    expect(await cli('list', '--status', 'Bogus')).toBe(1);
    expect(printed.at(-1)).toMatch(/RD_PAYLOAD_INVALID.*status/);
  });
  it('history prints every transition with its outcome and code', async () => {
    expect(await cli('history', '42')).toBe(0);
    expect(printed.join('\n')).toMatch(/tug1\s+│ MoveToStageRollOut │ Unverified │ Unverified │ failed\s+│ RD_CONTENT_MISSING/);
  });
  it('retry queues the failed action again as a new event of the same transaction', async () => {
    expect(await cli('retry', '42')).toBe(1); // anonymous: refused
    expect(printed.at(-1)).toMatch(/RD_SIGNIN_REQUIRED/);
    printed = [];
    expect(await cli('--token', TEST_TOKEN, 'retry', '42')).toBe(0);
    expect(printed[0]).toMatch(/queued: MoveToStageRollOut on ticket 42 again/);
    const rows = await t.db('inbox').where({ ticket_id: 42 }).orderBy('id');
    expect(rows.map((r) => [r.transaction_id, r.source, r.state, r.retry_of])).toEqual([
      [900, 'webhook', 'failed', null],
      [900, 'retry', 'pending', rows[0].id],
    ]);
    expect(await app.queue.queue.getJob(jobIdOf(rows[1]))).toBeDefined();
  });
  it("exits 1 with the service's reason for an unknown ticket, 2 for bad usage, 3 when the service is away", async () => {
    expect(await cli('get', '7')).toBe(1);
    expect(printed.at(-1)).toMatch(/RD_NOT_FOUND.*ticket 7/);
    expect(await cli('history')).toBe(2);
    expect(await run(['--url', 'http://127.0.0.1:9', 'get'])).toBe(3);
    expect(printed.at(-1)).toMatch(/cannot reach releasedesk/);
  });
  it('validate prints the dependency check for a target and exits 4 while a requirement is missing; nothing moves', async () => {
    expect(await cli('validate', '42', '--target', 'stage-rollout')).toBe(4);
    const text = printed.join('\n');
    expect(text).toContain('ticket 42 (Unverified) into stage-rollout: 1 requirement(s) missing');
    expect(text).toMatch(/tool-1\.2\.3-1\.noarch\.rpm │ libfoo >= 2\s+│ missing/);
    expect(text).toMatch(/\/bin\/sh\s+│ not checked/);

    // another release of its distribution (el9, noarch) in Stage-Rollout provides it: met there, still missing in Production
    const [lib] = await t
      .db('releases')
      .insert({
        ticket_id: 43,
        status: 'StageRollOut',
        product_short_name: 'TP.lib.el9.noarch',
        repo_kind: 'yum',
        platform: 'el9',
        arch: 'noarch',
      })
      .returning('id');
    await t.db('stage_members').insert({ release_id: lib.id, stage: 'stage-rollout' });
    await t.db('blobs').insert({ sha256: 'b'.repeat(64), size: 10 });
    await t.db('packages').insert({
      release_id: lib.id,
      filename: 'libfoo-2.1-1.noarch.rpm',
      pkgname: 'libfoo',
      version: '2.1',
      rel: '1',
      arch: 'noarch',
      format: 'rpm',
      sha256: 'b'.repeat(64),
      size: 10,
      header: JSON.stringify({ requires: [], provides: ['libfoo = 2.1-1'] }),
    });
    printed.length = 0;
    expect(await cli('validate', '42', '--target', 'stage-rollout')).toBe(0);
    expect(printed.join('\n')).toContain('into stage-rollout: every requirement is met');
    printed.length = 0;
    expect(await cli('--json', 'validate', '42', '--target', 'production')).toBe(4);
    expect(JSON.parse(printed[0]!)).toMatchObject({
      ticket: 42,
      target: 'production',
      satisfied: false,
      unmet: [{ package: 'tool-1.2.3-1.noarch.rpm', requirement: 'libfoo >= 2' }],
    });
    expect(await t.db('releases').where({ ticket_id: 42 }).first()).toMatchObject({ status: 'Unverified' });

    expect(await cli('validate', '42')).toBe(2);
    expect(await cli('validate', '42', '--target', 'unverified')).toBe(2);
    await t.db('releases').insert({ ticket_id: 44, status: 'New' });
    expect(await cli('validate', '44', '--target', 'production')).toBe(1);
    expect(printed.at(-1)).toMatch(/RD_ACTION_NOT_ALLOWED.*no verified packages yet.*MoveToUnverified first/);
    const res = await fetch(`${app.url}/releases/42/validate?target=nowhere`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'RD_PAYLOAD_INVALID', message: expect.stringContaining('target') });
  });
});
