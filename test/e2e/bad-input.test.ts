import { readFile } from 'node:fs/promises';
import { run } from '../../services/cli/main.ts';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { comments, filesUnder, openTicket, rpmSpec, useE2E, waitForComment, waitForStatus, type E2E } from '../support/e2e.ts';
import { releaseXml, type XmlPackage } from '../support/release-xml.ts';
import { E2E_TOKEN } from '../support/service.ts';

const e = useE2E();

interface Case {
  name: string;
  xml: (e: E2E, product: string) => string | null;
  code: string;
  /** what the comment must also say: the element and line, the URL and status, the file and digests */
  says: RegExp[];
}

const pkgs = (e: E2E, over: Partial<XmlPackage> = {}) => [rpmSpec(e, 'testpkg', over)];
const good = (e: E2E, product: string, over: Partial<XmlPackage> = {}) => releaseXml({ product, packages: pkgs(e, over) });

const cases: Case[] = [
  { name: 'no release.xml attached', xml: () => null, code: 'RD_ATTACHMENT_MISSING', says: [/\.xml/] },
  {
    name: 'malformed XML',
    xml: (e, p) => good(e, p).replace('</release:productName>', '</release:productNam>'),
    code: 'RD_XML_MALFORMED',
    says: [/line 3\b/],
  },
  {
    name: 'missing required element',
    xml: (e, p) => good(e, p).replace(/\s*<release:productShortName>.*<\/release:productShortName>/, ''),
    code: 'RD_XML_INVALID',
    says: [/productShortName/, /line 2\b/],
  },
  // no digest: a digest already stored (other cases run side by side) is used without a download, by design
  {
    name: 'package 404',
    xml: (e, p) => good(e, p, { url: `${e.provider.url}/rpm/nothing-here.rpm`, sha256: undefined }),
    code: 'RD_DOWNLOAD_FAILED',
    says: [/404/, /nothing-here\.rpm/],
  },
  {
    name: 'digest mismatch',
    xml: (e, p) => good(e, p, { sha256: '0'.repeat(64) }),
    code: 'RD_DIGEST_MISMATCH',
    says: [/testpkg-1\.0\.0-1\.noarch\.rpm/, /expected 0{64}/],
  },
  {
    name: 'header disagreeing with the XML',
    xml: (e, p) => good(e, p, { version: '9.9' }),
    code: 'RD_PACKAGE_MISMATCH',
    says: [/version/, /9\.9/],
  },
];

describe('bad input ends as Failed with a clear comment, and loses nothing', () => {
  it('every case, side by side', async () => {
    const tickets = await Promise.all(
      cases.map(async (c, i) => {
        const product = `TESTTP.bad${i}.${e.run}`;
        const t = await openTicket(e, c.xml(e, product), `bad input: ${c.name}`);
        await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
        return { c, t, product };
      }),
    );
    for (const { c, t, product } of tickets) {
      expect(await waitForStatus(e, t, ['Failed', 'Unverified'], 120_000), c.name).toBe('Failed');
      const comment = await waitForComment(e, t, new RegExp(`\\[${c.code}\\]`));
      for (const re of c.says) expect(comment, `${c.name}: ${comment}`).toMatch(re);
      expect(comment, c.name).toMatch(/What to do: /);
      // nothing published, nothing recorded for it
      expect(await filesUnder(path.join(e.svc.storage, 'repos', 'unverified', product)), c.name).toEqual([]);
      const rel = await e.svc.db('releases').where({ ticket_id: t }).first();
      expect(rel.status, c.name).toBe('Failed');
      expect(await e.svc.db('packages').where({ release_id: rel.id }), c.name).toEqual([]);
      const tr = await e.svc.db('transitions').where({ ticket_id: t });
      expect(
        tr.map((r) => [r.outcome, r.code]),
        c.name,
      ).toEqual([['failed', c.code]]);
    }
    // no scratch left, no blob that no release references (escapes, bombs and hostile URLs: test/hostile/)
    expect(await filesUnder(path.join(e.svc.storage, 'tmp'))).toEqual([]);
    const referenced = new Set((await e.svc.db('packages').select('sha256')).map((r) => r.sha256));
    const blobs = (await filesUnder(path.join(e.svc.storage, 'blobs'))).map((f) => path.basename(f));
    expect(blobs.filter((b) => !referenced.has(b))).toEqual([]);
  }, 300_000);

  it('a Failed release starts over with a corrected release.xml', async () => {
    const product = `TESTTP.retry.${e.run}`;
    const t = await openTicket(e, good(e, product, { sha256: 'f'.repeat(64) }), 'fix and retry');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    await waitForStatus(e, t, ['Failed']);
    // the provider attaches the corrected file to the same ticket; the newest release.xml counts
    await e.prov.session.request({
      method: 'POST',
      path: `/ticket/${t}/comment`,
      body: {
        Content: 'corrected release.xml',
        ContentType: 'text/plain',
        Attachments: [
          { FileName: 'release.xml', FileType: 'application/xml', FileContent: Buffer.from(good(e, product)).toString('base64') },
        ],
      },
    });
    await e.prov.setCustomFields(t, { RepoAction: '' });
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified'], 60_000)).toBe('Unverified');
  }, 120_000);

  it('a download host down for a while: the ticket says so once, with the cause, and the action goes on by itself', async () => {
    const product = `TESTTP.flaky.${e.run}`;
    const p = e.pkgs.rpm('testpkg');
    const where = `/flaky-${e.run}/${p.filename}`;
    // one job attempt makes four requests (the download's own retries): the first attempt fails, the second succeeds
    e.provider.route(where, { body: await readFile(p.path), failFirst: 4, failStatus: 503 });
    const t = await openTicket(e, good(e, product, { url: `${e.provider.url}${where}`, sha256: undefined }), 'flaky host');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'], 90_000)).toBe('Unverified');
    await waitForComment(e, t, /Unverified repository/); // delivered after the status
    const said = await comments(e, t);
    expect(said).toHaveLength(2);
    expect(said[0]).toMatch(
      /^MoveToUnverified has not succeeded yet; releasedesk tries again by itself for about 17 minutes\.\n\n\[RD_DOWNLOAD_UNAVAILABLE\] .*503/,
    );
    expect(said[0]).toContain(where);
    expect(said[1]).toMatch(/is in the Unverified repository/);
    expect(e.provider.hits(where)).toBe(5);
  }, 120_000);

  it('releasedesk retry re-runs the failed action once the provider fixed the download', async () => {
    const product = `TESTTP.retrycli.${e.run}`;
    const p = e.pkgs.rpm('testpkg');
    // no digest in the XML: with one, the blob already stored from other tests would be used without a download
    const t = await openTicket(e, good(e, product, { url: `${e.provider.url}/late/${p.filename}`, sha256: undefined }), 'retry after 404');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    await waitForStatus(e, t, ['Failed']);
    e.provider.file(`/late/${p.filename}`, await readFile(p.path));
    const log = console.log;
    console.log = () => undefined;
    try {
      expect(await run(['--url', e.svc.url, '--token', E2E_TOKEN, 'retry', String(t)])).toBe(0);
    } finally {
      console.log = log;
    }
    expect(await waitForStatus(e, t, ['Unverified'], 60_000)).toBe('Unverified');
    const tr = await e.svc.db('transitions').where({ ticket_id: t }).orderBy('id');
    expect(tr.map((r) => [r.outcome, r.to_status])).toEqual([
      ['failed', 'Failed'],
      ['ok', 'Unverified'],
    ]);
  }, 120_000);
});
