import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { BaseRepoCache, RETRY_AFTER_FAILURE_MS } from '../../../services/deps/base-cache.ts';
import { checkDependencies, describeCheck } from '../../../services/deps/check.ts';
import { isRdError } from '../../../services/errors.ts';
import { readPackageHeader, type PackageHeader } from '../../../services/storage/package-header.ts';
import { wakeWaiting } from '../../../workers/engine/waiting.ts';
import { useTestDb } from '../../support/db.ts';
import { buildTestPackages, type TestPackages } from '../../support/packages.ts';
import { startProviderServer, type ProviderServer } from '../../support/provider-server.ts';

/**
 * Base repositories made with the real tools (createrepo_c, apt-ftparchive) from real test packages,
 * served on loopback. The release holds testpkg-dep (needs testpkg = 1.0.0-1); only the base has testpkg.
 */
const run = promisify(execFile);
const t = useTestDb();
let dir: string;
let pkgs: TestPackages;
let server: ProviderServer;
const headers: Record<'rpm' | 'deb', PackageHeader> = {} as never;

async function yumRepo(name: string, compress: string, pkg = 'testpkg') {
  const d = join(dir, 'serve', name);
  await mkdir(join(d, 'Packages'), { recursive: true });
  await copyFile(pkgs.rpm(pkg).path, join(d, 'Packages', pkgs.rpm(pkg).filename));
  await run('createrepo_c', ['--no-database', `--general-compress-type=${compress}`, d]);
}

async function aptRepo(name: string, gz: boolean) {
  const d = join(dir, 'serve', name);
  await mkdir(d, { recursive: true });
  await copyFile(pkgs.deb('testpkg').path, join(d, pkgs.deb('testpkg').filename));
  const { stdout } = await run('apt-ftparchive', ['packages', '.'], { cwd: d });
  await writeFile(join(d, 'Packages'), stdout);
  if (gz) await writeFile(join(d, 'Packages.gz'), gzipSync(stdout));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rd-base-'));
  pkgs = await buildTestPackages(join(dir, 'pkgs'), 3);
  await Promise.all([
    yumRepo('yum', 'gz'),
    yumRepo('yum-xz', 'xz'),
    yumRepo('yum-other', 'gz', 'testpkg-broken'),
    aptRepo('apt', true),
    aptRepo('apt-plain', false),
  ]);
  headers.rpm = await readPackageHeader(pkgs.rpm('testpkg-dep').path, 'rpm');
  headers.deb = await readPackageHeader(pkgs.deb('testpkg-dep').path, 'deb');
  server = await startProviderServer({ dir: join(dir, 'serve') });
});
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

let ticket = 100;
/** An Unverified release of one package, testpkg-dep, of this kind and platform. */
async function release(kind: 'yum' | 'apt', platform: string): Promise<number> {
  const header = kind === 'yum' ? headers.rpm : headers.deb;
  const p = kind === 'yum' ? pkgs.rpm('testpkg-dep') : pkgs.deb('testpkg-dep');
  await t.db('blobs').insert({ sha256: p.sha256, size: p.size }).onConflict('sha256').ignore();
  const [rel] = await t
    .db('releases')
    .insert({
      ticket_id: ++ticket,
      status: 'Unverified',
      product_short_name: `TP.dep.${platform}.${kind}`,
      product_name: 'dep',
      version: '1.0.0',
      platform,
      arch: 'noarch',
      repo_kind: kind,
    })
    .returning('id');
  await t.db('packages').insert({
    release_id: rel.id,
    filename: p.filename,
    pkgname: header.name,
    version: header.version,
    rel: header.release,
    arch: header.arch,
    format: kind === 'yum' ? 'rpm' : 'deb',
    sha256: p.sha256,
    size: p.size,
    header: JSON.stringify(header),
  });
  return rel.id;
}

const config = (env: Record<string, string> = {}) =>
  loadConfig({
    RT_TOKEN: 'test-token-0123456789abcdef',
    WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
    STORAGE_DIR: dir,
    ...env,
  });
const at = (path: string) => `${server.url}/${path}/`;
const check = (id: number, env: Record<string, string>, cache = new BaseRepoCache()) =>
  checkDependencies(t.db, id, 'stage-rollout', config(env), { cache });

describe('base repositories count as provided', () => {
  it('an rpm release whose requirement only a YUM base repository meets is satisfied; without BASE_REPOS it is not', async () => {
    const id = await release('yum', 'el9');
    const without = await check(id, {});
    expect(without.unmet).toEqual([{ package: pkgs.rpm('testpkg-dep').filename, requirement: 'testpkg = 1.0.0-1' }]);
    expect(without.baseRepos).toEqual([]);
    expect(server.requests).toHaveLength(0); // no BASE_REPOS: nothing is fetched
    expect(describeCheck(without)).not.toContain('base repositories');

    const withBase = await check(id, { BASE_REPOS: `el9=yum:${at('yum')}` });
    expect(withBase).toMatchObject({ satisfied: true, unmet: [], baseRepos: [at('yum')] });
    // the loopback host is admitted though ALLOWED_DOWNLOAD_HOSTS is empty: the operator configured it
    expect(config().ALLOWED_DOWNLOAD_HOSTS).toEqual([]);
  });

  it('a deb release against an APT base repository: Packages.gz, or Packages when there is no .gz', async () => {
    const id = await release('apt', 'bookworm');
    expect((await check(id, {})).satisfied).toBe(false);
    expect((await check(id, { BASE_REPOS: `bookworm=apt:${at('apt')}` })).satisfied).toBe(true);
    expect(server.hits('/apt/Packages.gz')).toBe(1);
    expect(server.hits('/apt/Packages')).toBe(0);
    expect((await check(id, { BASE_REPOS: `bookworm=apt:${at('apt-plain')}` })).satisfied).toBe(true);
    expect(server.hits('/apt-plain/Packages.gz')).toBe(1);
    expect(server.hits('/apt-plain/Packages')).toBe(1);
  });

  it("only the release's platform (or *) and only its kind of repository count", async () => {
    const rpm = await release('yum', 'el9');
    const deb = await release('apt', 'bookworm');
    const otherPlatform = await check(rpm, { BASE_REPOS: `el8=yum:${at('yum')}` });
    expect(otherPlatform).toMatchObject({ satisfied: false, baseRepos: [] });
    expect((await check(rpm, { BASE_REPOS: `*=yum:${at('yum')}` })).satisfied).toBe(true);
    expect((await check(rpm, { BASE_REPOS: `EL9=yum:${at('yum')}` })).satisfied).toBe(true); // platforms compare case-blind
    // an apt repository is no base of an rpm release, nor a yum one of a deb release, whatever they hold
    const wrongKind = { BASE_REPOS: `el9=apt:${at('apt')}, bookworm=yum:${at('yum')}` };
    expect(await check(rpm, wrongKind)).toMatchObject({ satisfied: false, baseRepos: [] });
    expect(await check(deb, wrongKind)).toMatchObject({ satisfied: false, baseRepos: [] });
    const both = { BASE_REPOS: `el9=yum:${at('yum')}, bookworm=apt:${at('apt')}` };
    expect(await check(rpm, both)).toMatchObject({ satisfied: true, baseRepos: [at('yum')] });
    expect(await check(deb, both)).toMatchObject({ satisfied: true, baseRepos: [at('apt')] });
  });

  it('says which base repositories were consulted when something is still missing', async () => {
    const id = await release('yum', 'el9');
    const c = await check(id, { BASE_REPOS: `el9=yum:${at('yum-other')}` });
    expect(describeCheck(c)).toBe(
      `stage-rollout: 1 requirement(s) missing:\n  ${pkgs.rpm('testpkg-dep').filename} needs testpkg = 1.0.0-1` +
        `\n  (base repositories consulted: ${at('yum-other')})`,
    );
  });
});

const logLines = () => {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
};

describe('the cache of base repositories', () => {
  it('reads a repository once per refresh interval, shared by concurrent checks; a failed refresh keeps the last good copy', async () => {
    const id = await release('yum', 'el9');
    const repomd = '/yum/repodata/repomd.xml';
    const before = server.hits(repomd);
    let now = 1_000_000;
    const cache = new BaseRepoCache(undefined, () => now);
    const { lines, log } = logLines();
    const cfg = config({ BASE_REPOS: `el9=yum:${at('yum')}`, BASE_REPOS_REFRESH_MS: String(3_600_000) });
    const go = () => checkDependencies(t.db, id, 'production', cfg, { cache, log });

    const both = await Promise.all([go(), go()]); // as plan-promotion checks both stages at once
    expect(both.map((c) => c.satisfied)).toEqual([true, true]);
    expect(server.hits(repomd) - before).toBe(1);
    now += 30 * 60_000;
    expect((await go()).satisfied).toBe(true);
    expect(server.hits(repomd) - before).toBe(1); // within the interval: not fetched again

    const good = await readFile(join(dir, 'serve', 'yum', 'repodata', 'repomd.xml'));
    server.route(repomd, { status: 404 });
    now += 31 * 60_000;
    expect((await go()).satisfied).toBe(true); // the refresh failed: the last good copy still counts
    expect(server.hits(repomd) - before).toBe(2);
    expect(lines.find((l) => l.msg === 'base repository refresh failed; using the last good copy')).toMatchObject({
      level: 40,
      url: at('yum'),
      err: expect.stringContaining('HTTP 404'),
    });
    now += RETRY_AFTER_FAILURE_MS - 1;
    await go();
    expect(server.hits(repomd) - before).toBe(2); // not hammered after a failure either

    server.route(repomd, { body: good });
    now += 2;
    await go();
    expect(server.hits(repomd) - before).toBe(3);
  });

  it('with no copy at all, an unreachable or broken base repository is RD_BASE_REPO_UNAVAILABLE, transient', async () => {
    const id = await release('yum', 'el9');
    const closed = await new Promise<number>((ok) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => ok(port));
      });
    });
    const failures = [
      [`el9=yum:http://127.0.0.1:${closed}/os/`, /base repository http:\/\/127\.0\.0\.1:\d+\/os\/: .*(ECONNREFUSED|connect)/i],
      [`el9=yum:${at('nothing-here')}`, /repomd\.xml answered HTTP 404/],
      [`el9=yum:${at('yum-xz')}`, /xz-compressed; releasedesk on Node .* reads gzip/],
    ] as const;
    for (const [BASE_REPOS, message] of failures) {
      const err = await check(id, { BASE_REPOS }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isRdError(err), BASE_REPOS).toBe(true);
      expect(err).toMatchObject({ code: 'RD_BASE_REPO_UNAVAILABLE', permanent: false });
      expect((err as Error).message).toMatch(message);
    }
  });

  it('refuses a primary.xml whose digest is not the one repomd.xml gives', async () => {
    const id = await release('yum', 'el9');
    const primary = (await readdir(join(dir, 'serve', 'yum', 'repodata'))).find((f) => f.endsWith('primary.xml.gz'))!;
    const path = `/yum/repodata/${basename(primary)}`;
    server.route(path, { body: gzipSync('<metadata/>') });
    try {
      const err = await check(id, { BASE_REPOS: `el9=yum:${at('yum')}` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'RD_BASE_REPO_UNAVAILABLE', message: expect.stringMatching(/sha256/) });
    } finally {
      server.route(path, { body: await readFile(join(dir, 'serve', 'yum', 'repodata', primary)) });
    }
  });

  it('a waiting release whose base repository cannot be read is left waiting; the action that landed does not fail', async () => {
    const landed = await release('yum', 'el9');
    const waiting = await release('yum', 'el9');
    await t
      .db('releases')
      .where({ id: waiting })
      .update({ status: 'Incomplete', requested_action: 'MoveToStageRollOut', product_short_name: 'TP.dep.el9.yum' });
    await t.db('releases').where({ id: landed }).update({ product_short_name: 'TP.dep.el9.yum' });
    const { lines, log } = logLines();
    await expect(wakeWaiting({ db: t.db, config: config({ BASE_REPOS: `el9=yum:${at('gone')}` }) }, landed, log)).resolves.toBe(0);
    expect(lines.find((l) => l.msg === 'cannot re-check a waiting release now')).toMatchObject({
      level: 40,
      err: expect.stringMatching(/HTTP 404/),
    });
  });
});
