import { appendFile, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseMirrorTargets } from '../../../config/mirror-targets.ts';
import { checkDrift } from '../../../services/drift/check.ts';
import { createLogger } from '../../../services/log.ts';
import { syncTarget } from '../../../services/mirror/sync.ts';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { publishDistribution } from '../../../services/storage/dist-publish.ts';
import type { DistRef } from '../../../services/storage/dist-ref.ts';
import { makeIndexEntries, type IndexEntry } from '../../../services/storage/index-entries.ts';
import type { TargetSpec } from '../../../services/mirror/target.ts';
import { useTestDb } from '../../support/db.ts';
import { startPrivateRsyncd, type PrivateRsyncd } from '../../support/mirror-servers.ts';
import { adoptTestPackages, buildTestPackages } from '../../support/packages.ts';

// Records against what the live indexes, the files and a mirror hold, on a real store, database and rsync
// daemon (tickets are compared against the real RT in test/e2e/drift.test.ts).
const t = useTestDb();
let root: string;
let storageDir: string;
let signer: Signer;
let rsyncd: PrivateRsyncd;
let entries: IndexEntry[];
let pkgs: Array<{ sha256: string; filename: string }>;
let mirror: TargetSpec;
const el9: DistRef = { stage: 'production', kind: 'yum', platform: 'el9', arch: 'x86_64' };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-drift-'));
  storageDir = join(root, 'storage');
  const [built, rs] = await Promise.all([buildTestPackages(join(root, 'pkgs'), 3), startPrivateRsyncd()]);
  rsyncd = rs;
  const store = new BlobStore(storageDir);
  await store.init();
  pkgs = await adoptTestPackages(store, built.rpms);
  entries = await makeIndexEntries(storageDir, 'yum', pkgs, { tmpDir: join(storageDir, 'tmp'), timeoutMs: 60_000 });
  signer = await startSigner({ storageDir, keys: [] });
  mirror = parseMirrorTargets(`site=${rsyncd.url}/drift;delete`)[0]!;
}, 180_000);
afterAll(async () => {
  await Promise.all([rsyncd?.destroy(), signer?.stop()]);
  await rm(root, { recursive: true, force: true });
});

let releaseIds: number[];
beforeEach(async () => {
  await publishDistribution(el9, entries, { storageDir, publicUrl: 'http://desk.invalid', signer });
  releaseIds = [];
  for (const [i, p] of pkgs.entries()) {
    const [r] = await t
      .db('releases')
      .insert({ ticket_id: 100 + i, status: 'Production', product_short_name: `P${i}`, platform: 'el9', arch: 'x86_64', repo_kind: 'yum' })
      .returning('id');
    await t.db('blobs').insert({ sha256: p.sha256, size: 1 }).onConflict('sha256').ignore();
    await t.db('packages').insert({
      release_id: r.id,
      filename: p.filename,
      pkgname: `p${i}`,
      version: '1',
      rel: '1',
      arch: 'noarch',
      format: 'rpm',
      sha256: p.sha256,
      size: 1,
    });
    await t.db('stage_members').insert({ release_id: r.id, stage: 'production' });
    releaseIds.push(Number(r.id));
  }
});

const config = () => ({ STORAGE_DIR: storageDir, MIRROR_TARGETS: [mirror] });
const check = (deep = false) => checkDrift({ db: t.db, config: config() }, { deep });
const liveDir = async () => join(storageDir, 'repos/dist/yum/el9/x86_64/production');

describe('checkDrift', () => {
  it('finds nothing when records and the live index agree, and says tickets were not compared without RT', async () => {
    const r = await check(true);
    expect(r.items).toEqual([]);
    expect(r.checked).toMatchObject({ repositories: 1, files: 3 });
    expect(r.skipped).toContain('tickets: no helpdesk connection here');
  });

  it('names a file the index shows and no record has, and one a record has and the index lacks, with their tickets', async () => {
    await t.db('stage_members').where({ release_id: releaseIds[0] }).del();
    const [r] = await t
      .db('releases')
      .insert({ ticket_id: 200, status: 'Production', product_short_name: 'Q', platform: 'el9', arch: 'x86_64', repo_kind: 'yum' })
      .returning('id');
    await t.db('packages').insert({
      release_id: r.id,
      filename: 'ghost-1-1.noarch.rpm',
      pkgname: 'ghost',
      version: '1',
      rel: '1',
      arch: 'noarch',
      format: 'rpm',
      sha256: pkgs[1]!.sha256,
      size: 1,
    });
    await t.db('stage_members').insert({ release_id: r.id, stage: 'production' });
    const items = (await check()).items.map((i) => [i.kind, i.ticket, i.where]);
    expect(items).toEqual([
      ['index-missing', 200, 'repos/dist/yum/el9/x86_64/production'],
      ['index-extra', 100, 'repos/dist/yum/el9/x86_64/production'],
    ]);
  });

  it('skips a repository while an action on its platform runs', async () => {
    await t.db('stage_members').where({ release_id: releaseIds[0] }).del();
    await t.db('releases').where({ id: releaseIds[1] }).update({ active_inbox_id: 1 });
    const r = await check();
    expect(r.items).toEqual([]);
    expect(r.skipped).toContain('repos/dist/yum/el9/x86_64/production: an action on it is running');
  });

  it('names an index file changed after signing and a package gone, and changes neither', async () => {
    const dir = await liveDir();
    const primary = (await readdir(join(dir, 'repodata'))).find((n) => n.endsWith('-other.xml.gz'))!;
    await appendFile(join(dir, 'repodata', primary), 'x');
    const p = pkgs[0]!;
    const href = `pool/${p.sha256.slice(0, 2)}/${p.sha256}/${p.filename}`;
    await unlink(join(storageDir, 'repos/dist', href));
    const r = await check();
    expect(r.items.map((i) => [i.kind, i.where])).toEqual([
      ['file-changed', `repos/dist/yum/el9/x86_64/production/repodata/${primary}`],
      ['file-missing', `repos/dist/yum/el9/x86_64/production/${href}`],
    ]);
    expect(r.items[0]!.expected).toContain('as its signed index says');
    expect((await readFile(join(dir, 'repodata', primary))).at(-1)).toBe('x'.charCodeAt(0)); // named, not repaired
  });

  it('names a file changed or removed on a mirror in step', async () => {
    await syncTarget(mirror, { db: t.db, log: createLogger('silent'), storageDir });
    const base = join(rsyncd.root, 'drift', 'repos/dist/yum/el9/x86_64/production');
    await writeFile(join(base, 'repodata', 'repomd.xml'), 'changed on the mirror');
    const pooled = join(base, 'pool', pkgs[2]!.sha256.slice(0, 2), pkgs[2]!.sha256, pkgs[2]!.filename);
    await unlink(pooled);
    const items = (await check()).items.map((i) => [i.kind, i.where]);
    expect(items).toContainEqual(['mirror-changed', 'site:repos/dist/yum/el9/x86_64/production/repodata/repomd.xml']);
    expect(items).toContainEqual([
      'mirror-missing',
      `site:repos/dist/yum/el9/x86_64/production/pool/${pkgs[2]!.sha256.slice(0, 2)}/${pkgs[2]!.sha256}/${pkgs[2]!.filename}`,
    ]);
  });
});
