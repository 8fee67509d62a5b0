import { chmod, copyFile, unlink } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PackageHeader } from '../../../services/storage/package-header.ts';
import { loadRelease } from '../../../workers/steps/load-release.ts';
import { fails } from '../../support/errors.ts';
import { headersOf, loaded, seedRelease, useStepEnv, useTestPackages } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const YUM = 'TESTTP.testpkg.el9.noarch';
let headers: Record<string, PackageHeader>;
beforeAll(async () => {
  headers = await headersOf([...pk().rpms, ...pk().debs]);
});

const byName = <T extends { filename: string }>(l: T[]) => [...l].sort((a, b) => (a.filename < b.filename ? -1 : 1));

describe('load-release', () => {
  it('gives what record-release recorded: identity, revision and the packages by name with digest and size', async () => {
    const deprecatedAt = new Date('2026-11-20T10:00:00Z');
    const id = await seedRelease(env, {
      ticketId: 7,
      product: YUM,
      pkgs: pk().rpms,
      headers,
      status: 'Deprecated',
      revision: 4,
      deprecatedAt,
    });
    const out = await loadRelease.run(env.ctx(id, { ticketId: 7 }));
    expect({ ...out, packages: byName(out.packages) }).toEqual(
      loaded(YUM, pk().rpms, { revision: 4, deprecatedAt: deprecatedAt.toISOString() }),
    );
    expect(typeof out.packages[0]!.size).toBe('number');
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('reads an APT release with no revision yet', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: 'TESTTP.testpkg.debian12.all', pkgs: pk().debs, headers });
    const out = await loadRelease.run(env.ctx(id));
    // (ordered by the database's collation, which need not be code point order)
    expect({ ...out, packages: byName(out.packages) }).toEqual(loaded('TESTTP.testpkg.debian12.all', pk().debs, { kind: 'apt' }));
  });

  it('RD_CONTENT_MISSING when the release has no recorded packages', async () => {
    const id = (await env.db('releases').insert({ ticket_id: 7, status: 'Unverified' }).returning('id'))[0].id as number;
    const e = await fails(loadRelease.run(env.ctx(id, { ticketId: 7 })), 'RD_CONTENT_MISSING');
    expect(e.message).toBe('release of ticket 7 has no recorded packages');
  });

  it('RD_CONTENT_MISSING naming the file whose blob is gone from the store', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: pk().rpms, headers });
    const gone = pk().rpms[1]!;
    await unlink(env.blobs.path(gone.sha256));
    const e = await fails(loadRelease.run(env.ctx(id)), 'RD_CONTENT_MISSING');
    expect(e.message).toBe(`${gone.filename}: stored blob sha256 ${gone.sha256} is missing`);
    expect(e.details).toEqual({ file: gone.filename });
  });

  it('RD_CONTENT_MISSING when a blob has another size than recorded (truncated or replaced)', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: pk().rpms, headers });
    const p = pk().rpms[0]!;
    const blob = env.blobs.path(p.sha256);
    await chmod(blob, 0o644);
    await copyFile(pk().rpms[2]!.path, blob);
    const e = await fails(loadRelease.run(env.ctx(id)), 'RD_CONTENT_MISSING');
    expect(e.message).toBe(`${p.filename}: stored blob sha256 ${p.sha256} is ${pk().rpms[2]!.size} bytes, recorded ${p.size}`);
  });

  it('has nothing to undo: it changes no row', async () => {
    const id = await seedRelease(env, { ticketId: 7, product: YUM, pkgs: pk().rpms, headers, revision: 2 });
    const before = await env.db('releases').where({ id }).first();
    await loadRelease.run(env.ctx(id));
    expect(loadRelease.undo).toBeUndefined();
    expect(await env.db('releases').where({ id }).first()).toEqual(before);
  });
});
