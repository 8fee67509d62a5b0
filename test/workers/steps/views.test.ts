import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { parseReleaseXml } from '../../../services/metadata/release-xml.ts';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { publishView } from '../../../workers/steps/views.ts';
import { fails } from '../../support/errors.ts';
import type { TestPackage } from '../../support/packages.ts';
import {
  headersOf,
  liveDistIndex,
  liveIndex,
  membersOf,
  names,
  PUBLIC_URL,
  seedRelease,
  useStepEnv,
  useTestPackages,
  xmlFor,
} from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const more = useTestPackages(2, { core: false, fillPrefix: 'more', fillStart: 1 });
const YUM = 'TESTTP.testpkg.el9.noarch';
const APT = 'TESTTP.testpkg.debian12.all';
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs, ...more().rpms]);
});

/** Waits, a few ms at a time, until `ok` holds (at most 5 s). */
async function until(ok: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 5)))
    if (Date.now() - t0 > 5000) throw new Error('timed out waiting');
}

const recorded = (ticketId: number, pkgs: TestPackage[], product = YUM) =>
  seedRelease(env, { ticketId, product, pkgs, headers, status: 'Processing' });
const index = (product = YUM, kind: 'yum' | 'apt' = 'yum') => liveIndex(env.config, 'unverified', product, kind);
const distIndex = (stage: 'unverified' | 'production' = 'unverified') => liveDistIndex(env.config, stage, 'yum', 'el9', 'noarch');

describe('publishView', () => {
  it("builds the stage's index from the releases it shows plus the one included, then records the membership", async () => {
    const a = await recorded(1, pk().rpms);
    const out = await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    expect(out).toMatchObject({
      url: `${PUBLIC_URL}/repos/unverified/${YUM}/`,
      clientFileUrl: `${PUBLIC_URL}/repos/unverified/${YUM}/${YUM}.repo`,
      version: 1,
    });
    expect(out.durationMs).toBeGreaterThanOrEqual(0);
    expect(await index()).toEqual(names(pk().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([a]);
    expect(out.dist).toMatchObject({
      url: `${PUBLIC_URL}/repos/dist/yum/el9/noarch/unverified/`,
      clientFileUrl: `${PUBLIC_URL}/repos/dist/yum/el9/noarch/unverified/releasedesk-el9-noarch-unverified.repo`,
      version: 1,
    });
    expect(await distIndex()).toEqual(names(pk().rpms));
    expect(env.progress).toEqual([{ step: 'publish', repo: out.url, packages: 3, distribution: out.dist.url, distributionPackages: 3 }]);
    const repoFile = await readFile(join(env.config.STORAGE_DIR, 'repos', 'unverified', YUM, `${YUM}.repo`), 'utf8');
    expect(repoFile).toContain(`baseurl=${PUBLIC_URL}/repos/unverified/${YUM}/`);
  });

  it('includes, excludes, and is idempotent', async () => {
    const a = await recorded(1, pk().rpms);
    const b = await recorded(2, more().rpms);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    expect((await publishView(env.ctx(b), 'unverified', YUM, 'yum', { include: b })).version).toBe(2);
    expect(await index()).toEqual(names([...pk().rpms, ...more().rpms]));
    await publishView(env.ctx(b), 'unverified', YUM, 'yum', { include: b });
    expect(await membersOf(env.db, 'unverified')).toEqual([a, b]);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { exclude: a });
    expect(await index()).toEqual(names(more().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([b]);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { exclude: a });
    expect(await index()).toEqual(names(more().rpms));
  });

  it("shows only the product's releases and the stage's own", async () => {
    const a = await recorded(1, pk().rpms);
    await seedRelease(env, { ticketId: 2, product: 'TESTTP.other.el9.noarch', pkgs: more().rpms, headers, stages: ['unverified'] });
    await seedRelease(env, { ticketId: 3, product: YUM, pkgs: more().rpms, headers, stages: ['production'] });
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    expect(await index()).toEqual(names(pk().rpms));
  });

  it('builds APT indexes', async () => {
    const a = await recorded(1, pk().debs, APT);
    expect((await publishView(env.ctx(a), 'unverified', APT, 'apt', { include: a })).clientFileUrl).toBe(
      `${PUBLIC_URL}/repos/unverified/${APT}/${APT}.list`,
    );
    expect(await index(APT, 'apt')).toEqual(names(pk().debs));
  });

  it('two releases of one product published at once both end up in the index (the repository lock)', async () => {
    const a = await recorded(1, pk().rpms);
    const b = await recorded(2, more().rpms);
    await Promise.all([
      publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a }),
      publishView(env.ctx(b), 'unverified', YUM, 'yum', { include: b }),
    ]);
    expect(await index()).toEqual(names([...pk().rpms, ...more().rpms]));
    expect(await membersOf(env.db, 'unverified')).toEqual([a, b]);
  });

  it('a build that fails changes neither the live index nor the membership, and leaves no build aside', async () => {
    const a = await recorded(1, pk().rpms);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    const junk = Buffer.from('no rpm\n');
    await writeFile(join(env.config.STORAGE_DIR, 'junk'), junk);
    const bad: TestPackage = {
      name: 'more',
      filename: 'more-9-1.noarch.rpm',
      path: join(env.config.STORAGE_DIR, 'junk'),
      sha256: createHash('sha256').update(junk).digest('hex'),
      size: junk.length,
    };
    const b = await recorded(2, [bad]);
    await fails(publishView(env.ctx(b), 'unverified', YUM, 'yum', { include: b }), 'RD_PACKAGE_UNREADABLE');
    await fails(publishView(env.ctx(b), 'unverified', YUM, 'yum', { include: b, exclude: a }), 'RD_PACKAGE_UNREADABLE');
    expect(await index()).toEqual(names(pk().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([a]);
    expect(await readdir(join(env.config.STORAGE_DIR, 'repos', '.versions', 'unverified', YUM))).toEqual(['1']);
  });

  it('builds the two repositories at once, and either both go live or neither: a signature that fails on either side leaves both as they were', async () => {
    const a = await recorded(1, pk().rpms);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    const b = await recorded(2, more().rpms);
    const signing: string[] = [];
    let signed = 0;
    const failingOn = (side: 'product' | 'distribution') => {
      const ctx = env.ctx(b);
      const sign = ctx.deps.signer.signRepository.bind(ctx.deps.signer);
      ctx.deps = {
        ...ctx.deps,
        signer: {
          ...ctx.deps.signer,
          signRepository: async (dir, kind) => {
            const mine = dir.includes('/repos/dist/') ? 'distribution' : 'product';
            signing.push(mine);
            // both builds are under way before either signs: the first to sign waits for the other
            if (++signed === 1) await until(() => signing.length === 2);
            if (mine === side) throw new Error(`gpg: signing failed: ${side}`);
            return sign(dir, kind);
          },
        },
      };
      return ctx;
    };
    const asides = async () =>
      (await readdir(join(env.config.STORAGE_DIR, 'repos', '.versions', 'unverified', YUM))).concat(
        await readdir(join(env.config.STORAGE_DIR, 'repos', 'dist', '.versions', 'yum', 'el9', 'noarch', 'unverified')),
      );
    for (const side of ['product', 'distribution'] as const) {
      signing.length = 0;
      signed = 0;
      await expect(publishView(failingOn(side), 'unverified', YUM, 'yum', { include: b })).rejects.toThrow(`signing failed: ${side}`);
      expect(signing.sort()).toEqual(['distribution', 'product']);
      expect(await index()).toEqual(names(pk().rpms));
      expect(await distIndex()).toEqual(names(pk().rpms));
      expect(await membersOf(env.db, 'unverified')).toEqual([a]);
      expect(await asides()).toEqual(['1', '1']);
    }
  });

  it('RD_XML_INVALID for a product name that would leave the repository tree, before anything is built', async () => {
    const a = await recorded(1, pk().rpms);
    await fails(publishView(env.ctx(a), 'unverified', '../escape', 'yum', { include: a }), 'RD_XML_INVALID');
    expect(await readdir(join(env.config.STORAGE_DIR))).not.toContain('repos');
    expect(await membersOf(env.db, 'unverified')).toEqual([]);
  });
});

describe('the distribution of a stage', () => {
  it('shows every product of the platform and arch; taking one product out leaves the others', async () => {
    const OTHER = 'OTHERTP.more.el9.noarch';
    const a = await recorded(1, pk().rpms);
    const b = await recorded(2, more().rpms, OTHER);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    const out = await publishView(env.ctx(b), 'unverified', OTHER, 'yum', { include: b });
    expect(out.dist.version).toBe(2);
    expect(await index()).toEqual(names(pk().rpms));
    expect(await index(OTHER)).toEqual(names(more().rpms));
    expect(await distIndex()).toEqual(names([...pk().rpms, ...more().rpms]));
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { exclude: a });
    expect(await distIndex()).toEqual(names(more().rpms));
    expect(await index()).toEqual([]);
  });

  it('records each package index entry once, and a promotion reads no package to build its repository or distribution', async () => {
    const a = await recorded(1, pk().rpms);
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    expect(Number((await env.db('index_entries').count('* as n').first())!.n)).toBe(3);
    const before = await env.db('index_entries').select('sha256', 'created_at').orderBy('sha256');
    await publishView(env.ctx(a), 'production', YUM, 'yum', { include: a });
    expect(await env.db('index_entries').select('sha256', 'created_at').orderBy('sha256')).toEqual(before);
    expect(await distIndex('production')).toEqual(names(pk().rpms));
  });
});

describe('advisories', () => {
  const readRepodata = async (stage: string) => {
    const dir = join(env.config.STORAGE_DIR, 'repos', 'dist', 'yum', 'el9', 'noarch', stage, 'repodata');
    const repomd = await readFile(join(dir, 'repomd.xml'), 'utf8');
    const href = /<data type="updateinfo">[\s\S]*?<location href="repodata\/([^"]+)"/.exec(repomd)?.[1];
    return href ? (await promisify(gunzip)(await readFile(join(dir, href)))).toString('utf8') : null;
  };

  it('a Production YUM distribution carries updateinfo.xml with each release of it; other stages carry none', async () => {
    const a = await recorded(7, pk().rpms);
    const metadata = parseReleaseXml(xmlFor(YUM, pk().rpms));
    await env
      .db('releases')
      .where({ id: a })
      .update({ metadata: JSON.stringify(metadata) });
    await publishView(env.ctx(a), 'unverified', YUM, 'yum', { include: a });
    expect(await readRepodata('unverified')).toBeNull();
    await publishView(env.ctx(a), 'production', YUM, 'yum', { include: a });
    const xml = await readRepodata('production');
    expect(xml).toContain(`<id>RD-${metadata.isoDate.slice(0, 4)}-7</id>`);
    for (const p of pk().rpms) expect(xml).toContain(`<filename>${p.filename}</filename>`);
    await publishView(env.ctx(a), 'production', YUM, 'yum', { exclude: a });
    expect(await readRepodata('production')).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n</updates>\n');
  });
});
