import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fetchMetadata } from '../../../workers/steps/fetch-metadata.ts';
import { fails } from '../../support/errors.ts';
import { useStepEnv, useTestPackages, xmlFor } from '../../support/step-context.ts';

const env = useStepEnv();
const pk = useTestPackages();
const PRODUCT = 'TESTTP.testpkg.el9.noarch';

describe('fetch-metadata', () => {
  it('reads the newest .xml attachment of the ticket, parses it and hashes its bytes', async () => {
    const old = xmlFor(PRODUCT, pk().rpms.slice(0, 1));
    const xml = xmlFor(PRODUCT, pk().rpms);
    env.rt.attach(7, 'release.xml', old);
    const id = env.rt.attach(7, 'release-2.XML', xml);
    env.rt.attach(7, 'notes.txt', 'not the metadata');
    env.rt.attach(8, 'other.xml', 'another ticket');
    const out = await fetchMetadata.run(env.ctx(1, { ticketId: 7 }));
    expect(out).toMatchObject({ attachmentId: id, filename: 'release-2.XML', xmlSha256: createHash('sha256').update(xml).digest('hex') });
    expect(out.metadata).toMatchObject({
      productShortName: PRODUCT,
      version: '1.0.0',
      repoKind: 'yum',
      targetPlatform: 'el9',
      synchURL: null,
    });
    expect(out.metadata.packages.map((p) => p.filename)).toEqual(pk().rpms.map((p) => p.filename));
    expect(out.metadata.packages[0]).toMatchObject({
      format: 'rpm',
      sha256: pk().rpms[0]!.sha256,
      url: `http://127.0.0.1:9/rpm/${pk().rpms[0]!.filename}`,
    });
    expect(env.progress).toEqual([{ step: 'fetch-metadata', product: PRODUCT, packages: 3 }]);
    // the output is JSON, as a checkpoint keeps it
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('tells an APT release by its .deb packages', async () => {
    env.rt.attach(1, 'release.xml', xmlFor('TESTTP.testpkg.debian12.all', pk().debs));
    expect((await fetchMetadata.run(env.ctx(1))).metadata).toMatchObject({ repoKind: 'apt', targetPlatform: 'debian12' });
  });

  it('RD_ATTACHMENT_MISSING when the ticket has no .xml attachment', async () => {
    env.rt.attach(1, 'notes.txt', 'no metadata here');
    await fails(fetchMetadata.run(env.ctx(1)), 'RD_ATTACHMENT_MISSING');
    expect(env.progress).toEqual([]);
  });

  it('RD_XML_INVALID naming the attachment and line when the metadata breaks a rule', async () => {
    // an rpm needs a release
    env.rt.attach(1, 'mine.xml', xmlFor(PRODUCT, pk().rpms).replace('release="1"', 'release=""'));
    const e = await fails(fetchMetadata.run(env.ctx(1)), 'RD_XML_INVALID');
    expect(e.message).toMatch(/^mine\.xml line \d+: .*testpkg-1\.0\.0-1\.noarch\.rpm.* has an empty release/);
  });

  it('RD_XML_MALFORMED and RD_XML_FORBIDDEN for broken or dangerous XML', async () => {
    env.rt.attach(1, 'release.xml', xmlFor(PRODUCT, pk().rpms).replace('</release:productName>', '</release:productNam>'));
    await fails(fetchMetadata.run(env.ctx(1)), 'RD_XML_MALFORMED');
    env.rt.attach(
      2,
      'release.xml',
      xmlFor(PRODUCT, pk().rpms).replace(
        '<?xml version="1.0" ?>',
        '<?xml version="1.0" ?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
      ),
    );
    await fails(fetchMetadata.run(env.ctx(2)), 'RD_XML_FORBIDDEN');
  });

  it('has nothing to undo: it writes no row and no file', async () => {
    env.rt.attach(1, 'release.xml', xmlFor(PRODUCT, pk().rpms));
    await fetchMetadata.run(env.ctx(1));
    expect(fetchMetadata.undo).toBeUndefined();
    for (const table of ['releases', 'packages', 'blobs', 'stage_members']) expect(await env.db(table).count('* as n')).toEqual([{ n: 0 }]);
  });
});
