import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSigner, type Signer } from '../../../services/signing/signer.ts';
import { BlobStore } from '../../../services/storage/blobs.ts';
import { publishDistribution } from '../../../services/storage/dist-publish.ts';
import { makeIndexEntries } from '../../../services/storage/index-entries.ts';
import { readPackageHeader } from '../../../services/storage/package-header.ts';
import { buildUpdateinfo, type Advisory } from '../../../services/storage/updateinfo.ts';
import { dnfSite, type DnfSite } from '../../support/dnf-site.ts';
import { adoptTestPackages, buildTestPackages, type TestPackage } from '../../support/packages.ts';
import { serveStorage, type StaticServer } from '../../support/repo-clients.ts';

// Advisories as a site sees them with the real dnf: a Production distribution carries updateinfo.xml, and
// a host that has the older version installed lists the newer release's advisory and reads it.
let root: string;
let server: StaticServer;
let signer: Signer;
let site: DnfSite;

const advisory = async (ticketId: number, pkgs: TestPackage[], o: Partial<Advisory>): Promise<Advisory> => ({
  ticketId,
  ticketUrl: `http://rt.example/Ticket/Display.html?id=${ticketId}`,
  productName: 'Test Package',
  productShortName: 'TESTTP.testpkg.el9.noarch',
  version: '1.0.0',
  releaseNotes: '',
  changeLog: '',
  emergency: false,
  isoDate: '20261203',
  packages: await Promise.all(
    pkgs.map(async (p) => {
      const h = await readPackageHeader(p.path, 'rpm');
      return {
        name: h.name,
        epoch: h.epoch ?? 0,
        version: h.version,
        release: h.release,
        arch: h.arch,
        filename: p.filename,
        sha256: p.sha256,
      };
    }),
  ),
  ...o,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'rd-updateinfo-'));
  const storageDir = join(root, 'storage');
  const [v1, v2] = await Promise.all([
    buildTestPackages(join(root, 'v1'), 3),
    buildTestPackages(join(root, 'v2'), 3, { version: '1.0.1' }),
  ]);
  const store = new BlobStore(storageDir);
  await store.init();
  const one = [v1.rpm('testpkg')];
  const two = [v2.rpm('testpkg')];
  const entries = [
    ...(await makeIndexEntries(storageDir, 'yum', await adoptTestPackages(store, one), {
      tmpDir: join(storageDir, 'tmp'),
      timeoutMs: 60_000,
    })),
    ...(await makeIndexEntries(storageDir, 'yum', await adoptTestPackages(store, two), {
      tmpDir: join(storageDir, 'tmp'),
      timeoutMs: 60_000,
    })),
  ];
  const xml = buildUpdateinfo('RD', [
    await advisory(41, one, { releaseNotes: 'First release.' }),
    await advisory(42, two, {
      version: '1.0.1',
      emergency: true,
      releaseNotes: 'Fixes CVE-2026-0001 <in the parser> & more.',
      changeLog: '- parser: bounds check\n- docs',
    }),
  ]);
  signer = await startSigner({ storageDir, keys: [] });
  server = await serveStorage(storageDir);
  const r = await publishDistribution({ stage: 'production', kind: 'yum', platform: 'el9', arch: 'noarch' }, entries, {
    storageDir,
    publicUrl: server.url,
    signer,
    extras: [{ type: 'updateinfo', xml }],
  });
  site = await dnfSite(r.url, join(storageDir, 'keys', 'releasedesk.asc'));
}, 120_000);
afterAll(async () => {
  await site?.close();
  await server?.close();
  await signer?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('dnf updateinfo on a Production distribution', () => {
  it('a host with the older version installed lists the newer release as a security advisory', async () => {
    const install = await site.dnf('install', 'testpkg-1.0.0');
    expect(install.code, install.output).toBe(0);
    const list = await site.dnf('updateinfo', 'list');
    expect(list.code, list.output).toBe(0);
    expect(list.output).toMatch(/RD-2026-42\s+Important\/Sec\.\s+testpkg-1\.0\.1-1\.noarch/);
    expect(list.output).not.toContain('RD-2026-41'); // installed already: nothing to tell
    const all = await site.dnf('updateinfo', 'list', '--all');
    expect(all.output).toContain('RD-2026-41');
  });

  it('dnf updateinfo info shows the title, the type, the release notes, the change log and the ticket', async () => {
    const info = await site.dnf('updateinfo', 'info', 'RD-2026-42');
    expect(info.code, info.output).toBe(0);
    expect(info.output).toMatch(/Test Package 1\.0\.1/);
    expect(info.output).toMatch(/Type\s*:\s*security/);
    expect(info.output).toMatch(/Severity\s*:\s*Important/);
    expect(info.output).toContain('Fixes CVE-2026-0001 <in the parser> & more.');
    expect(info.output).toContain('- parser: bounds check');
    expect(info.output).toContain('Release ticket: #42 http://rt.example/Ticket/Display.html?id=42');
  });
});
