import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { RtClient } from '../../services/helpdesk/rt-client.ts';
import type { Config } from '../../config/index.ts';
import { buildTestPackages, type TestPackages } from './packages.ts';
import { startProviderServer, type ProviderServer } from './provider-server.ts';
import type { XmlPackage } from './release-xml.ts';
import { ensureRtRunning, pointWebhookAt, rtClient } from './rt.ts';
import { E2E_SECRET, startTestService } from './service.ts';

export interface E2E {
  pkgs: TestPackages;
  provider: ProviderServer;
  svc: Awaited<ReturnType<typeof startTestService>>;
  rt: RtClient;
  prov: RtClient;
  run: string;
}

/**
 * The real thing for one test file: RT (started and seeded if needed) posting to a releasedesk on a
 * free loopback port, a loopback provider serving freshly built RPM/DEB packages.
 */
/** `over` may be a function: settings known only once an earlier beforeAll ran (a server's port). */
export function useE2E(
  over: Partial<Record<keyof Config, string>> | (() => Partial<Record<keyof Config, string>>) = {},
  role: 'all' | 'api' = 'all',
): E2E {
  const ctx = { run: Date.now().toString(36) } as E2E;
  let restore: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    await ensureRtRunning();
    ctx.pkgs = await buildTestPackages(await mkdtemp(path.join(tmpdir(), 'rd-pkgs-')), 3);
    ctx.provider = await startProviderServer({ dir: ctx.pkgs.dir });
    ctx.svc = await startTestService({ MAX_DOWNLOAD_BYTES: String(8 * 2 ** 20), ...(typeof over === 'function' ? over() : over) }, role);
    restore = (await pointWebhookAt(ctx.svc.webhookUrl, E2E_SECRET)).restore;
    ctx.rt = rtClient('releasedesk');
    ctx.prov = rtClient('provider1');
  }, 300_000);
  afterAll(async () => {
    await restore?.();
    await ctx.svc?.close();
    await ctx.provider?.close();
  });
  return ctx;
}

export const rpmSpec = (e: E2E, name: string, over: Partial<XmlPackage> = {}): XmlPackage => {
  const p = e.pkgs.rpm(name);
  return {
    filename: p.filename,
    pkgname: name,
    version: '1.0.0',
    release: '1',
    arch: 'noarch',
    url: `${e.provider.url}/rpm/${p.filename}`,
    sha256: p.sha256,
    ...over,
  };
};
export const debSpec = (e: E2E, name: string, over: Partial<XmlPackage> = {}): XmlPackage => {
  const p = e.pkgs.deb(name);
  return {
    filename: p.filename,
    pkgname: name,
    version: '1.0.0',
    release: '1',
    arch: 'all',
    url: `${e.provider.url}/deb/${p.filename}`,
    sha256: p.sha256,
    ...over,
  };
};

/** provider1 opens a ticket in the release queue, with release.xml attached unless xml is null. */
export function openTicket(e: E2E, xml: string | null, subject: string): Promise<number> {
  return e.prov.createTicket({
    subject: `${subject} ${e.run}`,
    requestor: 'provider1',
    content: 'Please publish.',
    attachments: xml === null ? [] : [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
  });
}

export const repoStatus = async (e: E2E, ticket: number) => (await e.rt.getTicket(ticket)).customFields.RepoStatus?.[0] ?? '';

export async function waitForStatus(e: E2E, ticket: number, want: string[], ms = 90_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    last = await repoStatus(e, ticket);
    if (want.includes(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`ticket ${ticket}: RepoStatus ${last || '(unset)'} after ${ms} ms, wanted ${want.join('|')}`);
}

/** The service's comments on a ticket (each carries its operation marker), oldest first. */
export const comments = async (e: E2E, ticket: number) =>
  (await e.rt.textParts(ticket)).filter((t) => t.includes('-- releasedesk op ')).reverse();

export async function waitForComment(e: E2E, ticket: number, re: RegExp, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const found = (await comments(e, ticket)).find((c) => re.test(c));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`ticket ${ticket}: no comment matching ${re} within ${ms} ms; have:\n${(await comments(e, ticket)).join('\n---\n')}`);
}

/** Every file under a directory, relative, sorted ([] when it does not exist). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const ent of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The ticket's RepoStatus values as RT recorded them, in transaction order. */
export async function statusHistory(e: E2E, ticket: number): Promise<string[]> {
  const field = await e.rt.customFieldId('RepoStatus');
  return (await e.rt.getCustomFieldTransactions(ticket)).filter((h) => h.field === field).map((h) => h.newValue ?? '');
}

/**
 * The final statuses RT recorded, in order. Each comes after its Processing unless the outbox was behind and
 * wrote both in one call; a Processing with no final status after it is an error.
 */
export async function finalStatuses(e: E2E, ticket: number): Promise<string[]> {
  const h = await statusHistory(e, ticket);
  if (h.some((s, i) => s === 'Processing' && (i === h.length - 1 || h[i + 1] === 'Processing'))) {
    throw new Error(`ticket ${ticket}: RT shows a Processing with no final status after it: ${h.join(' -> ')}`);
  }
  return h.filter((s) => s !== 'Processing');
}

/** The operation marker of every service comment on the ticket, oldest first (a marker twice = posted twice). */
export const opMarkers = async (e: E2E, ticket: number): Promise<string[]> =>
  (await comments(e, ticket)).flatMap((c) => [...c.matchAll(/^-- releasedesk op (\S+)$/gm)].map((m) => m[1]!));

/** Who asks for what in the fault suites, and the RepoStatus each step ends in. */
export type Who = 'provider1' | 'tug1' | 'rollout1';
export interface Step {
  action: string;
  who: Who;
  want: string;
}
export const STEP = {
  U: { action: 'MoveToUnverified', who: 'provider1', want: 'Unverified' },
  S: { action: 'MoveToStageRollOut', who: 'tug1', want: 'StageRollOut' },
  P: { action: 'MoveToProduction', who: 'rollout1', want: 'Production' },
  R: { action: 'Reject', who: 'tug1', want: 'Rejected' },
  /** Deprecate, by either group */
  D: (who: 'tug1' | 'rollout1'): Step => ({ action: 'Deprecate', who, want: 'Deprecated' }),
} as const satisfies Record<string, Step | ((who: 'tug1' | 'rollout1') => Step)>;
