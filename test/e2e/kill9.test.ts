import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { comments, filesUnder, finalStatuses, openTicket, rpmSpec, useE2E, waitForStatus } from '../support/e2e.ts';
import { checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml } from '../support/release-xml.ts';

// The API runs here; the worker (with the outbox loop) is a child process that gets SIGKILLed.
const e = useE2E({ WORKER_LOCK_MS: '1500' }, 'api');
const root = path.resolve(import.meta.dirname, '../..');

function startWorker(): ChildProcess {
  return spawn(process.execPath, ['services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...e.svc.env },
    stdio: 'ignore',
  });
}
const kill9 = (p: ChildProcess) =>
  new Promise<void>((r) => {
    p.once('exit', () => r());
    p.kill('SIGKILL');
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 of the worker at any point', () => {
  it('ends in the same state as an uninterrupted run, with no duplicate write-back', async () => {
    // slow packages: each takes ~1.5 s to download, so kills land in downloads, publishing and write-back
    for (const name of ['testpkg', 'testpkg-dep', 'testpkg-broken']) {
      const p = e.pkgs.rpm(name);
      e.provider.route(`/slow/${p.filename}`, { body: await readFile(p.path), intervalMs: 25, chunkSize: 100 });
    }
    const product = `TESTTP.kill9.${e.run}`;
    const specs = ['testpkg', 'testpkg-dep', 'testpkg-broken'].map((n) =>
      rpmSpec(e, n, { url: `${e.provider.url}/slow/${e.pkgs.rpm(n).filename}` }),
    );
    const t = await openTicket(e, releaseXml({ product, packages: specs }), 'kill -9');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });

    let worker = startWorker();
    let kills = 0;
    try {
      for (const delay of [900, 1700, 2600, 1200, 3100]) {
        await sleep(delay);
        if (
          (await e.svc.db('outbox').whereNull('delivered_at').count({ n: '*' }))[0]!.n === 0 &&
          (await e.svc.db('inbox').where({ ticket_id: t }).first())?.state !== 'pending'
        )
          break;
        await kill9(worker);
        kills++;
        worker = startWorker();
      }
      expect(await waitForStatus(e, t, ['Unverified', 'Failed'], 120_000)).toBe('Unverified');
      // let the outbox drain
      for (let i = 0; i < 100 && Number((await e.svc.db('outbox').whereNull('delivered_at').count({ n: '*' }))[0]!.n) > 0; i++)
        await sleep(200);
    } finally {
      await kill9(worker);
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    const mine = (await comments(e, t)).filter((c) => /Unverified repository/.test(c));
    expect(mine).toHaveLength(1);
    const tr = await e.svc.db('transitions').where({ ticket_id: t });
    expect(tr.map((r) => r.outcome)).toEqual(['ok']);
    expect(await finalStatuses(e, t)).toEqual(['Unverified']);
    const uri = (await e.rt.getTicket(t)).customFields.RepoURI?.[0];
    expect((await checkYumRepo(uri!, 'testpkg-dep')).ok).toBe(true);
    expect(await filesUnder(path.join(e.svc.storage, 'tmp'))).toEqual([]);
    const referenced = new Set((await e.svc.db('packages').select('sha256')).map((r) => r.sha256));
    expect((await filesUnder(path.join(e.svc.storage, 'blobs'))).map((f) => path.basename(f)).filter((b) => !referenced.has(b))).toEqual(
      [],
    );
  }, 240_000);
});
