import { beforeAll, describe, expect, it } from 'vitest';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { recordRelease } from '../../../workers/steps/record-release.ts';
import { headersOf, seedRelease, unverifiedOutputs, useStepEnv, useTestPackages } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const PRODUCT = 'TESTTP.testpkg.el9.noarch';
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs]);
});

const newRelease = async (ticket: number) =>
  (await env.db('releases').insert({ ticket_id: ticket, status: 'Processing' }).returning('id'))[0].id as number;
const packagesOf = (id: number) =>
  env
    .db('packages')
    .where({ release_id: id })
    .orderBy('filename')
    .select('filename', 'pkgname', 'version', 'rel', 'arch', 'format', 'url', 'sha256', 'size', 'header');

describe('record-release', () => {
  it('records the packages with their digests and headers, the blobs, and the identity of the release', async () => {
    const id = await newRelease(7);
    const outputs = await unverifiedOutputs(env, PRODUCT, pk().rpms, headers);
    expect(await recordRelease.run(env.ctx(id, { ticketId: 7, outputs }))).toEqual({ packages: 3 });
    expect(await packagesOf(id)).toEqual(
      [...pk().rpms]
        .sort((a, b) => a.filename.localeCompare(b.filename))
        .map((p) => ({
          filename: p.filename,
          pkgname: p.name,
          version: '1.0.0',
          rel: '1',
          arch: 'noarch',
          format: 'rpm',
          url: `http://127.0.0.1:9/${p.filename}`,
          sha256: p.sha256,
          size: p.size,
          header: headers[p.filename],
        })),
    );
    expect(await env.db('blobs').orderBy('sha256').select('sha256', 'size')).toEqual(
      [...pk().rpms].sort((a, b) => a.sha256.localeCompare(b.sha256)).map((p) => ({ sha256: p.sha256, size: p.size })),
    );
    expect(await env.db('releases').where({ id }).first()).toMatchObject({
      product_short_name: PRODUCT,
      product_name: PRODUCT,
      version: '1.0.0',
      platform: 'el9',
      arch: 'noarch',
      repo_kind: 'yum',
      xml_sha256: outputs['fetch-metadata'].xmlSha256,
      metadata: outputs['fetch-metadata'].metadata,
      status: 'Processing',
    });
  });

  it('replaces what an earlier submission of the ticket recorded, and a rerun changes nothing', async () => {
    const id = await newRelease(7);
    const first = await unverifiedOutputs(env, PRODUCT, pk().rpms, headers);
    await recordRelease.run(env.ctx(id, { outputs: first }));
    const second = await unverifiedOutputs(env, PRODUCT, pk().rpms.slice(0, 1), headers);
    await recordRelease.run(env.ctx(id, { outputs: second }));
    await recordRelease.run(env.ctx(id, { outputs: second }));
    expect((await packagesOf(id)).map((p) => p.filename)).toEqual([pk().rpms[0]!.filename]);
  });

  it('undo takes its packages back, leaves the other releases and the shared blobs', async () => {
    const other = await seedRelease(env, { ticketId: 2, product: PRODUCT, pkgs: pk().rpms.slice(0, 1), headers, stages: ['unverified'] });
    const id = await newRelease(7);
    const ctx = env.ctx(id, { outputs: await unverifiedOutputs(env, PRODUCT, pk().rpms, headers) });
    const out = await recordRelease.run(ctx);
    await recordRelease.undo!(ctx, out);
    expect(await packagesOf(id)).toEqual([]);
    expect((await packagesOf(other)).map((p) => p.filename)).toEqual([pk().rpms[0]!.filename]);
    // blob rows are shared by digest and stay (fetch-packages' undo decides about the files)
    expect(await env.db('blobs').count('* as n')).toEqual([{ n: 3 }]);
    for (const p of pk().rpms) expect(await env.blobs.has(p.sha256)).toBe(true);
    // a second undo is harmless
    await recordRelease.undo!(ctx, out);
  });

  it('records an APT release as such', async () => {
    const id = await newRelease(8);
    await recordRelease.run(env.ctx(id, { outputs: await unverifiedOutputs(env, 'TESTTP.testpkg.debian12.all', pk().debs, headers) }));
    expect(await env.db('releases').where({ id }).first()).toMatchObject({ repo_kind: 'apt', platform: 'debian12', arch: 'all' });
    expect(new Set((await packagesOf(id)).map((p) => p.format))).toEqual(new Set(['deb']));
  });
});
