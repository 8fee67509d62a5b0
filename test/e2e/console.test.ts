import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTicket, rpmSpec, useE2E, waitForStatus } from '../support/e2e.ts';
import { releaseXml } from '../support/release-xml.ts';

// The console in Debian's real Chromium, against a service that a real action through RT filled: sign in
// with an RT account, the board, the release page, the health page; no console errors, links that work, and
// no serious accessibility violation (axe-core). Screenshots go to test/output/console/ for review.
const e = useE2E({ PUBLIC_READS: 'false' });
const SHOTS = join(import.meta.dirname, '..', 'output', 'console');
const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ timezoneId: 'Europe/Amsterdam' });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

async function accessible(name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  await page.addScriptTag({ content: await axeSource });
  const result = await page.evaluate(async () =>
    (window as unknown as { axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }> } }).axe.run(),
  );
  const serious = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.nodes.length})`);
  expect(serious, `${name}: serious accessibility violations`).toEqual([]);
}

describe('the console in Chromium', () => {
  it('signs in with an RT account and shows the release that went through RT on the board, its page and the health page', async () => {
    const product = `TESTTP.console.${e.run}`;
    const t = await openTicket(e, releaseXml({ product, packages: [rpmSpec(e, 'testpkg')] }), 'console');
    await e.prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    expect(await waitForStatus(e, t, ['Unverified', 'Failed'])).toBe('Unverified');

    // signed out, the board sends to sign-in; RT checks the password
    await page.goto(`${e.svc.url}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await accessible('login');
    await page.getByLabel('RT user name').fill('tug1');
    await page.getByLabel('Password').fill('tug1-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${e.svc.url}/`);

    // the board: the release in its column, with who asked and its SLA clock
    const unverified = page.locator('section', { has: page.getByRole('heading', { name: /^Unverified/ }) });
    const row = unverified.getByRole('row', { name: new RegExp(String(t)) });
    await expect(row.textContent()).resolves.toContain(product);
    await expect(row.textContent()).resolves.toContain('provider1 (MoveToUnverified)');
    await expect(row.textContent()).resolves.toMatch(/due/);
    await accessible('board');

    // search by package name keeps it; another name does not
    await page.getByLabel('Ticket or package name').fill('testpkg');
    await page.getByRole('button', { name: 'Show' }).click();
    expect(await page.getByRole('link', { name: String(t), exact: true }).count()).toBe(1);

    // the release page: timeline, packages with digests, the RT link; times in the viewer's zone
    await page.getByRole('link', { name: String(t), exact: true }).click();
    await page.waitForURL(`${e.svc.url}/ui/releases/${t}`);
    const text = await page.locator('main').textContent();
    expect(text).toContain('MoveToUnverified');
    expect(text).toContain(e.pkgs.rpm('testpkg').sha256);
    expect(text).toContain('Dependencies for stage-rollout');
    expect(text).toContain('stage-rollout: every requirement is met');
    expect(text).toContain('releasedesk-el9-noarch-unverified.repo');
    expect(await page.locator('time').first().getAttribute('title')).toMatch(/UTC/); // the script ran and localised it
    const rt = await page.getByRole('link', { name: 'Open the RT ticket' }).getAttribute('href');
    expect(rt).toContain(`Display.html?id=${t}`);
    await accessible('release');
    // the links work
    for (const href of await page.locator('main a').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href))) {
      if (href.startsWith(e.svc.url)) expect((await page.request.get(href)).status(), href).toBe(200);
    }

    await page.getByRole('link', { name: 'Health', exact: true }).first().click();
    await page.waitForURL(`${e.svc.url}/ui/health`);
    expect(await page.locator('main').textContent()).toContain('postgres');
    expect(await page.locator('main').textContent()).toMatch(/Action queue: \d+ waiting, \d+ running/);
    await accessible('health');

    // the product page: every revision, the one in Production
    await page.goto(`${e.svc.url}/ui/products/${encodeURIComponent(product)}`);
    expect(await page.locator('main').textContent()).toContain('Unverified');
    await accessible('product');

    // live progress: a release whose package trickles in; the release page's progress moves while it downloads
    const slow = e.pkgs.rpm('testpkg-dep');
    const bytes = await readFile(slow.path);
    e.provider.route(`/slow/${slow.filename}`, { body: bytes, intervalMs: 100, chunkSize: Math.ceil(bytes.length / 50) });
    const t2 = await openTicket(
      e,
      releaseXml({ product: `${product}.slow`, packages: [rpmSpec(e, 'testpkg-dep', { url: `${e.provider.url}/slow/${slow.filename}` })] }),
      'console slow',
    );
    await e.prov.setCustomFields(t2, { RepoAction: 'MoveToUnverified' });
    await waitForStatus(e, t2, ['Processing']);
    await page.goto(`${e.svc.url}/ui/releases/${t2}`);
    const progress = page.locator('#progress .progress-text');
    await progress.waitFor({ timeout: 10_000 });
    const first = await progress.textContent();
    await expect.poll(async () => page.locator('#progress').textContent(), { timeout: 15_000, interval: 200 }).not.toContain(first!);
    await accessible('progress');
    expect(await waitForStatus(e, t2, ['Unverified', 'Failed'])).toBe('Unverified');
    await expect.poll(async () => page.locator('#progress').textContent(), { timeout: 10_000 }).toContain('No action is running');

    await page.getByRole('link', { name: 'Account' }).click();
    expect(await page.locator('main').textContent()).toContain('TechnologyUnit');
    await accessible('account');
    expect(errors).toEqual([]);
  }, 180_000);
});
