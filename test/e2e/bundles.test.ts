import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../services/cli/main.ts';
import { MANIFEST_FILE } from '../../services/bundles/manifest.ts';
import { editReleaseXml } from '../../services/metadata/release-xml-edit.ts';
import { startSigner } from '../../services/signing/signer.ts';
import { dnfSite } from '../support/dnf-site.ts';
import { openTicket, rpmSpec, useE2E, waitForComment, waitForStatus, type E2E } from '../support/e2e.ts';
import { releaseXml } from '../support/release-xml.ts';
import { pointWebhookAt, rtClient } from '../support/rt.ts';
import { E2E_SECRET, startTestService } from '../support/service.ts';
import { packTar, readTar } from '../support/tar.ts';

// Two desks on loopback, one RT: "central" verifies releases, "site-de" imports them as signed bundles on
// tickets of its own, runs its own reviews, and central's tickets hear of it. RT's webhook points at the
// desk whose tickets are being acted on.
const SECRET = 'central-and-site-de-shared-0123456789';
const TOKEN = 'central-operator-token-0123456789';
const e = useE2E({ DESK_NAME: 'central', API_TOKENS: TOKEN });
let site: Awaited<ReturnType<typeof startTestService>>;
let siteE: E2E;
let out: string;
beforeAll(async () => {
  site = await startTestService({
    DESK_NAME: 'site-de',
    PEERS: `central=${e.svc.url}|${SECRET}`,
    TRUSTED_BUNDLE_KEYS: path.join(e.svc.storage, 'keys', 'releasedesk.asc'),
  });
  // central learns where site-de listens (both desks list each other)
  e.svc.config.PEERS.push({ name: 'site-de', url: site.url, secret: SECRET });
  siteE = { ...e, svc: site };
  out = await mkdtemp(path.join(tmpdir(), 'rd-bundles-e2e-'));
}, 120_000);
afterAll(async () => {
  await site?.close();
});

const cli = async (...args: string[]) => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const code = await run(['--url', e.svc.url, '--token', TOKEN, ...args]);
    return { code, text: [...log.mock.calls, ...err.mock.calls].flat().join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
};

async function act(desk: E2E, who: ReturnType<typeof rtClient>, t: number, action: string, want: string) {
  await who.setCustomFields(t, { RepoAction: action });
  expect(await waitForStatus(desk, t, [want, 'Failed'], 90_000)).toBe(want);
}

/** Exports a central ticket with the CLI; gives the bundle's path and the release.xml for site-de's ticket. */
async function exported(ticket: number): Promise<{ bundle: string; xml: string }> {
  const dir = path.join(out, String(ticket));
  const r = await cli('export', String(ticket), '--out', dir);
  expect(r.code, r.text).toBe(0);
  const files = await readdir(dir);
  return {
    bundle: path.join(dir, files.find((f) => f.endsWith('.bundle.tar.gz'))!),
    xml: await readFile(path.join(dir, files.find((f) => f.endsWith('.release.xml'))!), 'utf8'),
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tug1 = () => rtClient('tug1');
const blobCount = async () =>
  (await readdir(path.join(site.storage, 'blobs'), { recursive: true })).filter((f) => /[0-9a-f]{64}$/.test(f)).length;

describe('releases between desks', () => {
  let lone: number; // testpkg-dep alone: needs testpkg
  let whole: number; // testpkg and testpkg-dep
  let loneBundle: { bundle: string; xml: string };
  let wholeBundle: { bundle: string; xml: string };

  it('central verifies two releases and exports them; validate --remote asks site-de, missing reference and then none', async () => {
    lone = await openTicket(e, releaseXml({ product: `TESTTP.lone.${e.run}`, packages: [rpmSpec(e, 'testpkg-dep')] }), 'lone');
    whole = await openTicket(
      e,
      releaseXml({ product: `TESTTP.whole.${e.run}`, packages: [rpmSpec(e, 'testpkg'), rpmSpec(e, 'testpkg-dep')] }),
      'whole',
    );
    await act(e, e.prov, lone, 'MoveToUnverified', 'Unverified');
    await act(e, e.prov, whole, 'MoveToUnverified', 'Unverified');
    loneBundle = await exported(lone);
    wholeBundle = await exported(whole);

    const missing = await cli('validate', String(lone), '--target', 'production', '--remote', 'site-de');
    expect(missing.code, missing.text).toBe(4);
    expect(missing.text).toMatch(/production of desk site-de: 1 requirement\(s\) missing/);
    expect(missing.text).toMatch(/testpkg-dep.*testpkg = 1\.0\.0-1/);
    const met = await cli('validate', String(whole), '--target', 'production', '--remote', 'site-de');
    expect(met.code, met.text).toBe(0);
    expect(met.text).toContain('every requirement is met');
  }, 240_000);

  it('site-de imports, rejects one, publishes the other to Production; central hears of each; dnf installs the same bytes', async () => {
    const { restore } = await pointWebhookAt(site.webhookUrl, E2E_SECRET);
    try {
      const rejected = await openTicket(siteE, loneBundle.xml, 'import lone');
      await act(siteE, e.prov, rejected, 'MoveToUnverified', 'Unverified');
      await act(siteE, tug1(), rejected, 'Reject', 'Rejected');

      const applied = await openTicket(siteE, wholeBundle.xml, 'import whole');
      await act(siteE, e.prov, applied, 'MoveToUnverified', 'Unverified');
      await act(siteE, tug1(), applied, 'MoveToStageRollOut', 'StageRollOut');
      await act(siteE, rtClient('rollout1'), applied, 'MoveToProduction', 'Production');

      // central's tickets, written by central's own outbox
      await waitForComment(e, lone, new RegExp(`"site-de" .* accepted it \\(Unverified\\): its ticket ${rejected} is now Unverified`));
      await waitForComment(e, lone, new RegExp(`"site-de" .* rejected it: its ticket ${rejected} is now Rejected`));
      await waitForComment(e, whole, new RegExp(`"site-de" .* applied it \\(Production\\): its ticket ${applied} is now Production`));

      const here = (await (await fetch(`${site.url}/releases/${applied}`)).json()) as {
        packages: Array<{ filename: string; sha256: string }>;
      };
      const there = (await (await fetch(`${e.svc.url}/releases/${whole}`)).json()) as typeof here;
      expect(here.packages.map((p) => [p.filename, p.sha256])).toEqual(there.packages.map((p) => [p.filename, p.sha256]));
      const dnf = await dnfSite(`${site.url}/repos/dist/yum/el9/noarch/production/`, `${site.url}/keys/releasedesk.asc`);
      try {
        const install = await dnf.dnf('install', 'testpkg-dep');
        expect(install.code, install.output).toBe(0);
      } finally {
        await dnf.close();
      }
    } finally {
      await restore();
    }
  }, 300_000);

  it('a tampered, an unsigned and a foreign-signed bundle fail on the ticket with their code, and nothing is stored', async () => {
    const files = await readTar(await readFile(wholeBundle.bundle));
    const tampered = { ...files };
    const victim = Object.keys(files).find((f) => f.startsWith('packages/'))!;
    tampered[victim] = Buffer.concat([files[victim]!, Buffer.from('x')]);
    const unsigned = { ...files };
    delete unsigned[`${MANIFEST_FILE}.asc`];
    // the same manifest signed by a desk site-de does not trust
    const foreignDir = await mkdtemp(path.join(tmpdir(), 'rd-foreign-'));
    const foreign = await startSigner({ storageDir: foreignDir, keys: [] });
    const manifestFile = path.join(foreignDir, MANIFEST_FILE);
    await writeFile(manifestFile, files[MANIFEST_FILE]!);
    const foreignSigned = { ...files, [`${MANIFEST_FILE}.asc`]: await readFile(await foreign.signFile(manifestFile)) };
    await foreign.stop();
    const { restore } = await pointWebhookAt(site.webhookUrl, E2E_SECRET);
    try {
      for (const [name, content, code] of [
        ['tampered', tampered, 'RD_BUNDLE_TAMPERED'],
        ['unsigned', unsigned, 'RD_BUNDLE_UNSIGNED'],
        ['foreign', foreignSigned, 'RD_BUNDLE_UNTRUSTED'],
      ] as const) {
        const bytes = await packTar(content);
        e.provider.file(`/${name}-${e.run}.tar.gz`, bytes);
        const xml = editReleaseXml(wholeBundle.xml, { synch: { url: `${e.provider.url}/${name}-${e.run}.tar.gz`, sha256: sha(bytes) } });
        const before = await blobCount();
        const t = await openTicket(siteE, xml, name);
        await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
        expect(await waitForStatus(siteE, t, ['Failed', 'Unverified'], 90_000)).toBe('Failed');
        await waitForComment(siteE, t, new RegExp(`\\[${code}\\]`));
        expect(await blobCount()).toBe(before);
      }
    } finally {
      await restore();
    }
  }, 240_000);
});
