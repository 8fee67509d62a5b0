import { createHash } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { addToPool } from '../../../services/storage/dist-pool.ts';
import { poolHref } from '../../../services/storage/dist-ref.ts';
import { checkHeaders } from '../../../workers/steps/check-headers.ts';
import { fails } from '../../support/errors.ts';
import type { TestPackage } from '../../support/packages.ts';
import { checkpointed, headersOf, unverifiedOutputs, useStepEnv, useTestPackages, xmlFor } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const YUM = 'TESTTP.testpkg.el9.noarch';
const APT = 'TESTTP.testpkg.debian12.all';

/** fetch-metadata and fetch-packages as checkpointed, the blobs in the store; release.xml edited by `edit`. */
async function ctxFor(product: string, pkgs: TestPackage[], edit = (xml: string) => xml) {
  const outputs = await unverifiedOutputs(env, product, pkgs);
  outputs['fetch-metadata'].metadata = checkpointed(parseReleaseXml(edit(xmlFor(product, pkgs))));
  return env.ctx(1, { outputs });
}

describe('check-headers', () => {
  it('reads each RPM header from the stored blob: name, version, release, arch, requires, provides', async () => {
    const out = await checkHeaders.run(await ctxFor(YUM, pk().rpms));
    expect(Object.keys(out.headers).sort()).toEqual(
      pk()
        .rpms.map((p) => p.filename)
        .sort(),
    );
    expect(out.headers['testpkg-dep-1.0.0-1.noarch.rpm']).toEqual({
      name: 'testpkg-dep',
      version: '1.0.0',
      release: '1',
      arch: 'noarch',
      requires: ['testpkg = 1.0.0-1'],
      provides: ['testpkg-dep = 1.0.0-1'],
    });
    expect(out.headers['testpkg-broken-1.0.0-1.noarch.rpm']!.requires).toEqual(['testpkg-missing-capability >= 99']);
    expect(out).toEqual(await headersOf(pk().rpms).then((headers) => ({ headers })));
    expect(env.progress).toEqual([{ step: 'check-headers', packages: 3 }]);
  });

  it('reads DEB control fields the same way', async () => {
    const out = await checkHeaders.run(await ctxFor(APT, pk().debs));
    expect(out.headers['testpkg-dep_1.0.0-1_all.deb']).toEqual({
      name: 'testpkg-dep',
      version: '1.0.0',
      release: '1',
      arch: 'all',
      requires: ['testpkg (= 1.0.0-1)'],
      provides: ['testpkg-dep (= 1.0.0-1)'],
    });
  });

  it('RD_PACKAGE_MISMATCH naming each field where release.xml disagrees with the package', async () => {
    const ctx = await ctxFor(YUM, pk().rpms, (xml) =>
      xml.replace('pkgname="testpkg-dep" pkgtype="binary" release="1"', 'pkgname="testpkg-dep" pkgtype="binary" release="2"'),
    );
    const e = await fails(checkHeaders.run(ctx), 'RD_PACKAGE_MISMATCH');
    expect(e.message).toBe('testpkg-dep-1.0.0-1.noarch.rpm: header says release 1, release.xml says 2');
    expect(env.progress).toEqual([]);
  });

  it('RD_PACKAGE_UNREADABLE, by its file name, when the stored bytes are no RPM; no index entry is recorded for them', async () => {
    const junk = Buffer.from('this is not an rpm\n');
    const path = `${env.config.STORAGE_DIR}/junk`;
    await writeFile(path, junk);
    const fake: TestPackage = {
      name: 'testpkg',
      filename: 'testpkg-1.0.0-1.noarch.rpm',
      path,
      sha256: createHash('sha256').update(junk).digest('hex'),
      size: junk.length,
    };
    const e = await fails(checkHeaders.run(await ctxFor(YUM, [fake])), 'RD_PACKAGE_UNREADABLE');
    expect(e.message).toMatch(/^testpkg-1\.0\.0-1\.noarch\.rpm: not a readable RPM package/);
    expect(e.message).not.toContain(env.config.STORAGE_DIR);
    expect(await env.db('index_entries').count('* as n')).toEqual([{ n: 0 }]);
  });

  it('has nothing to undo: it writes no release row; the entries it records and the pool links it makes describe bytes', async () => {
    await checkHeaders.run(await ctxFor(YUM, pk().rpms));
    expect(checkHeaders.undo).toBeUndefined();
    for (const table of ['releases', 'packages', 'blobs']) expect(await env.db(table).count('* as n')).toEqual([{ n: 0 }]);
    for (const p of pk().rpms) expect(await env.blobs.has(p.sha256)).toBe(true);
  });

  it('links each package into the pool while it reads the headers (the blob itself, by a hard link), so the publication links none', async () => {
    await checkHeaders.run(await ctxFor(YUM, pk().rpms));
    for (const p of pk().rpms) {
      const pooled = await stat(join(env.config.STORAGE_DIR, 'repos', 'dist', poolHref(p.sha256, p.filename)));
      expect(pooled.ino).toBe((await stat(env.blobs.path(p.sha256))).ino);
    }
    // a second run finds them there
    await checkHeaders.run(await ctxFor(YUM, pk().rpms));
    expect(await addToPool(env.config.STORAGE_DIR, pk().rpms)).toBe(0);
  });

  it.each([
    ['yum', YUM, () => pk().rpms],
    ['apt', APT, () => pk().debs],
  ] as const)(
    'records the %s index entry of each package while it reads the headers, so the publication reads none',
    async (kind, product, pkgs) => {
      await checkHeaders.run(await ctxFor(product, pkgs()));
      const rows = await env.db('index_entries').select('sha256', 'filename', 'kind', 'part0');
      expect(rows.map((r) => `${r.kind} ${r.sha256}/${r.filename}`).sort()).toEqual(
        pkgs()
          .map((p) => `${kind} ${p.sha256}/${p.filename}`)
          .sort(),
      );
      for (const r of rows) expect(gunzipSync(r.part0).toString()).toContain(`pool/${r.sha256.slice(0, 2)}/${r.sha256}/${r.filename}`);
      // a second run finds them recorded: nothing new (the insert would be ignored anyway; the tool is not run)
      await checkHeaders.run(await ctxFor(product, pkgs()));
      expect(await env.db('index_entries').count('* as n')).toEqual([{ n: pkgs().length }]);
    },
  );
});
