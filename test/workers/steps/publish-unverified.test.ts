import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { publishUnverified } from '../../../workers/steps/publish-unverified.ts';
import { publishView } from '../../../workers/steps/views.ts';
import { fails } from '../../support/errors.ts';
import type { TestPackage } from '../../support/packages.ts';
import {
  checkpointed,
  headersOf,
  liveIndex,
  membersOf,
  names,
  PUBLIC_URL,
  seedRelease,
  unverifiedOutputs,
  useStepEnv,
  useTestPackages,
} from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const one = useTestPackages(1, { core: false, fillPrefix: 'other', fillStart: 1 });
const YUM = 'TESTTP.testpkg.el9.noarch';
const APT = 'TESTTP.testpkg.debian12.all';
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs, ...one().rpms]);
});

/** A release recorded by record-release (status Processing, in no stage) and the context of its publish-unverified. */
async function recorded(product: string, pkgs: TestPackage[], ticketId = 7) {
  const id = await seedRelease(env, { ticketId, product, pkgs, headers, status: 'Processing' });
  return { id, ctx: env.ctx(id, { ticketId, fromStatus: 'New', outputs: await unverifiedOutputs(env, product, pkgs, headers) }) };
}

describe('publish-unverified', () => {
  it('puts the release into the Unverified repository of its product, with its client file', async () => {
    const { id, ctx } = await recorded(YUM, pk().rpms);
    const out = await publishUnverified.run(ctx);
    expect(out).toMatchObject({
      url: `${PUBLIC_URL}/repos/unverified/${YUM}/`,
      clientFileUrl: `${PUBLIC_URL}/repos/unverified/${YUM}/${YUM}.repo`,
      version: 1,
    });
    expect(await liveIndex(env.config, 'unverified', YUM, 'yum')).toEqual(names(pk().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([id]);
  });

  it('keeps the other releases of the product that Unverified shows', async () => {
    const other = await seedRelease(env, { ticketId: 2, product: YUM, pkgs: one().rpms, headers, status: 'Processing' });
    await publishView(env.ctx(other), 'unverified', YUM, 'yum', { include: other });
    const { id, ctx } = await recorded(YUM, pk().rpms);
    expect((await publishUnverified.run(ctx)).version).toBe(2);
    expect(await liveIndex(env.config, 'unverified', YUM, 'yum')).toEqual(names([...pk().rpms, ...one().rpms]));
    expect(await membersOf(env.db, 'unverified')).toEqual([other, id]);
  });

  it('publishes an APT release into a Packages index', async () => {
    const { ctx } = await recorded(APT, pk().debs);
    expect((await publishUnverified.run(ctx)).clientFileUrl).toBe(`${PUBLIC_URL}/repos/unverified/${APT}/${APT}.list`);
    expect(await liveIndex(env.config, 'unverified', APT, 'apt')).toEqual(names(pk().debs));
  });

  it('RD_PACKAGE_UNREADABLE when the index tool cannot read a package: the live index and the membership stay as they were', async () => {
    const other = await seedRelease(env, { ticketId: 2, product: YUM, pkgs: one().rpms, headers, status: 'Processing' });
    await publishView(env.ctx(other), 'unverified', YUM, 'yum', { include: other });
    const junk = Buffer.from('not an rpm at all\n');
    const path = `${env.config.STORAGE_DIR}/junk`;
    await writeFile(path, junk);
    const bad: TestPackage = {
      name: 'testpkg',
      filename: 'testpkg-1.0.0-1.noarch.rpm',
      path,
      sha256: createHash('sha256').update(junk).digest('hex'),
      size: junk.length,
    };
    const { ctx } = await recorded(YUM, [bad]);
    const e = await fails(publishUnverified.run(ctx), 'RD_PACKAGE_UNREADABLE');
    expect(e.message).toMatch(/^testpkg-1\.0\.0-1\.noarch\.rpm: createrepo_c could not read the package/);
    expect(await liveIndex(env.config, 'unverified', YUM, 'yum')).toEqual(names(one().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([other]);
  });

  it('undo takes the release out of the live index and of the stage, keeps the others and the blobs', async () => {
    const other = await seedRelease(env, { ticketId: 2, product: YUM, pkgs: one().rpms, headers, status: 'Processing' });
    await publishView(env.ctx(other), 'unverified', YUM, 'yum', { include: other });
    const { ctx } = await recorded(YUM, pk().rpms);
    const out = checkpointed(await publishUnverified.run(ctx));
    await publishUnverified.undo!(ctx, out);
    expect(await liveIndex(env.config, 'unverified', YUM, 'yum')).toEqual(names(one().rpms));
    expect(await membersOf(env.db, 'unverified')).toEqual([other]);
    for (const p of pk().rpms) expect(await env.blobs.has(p.sha256)).toBe(true);
  });

  it('undo of the only release leaves a valid, empty index', async () => {
    const { ctx } = await recorded(APT, pk().debs);
    await publishUnverified.undo!(ctx, checkpointed(await publishUnverified.run(ctx)));
    expect(await liveIndex(env.config, 'unverified', APT, 'apt')).toEqual([]);
    expect(await membersOf(env.db, 'unverified')).toEqual([]);
  });
});
