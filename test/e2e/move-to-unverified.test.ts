import { readFile, readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RtClient } from '../../services/helpdesk/rt-client.ts';
import { sign } from '../../services/api/signature.ts';
import { reconcileOnce } from '../../workers/reconciler.ts';
import { buildTestPackages, type TestPackages } from '../support/packages.ts';
import { startProviderServer, type ProviderServer } from '../support/provider-server.ts';
import { checkAptRepo, checkYumRepo } from '../support/repo-clients.ts';
import { releaseXml, type XmlPackage } from '../support/release-xml.ts';
import { ensureRtRunning, pointWebhookAt, rtClient } from '../support/rt.ts';
import { E2E_SECRET, startTestService } from '../support/service.ts';

let pkgs: TestPackages;
let provider: ProviderServer;
let svc: Awaited<ReturnType<typeof startTestService>>;
let restoreWebhook: () => Promise<void>;
let rt: RtClient; // the service user, for reading
let prov: RtClient; // provider1: opens tickets and asks for MoveToUnverified
const run = Date.now().toString(36);

beforeAll(async () => {
  await ensureRtRunning();
  pkgs = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs-')), 3);
  provider = await startProviderServer({ dir: pkgs.dir });
  svc = await startTestService({ MAX_DOWNLOAD_BYTES: String(8 * 2 ** 20) });
  restoreWebhook = (await pointWebhookAt(svc.webhookUrl, E2E_SECRET)).restore;
  rt = rtClient('releasedesk');
  prov = rtClient('provider1');
}, 300_000);

afterAll(async () => {
  await restoreWebhook?.();
  await svc?.close();
  await provider?.close();
});

const rpmSpec = (name: string, over: Partial<XmlPackage> = {}): XmlPackage => {
  const p = pkgs.rpm(name);
  return { filename: p.filename, pkgname: name, version: '1.0.0', release: '1', arch: 'noarch', url: `${provider.url}/rpm/${p.filename}`, sha256: p.sha256, ...over };
};
const debSpec = (name: string, over: Partial<XmlPackage> = {}): XmlPackage => {
  const p = pkgs.deb(name);
  return { filename: p.filename, pkgname: name, version: '1.0.0', release: '1', arch: 'all', url: `${provider.url}/deb/${p.filename}`, sha256: p.sha256, ...over };
};

async function openTicket(xml: string | null, subject: string): Promise<number> {
  return prov.createTicket({
    subject: `${subject} ${run}`, requestor: 'provider1', content: 'Please publish.',
    attachments: xml === null ? [] : [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
  });
}

async function waitForStatus(ticket: number, want: string[], ms = 90_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = (await rt.getTicket(ticket)).customFields.RepoStatus?.[0] ?? '';
    if (want.includes(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`ticket ${ticket}: RepoStatus ${last || '(unset)'} after ${ms} ms, wanted ${want.join('|')}`);
}

/** The service's comments on a ticket (each carries its operation marker), oldest first. */
const comments = async (ticket: number) => (await rt.textParts(ticket)).filter((t) => t.includes('-- releasedesk op ')).reverse();

async function waitForComment(ticket: number, re: RegExp, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = (await comments(ticket)).find((c) => re.test(c));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`ticket ${ticket}: no comment matching ${re} within ${ms} ms; have: ${(await comments(ticket)).join('\n---\n')}`);
}

const repoFiles = async (stage: string, product: string) =>
  readdir(path.join(svc.storage, 'repos', stage, product, 'Packages')).catch(() => [] as string[]);

describe('MoveToUnverified from a real RT ticket', () => {
  it('publishes an RPM release that dnf can install from, and writes status, URI and a comment back', async () => {
    const product = `TESTTP.yumtool.${run}`;
    const t = await openTicket(releaseXml({ product, packages: [rpmSpec('testpkg'), rpmSpec('testpkg-dep')] }), 'yum release');
    await prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(t, ['Unverified', 'Failed'])).toBe('Unverified');
    const ticket = await rt.getTicket(t);
    const uri = ticket.customFields.RepoURI?.[0];
    expect(uri).toBe(`${svc.url}/repos/unverified/${product}/`);
    const dnf = await checkYumRepo(uri!, 'testpkg-dep', { RESOLVE: '1' });
    expect(dnf.ok, dnf.output).toBe(true);
    const c = await waitForComment(t, /Unverified repository/);
    expect(c).toContain(pkgs.rpm('testpkg').sha256);
    expect(c).toContain(`${uri}${product}.repo`);
    // RT saw Processing before Unverified, and each write-back once
    const history = await rt.getCustomFieldTransactions(t);
    const statusField = await rt.customFieldId('RepoStatus');
    expect(history.filter((h) => h.field === statusField).map((h) => h.newValue)).toEqual(['Processing', 'Unverified']);
    expect((await comments(t)).filter((x) => /Unverified repository/.test(x))).toHaveLength(1);
    const tr = await svc.db('transitions').where({ ticket_id: t }).orderBy('id');
    expect(tr.map((r) => [r.from_status, r.to_status, r.outcome])).toEqual([['New', 'Unverified', 'ok']]);
  });

  it('publishes a DEB release from a tar.gz bundle that apt can read, reporting extra files', async () => {
    const product = `TESTTP.apttool.${run}`;
    const bundle = await readFile(pkgs.bundle);
    provider.file('/bundle.tar.gz', bundle);
    const { createHash } = await import('node:crypto');
    const xml = releaseXml({
      product, arch: 'all', protocol: 'apt', synchURL: `${provider.url}/bundle.tar.gz`,
      synchSha256: createHash('sha256').update(bundle).digest('hex'),
      packages: [debSpec('testpkg', { url: undefined }), debSpec('testpkg-dep', { url: undefined })],
    });
    const t = await openTicket(xml, 'apt release');
    await prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(t, ['Unverified', 'Failed'])).toBe('Unverified');
    const uri = (await rt.getTicket(t)).customFields.RepoURI?.[0];
    const apt = await checkAptRepo(uri!, 'testpkg-dep', { RESOLVE: '1' });
    expect(apt.ok, apt.output).toBe(true);
    const c = await waitForComment(t, /Unverified repository/);
    expect(c).toMatch(/not name \(not published\): .*testpkg-broken/);
  });
});
