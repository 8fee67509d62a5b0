import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../services/cli/main.ts';
import type { DriftReport } from '../../services/drift/check.ts';
import { poolHref } from '../../services/storage/dist-ref.ts';
import { openTicket, rpmSpec, useE2E, waitForStatus } from '../support/e2e.ts';
import { releaseXml } from '../support/release-xml.ts';
import { rtClient } from '../support/rt.ts';

// Drift on a desk the real workflow filled through RT: no false alarm on what it published, a RepoStatus
// changed by hand in RT written back, and a package file changed on disk named and left alone.
const TOKEN = 'drift-operator-token-0123456789';
const e = useE2E({ API_TOKENS: TOKEN, DRIFT_INTERVAL_MS: '0' });

const check = async (deep = false): Promise<DriftReport> => {
  const res = await fetch(`${e.svc.url}/drift/check${deep ? '?deep=1' : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()).report;
};

describe('drift', () => {
  it('finds nothing on what the workflow published, writes back a RepoStatus changed in RT, names a changed file', async () => {
    const product = `TESTTP.drift.${e.run}`;
    const pkg = rpmSpec(e, 'testpkg');
    const t = await openTicket(e, releaseXml({ product, packages: [pkg] }), 'drift');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');
    await new Promise((r) => setTimeout(r, 500)); // the last write-backs delivered

    const clean = await check(true);
    expect(clean.items.filter((i) => i.ticket === t || i.where.includes(product))).toEqual([]);
    expect(clean.checked.repositories).toBeGreaterThanOrEqual(2); // the product's and the distribution
    expect(clean.checked.tickets).toBeGreaterThanOrEqual(1);

    // someone sets RepoStatus by hand: the record is the truth, the field is written again
    await rtClient('root').setCustomFields(t, { RepoStatus: 'Production' });
    const found = await check();
    const mine = found.items.find((i) => i.ticket === t)!;
    expect(mine).toMatchObject({
      kind: 'ticket-fields',
      expected: 'RepoStatus=Unverified',
      actual: 'RepoStatus=Production',
      repaired: true,
    });
    expect(await waitForStatus(e, t, ['Unverified'], 30_000)).toBe('Unverified');

    // a package file changed on disk behind releasedesk's back (same size): named by a deep check, not overwritten
    const file = join(e.svc.config.STORAGE_DIR, 'repos', 'dist', poolHref(pkg.sha256!, pkg.filename));
    const bytes = await readFile(file);
    const changed = Buffer.from(bytes);
    changed[changed.length - 1] = (changed[changed.length - 1]! + 1) % 256;
    await chmod(file, 0o644);
    await writeFile(file, changed);
    const deep = await check(true);
    const named = deep.items.filter((i) => i.kind === 'file-changed' && i.where.endsWith(`/${pkg.sha256}/${pkg.filename}`));
    expect(named.length).toBeGreaterThanOrEqual(1);
    expect(named[0]!.expected).toBe(`sha256 ${pkg.sha256}`);
    expect(await readFile(file)).toEqual(changed);
    expect((await check(false)).items.filter((i) => i.kind === 'file-changed' && i.where.includes(pkg.sha256!))).toEqual([]); // sizes agree

    // the CLI shows the last report and says so by its exit code
    const printed: string[] = [];
    const log = console.log;
    console.log = (s: string) => void printed.push(s);
    try {
      expect(await run(['--url', e.svc.url, 'drift'])).toBe(0); // the last check (sizes only) found none
      expect(await run(['--url', e.svc.url, '--token', TOKEN, 'drift', '--now', '--deep'])).toBe(5);
    } finally {
      console.log = log;
    }
    expect(printed.join('\n')).toMatch(/file-changed/);
    await writeFile(file, bytes);
    await chmod(file, 0o444);
  }, 180_000);
});
