/**
 * Distribution repositories (no RT; real PostgreSQL, gpg, apt-ftparchive, createrepo_c, aptly):
 *  1. O(change): a 1-package release entering a distribution that already holds `small`, then `big` packages
 *     of other products (publishView, as MoveToUnverified does: its product repository, then the
 *     distribution, signed, swapped, membership recorded). Median of 5; the ratio big/small must stay far
 *     below big/small itself.
 *  2. Promotion vs aptly: `promote` real .debs of one release move from Unverified into a Stage-Rollout
 *     distribution of `big` real .debs of other products (promoteInto + withdrawFromSource: both stages'
 *     product repository and distribution, signed) against aptly `repo move` + `publish update` of both
 *     repositories, signed, on the same .deb files in the same run.
 *   node bench/dist.ts [small=1000] [big=10000] [promote=1000]
 * .debs are made with dpkg-deb and kept in var/bench-cache/debs/ for the next run.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadConfig } from '../config/index.ts';
import { saveEntries } from '../services/db/index-entries.ts';
import { createDb, dropDatabase, ensureDatabase, migrate, type Db } from '../services/db/knex.ts';
import { createLogger } from '../services/log.ts';
import { startSigner, type Signer } from '../services/signing/signer.ts';
import { BlobStore } from '../services/storage/blobs.ts';
import { makeIndexEntries, type IndexEntry } from '../services/storage/index-entries.ts';
import type { RepoKind, Stage } from '../services/storage/repo-ref.ts';
import type { StepContext } from '../workers/engine/step.ts';
import { Timings } from '../workers/engine/timings.ts';
import { publishView } from '../workers/steps/views.ts';
import { adoptTestPackages, buildTestPackages } from '../test/support/packages.ts';
import { median } from './stats.ts';

const exec = promisify(execFile);
const small = Number(process.argv[2] ?? 1000);
const big = Number(process.argv[3] ?? 10000);
const promote = Number(process.argv[4] ?? 1000);
const root = path.resolve(import.meta.dirname, '..');
const ms = (v: number) => `${v.toFixed(0)} ms`;
const log = createLogger('silent');
const BASE_DB = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/releasedesk_bench_dist';

interface Env {
  db: Db;
  storageDir: string;
  signer: Signer;
  ctx(releaseId: number): StepContext;
}

async function environment(work: string, signer: Signer, storageDir = path.join(work, 'storage')): Promise<Env> {
  await dropDatabase(BASE_DB);
  await ensureDatabase(BASE_DB);
  const db = createDb(BASE_DB);
  await migrate(db);
  await new BlobStore(storageDir).init();
  const config = loadConfig({
    RT_TOKEN: 'x'.repeat(20),
    WEBHOOK_SECRET: 'y'.repeat(20),
    STORAGE_DIR: storageDir,
    PUBLIC_URL: 'http://127.0.0.1:1',
  });
  const ctx = (releaseId: number) =>
    ({
      deps: { db, config, signer, rt: undefined, metrics: undefined },
      log,
      ticketId: releaseId,
      inboxId: releaseId,
      releaseId,
      timings: new Timings(),
      progress: async () => undefined,
    }) as unknown as StepContext;
  return { db, storageDir, signer, ctx };
}

/** Inserts a release shown in `stages` with these packages and their recorded entries. */
async function seed(env: Env, ticket: number, product: string, kind: RepoKind, entries: IndexEntry[], stages: Stage[]): Promise<number> {
  const [{ id }] = await env
    .db('releases')
    .insert({ ticket_id: ticket, status: 'Unverified', product_short_name: product, repo_kind: kind, platform: 'bench', arch: 'x86_64' })
    .returning('id');
  const names = entries.map((e) => e.filename);
  for (let i = 0; i < entries.length; i += 1000) {
    const part = entries.slice(i, i + 1000);
    await env
      .db('blobs')
      .insert(part.map((e) => ({ sha256: e.sha256, size: 1 })))
      .onConflict('sha256')
      .ignore();
    await env.db('packages').insert(
      part.map((e, j) => ({
        release_id: id,
        filename: names[i + j],
        pkgname: names[i + j]!.split(/[_-]/)[0],
        version: '1',
        rel: '1',
        arch: 'x86_64',
        format: kind === 'yum' ? 'rpm' : 'deb',
        sha256: e.sha256,
        size: 1,
        header: '{}',
      })),
    );
  }
  await saveEntries(env.db, entries);
  for (const stage of stages) await env.db('stage_members').insert({ release_id: id, stage });
  return id;
}

// ---------- part 1: one package into small and big ----------

/** `n` entries like `model`'s, each renamed (valid index text, distinct names and digests). */
function clones(model: IndexEntry, n: number, tag: string): IndexEntry[] {
  const plain = model.parts.map((p) => gunzipSync(p).toString('utf8'));
  const name = model.filename.split(/[_-]/)[0]!;
  return Array.from({ length: n }, (_, i) => {
    const as = `${tag}${i}x`;
    const sha256 = createHash('sha256').update(`${tag}/${i}`).digest('hex');
    return {
      sha256,
      filename: model.filename.replace(name, as),
      kind: model.kind,
      parts: plain.map((t) => gzipSync(t.replaceAll(name, as).replaceAll(model.sha256, sha256))),
    };
  });
}

async function oneIntoMany(work: string, signer: Signer, kind: RepoKind): Promise<Record<number, number>> {
  const pk = await buildTestPackages(path.join(work, `one-${kind}`), 3);
  const out: Record<number, number> = {};
  for (const n of [small, big]) {
    const env = await environment(path.join(work, `${kind}-${n}`), signer);
    const store = new BlobStore(env.storageDir);
    const [pkg] = await adoptTestPackages(store, kind === 'yum' ? [pk.rpm('testpkg')] : [pk.deb('testpkg')]);
    const [model] = await makeIndexEntries(env.storageDir, kind, [pkg!], { tmpDir: path.join(env.storageDir, 'tmp'), timeoutMs: 60_000 });
    const perProduct = 100;
    const many = clones(model!, n, 'm');
    for (let i = 0; i < n; i += perProduct)
      await seed(env, 100_000 + i, `BENCH.p${i}`, kind, many.slice(i, i + perProduct), ['unverified']);
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      const id = await seed(env, 1 + r, `BENCH.new${r}`, kind, [{ ...model!, filename: pkg!.filename }], []);
      const t0 = performance.now();
      await publishView(env.ctx(id), 'unverified', `BENCH.new${r}`, kind, { include: id });
      times.push(performance.now() - t0);
    }
    out[n] = median(times);
    await env.db.destroy();
  }
  return out;
}

// ---------- part 2: promotion of `promote` debs into `big`, vs aptly ----------

/** n real .debs named <prefix>NNNNN, made with dpkg-deb two at a time, cached. */
async function debs(prefix: string, n: number): Promise<string> {
  const dir = path.join(root, 'var', 'bench-cache', 'debs', `${prefix}-${n}`);
  if ((await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.deb')).length === n) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const src = await mkdtemp(path.join(tmpdir(), 'rd-bench-deb-'));
  let next = 0;
  const work = async () => {
    for (let i = next++; i < n; i = next++) {
      const name = `${prefix}${String(i).padStart(5, '0')}`;
      const d = path.join(src, name);
      await mkdir(path.join(d, 'DEBIAN'), { recursive: true });
      await mkdir(path.join(d, 'usr', 'share', 'rd-bench'), { recursive: true });
      await writeFile(
        path.join(d, 'DEBIAN', 'control'),
        `Package: ${name}\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: bench <bench@example.invalid>\nDescription: releasedesk bench package ${name}\n`,
      );
      await writeFile(path.join(d, 'usr', 'share', 'rd-bench', name), `${name}\n`);
      await exec('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', d, path.join(dir, `${name}_1.0-1_amd64.deb`)]);
      await rm(d, { recursive: true });
    }
  };
  await Promise.all([work(), work()]);
  await rm(src, { recursive: true, force: true });
  return dir;
}

async function adoptDir(store: BlobStore, dir: string) {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.deb')).sort();
  return adoptTestPackages(
    store,
    await Promise.all(
      files.map(async (f) => {
        const p = path.join(dir, f);
        const bytes = await readFile(p);
        return { name: f, filename: f, path: p, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
      }),
    ),
  );
}

async function ours(work: string, signer: Signer, bigDir: string, relDir: string): Promise<{ ms: number; staged: number; left: number }> {
  const env = await environment(work, signer);
  const store = new BlobStore(env.storageDir);
  const entryOpts = { tmpDir: path.join(env.storageDir, 'tmp'), timeoutMs: 600_000 };
  const bigPkgs = await adoptDir(store, bigDir);
  const relPkgs = await adoptDir(store, relDir);
  const bigEntries = await makeIndexEntries(env.storageDir, 'apt', bigPkgs, entryOpts);
  const relEntries = await makeIndexEntries(env.storageDir, 'apt', relPkgs, entryOpts);
  // other products already in Stage-Rollout, 1,000 packages each; the release in Unverified, both published
  const perProduct = 1000;
  for (let i = 0; i < bigEntries.length; i += perProduct) {
    const product = `BENCH.other${i / perProduct}`;
    const id = await seed(env, 100_000 + i, product, 'apt', bigEntries.slice(i, i + perProduct), []);
    await publishView(env.ctx(id), 'stage-rollout', product, 'apt', { include: id });
  }
  const rel = await seed(env, 1, 'BENCH.release', 'apt', relEntries, []);
  await publishView(env.ctx(rel), 'unverified', 'BENCH.release', 'apt', { include: rel });
  const t0 = performance.now();
  const into = await publishView(env.ctx(rel), 'stage-rollout', 'BENCH.release', 'apt', { include: rel });
  const out = await publishView(env.ctx(rel), 'unverified', 'BENCH.release', 'apt', { exclude: rel });
  const took = performance.now() - t0;
  const parts = (p: typeof into) => `product repository ${ms(p.durationMs - p.dist.durationMs)}, distribution ${ms(p.dist.durationMs)}`;
  console.log(`  releasedesk into Stage-Rollout: ${parts(into)}; out of Unverified: ${parts(out)}`);
  const count = async (stage: Stage) => {
    const gz = await readFile(
      path.join(env.storageDir, 'repos', 'dist', 'apt', 'bench', 'dists', stage, 'main', 'binary-amd64', 'Packages.gz'),
    ).catch(() => null);
    return gz
      ? (
          gunzipSync(gz)
            .toString('utf8')
            .match(/^Package: /gm) ?? []
        ).length
      : 0;
  };
  const result = { ms: took, staged: await count('stage-rollout'), left: await count('unverified') };
  await env.db.destroy();
  return result;
}

async function aptly(work: string, bigDir: string, relDir: string, gnupg: string, keyId: string) {
  const conf = path.join(work, 'aptly.conf');
  const rootDir = path.join(work, 'aptly');
  await writeFile(
    conf,
    JSON.stringify({ rootDir, architectures: ['amd64'], skipContentsPublishing: true, skipBz2Publishing: true, gpgProvider: 'gpg' }),
  );
  const env = { ...process.env, GNUPGHOME: gnupg };
  const run = (...args: string[]) => exec('aptly', [`-config=${conf}`, ...args], { maxBuffer: 2 ** 26, env });
  const sign = [`-gpg-key=${keyId}`, '-batch'];
  await run('repo', 'create', '-distribution=unverified', '-component=main', 'unverified');
  await run('repo', 'create', '-distribution=stage-rollout', '-component=main', 'stage-rollout');
  await run('repo', 'add', 'stage-rollout', bigDir);
  await run('repo', 'add', 'unverified', relDir);
  await run('publish', 'repo', ...sign, 'unverified');
  await run('publish', 'repo', ...sign, 'stage-rollout');
  const t0 = performance.now();
  await run('repo', 'move', 'unverified', 'stage-rollout', 'Name (% rel*)');
  await run('publish', 'update', ...sign, 'stage-rollout');
  await run('publish', 'update', ...sign, 'unverified');
  const took = performance.now() - t0;
  const count = async (dist: string) =>
    ((await readFile(path.join(rootDir, 'public', 'dists', dist, 'main', 'binary-amd64', 'Packages'), 'utf8')).match(/^Package: /gm) ?? [])
      .length;
  const signed = await stat(path.join(rootDir, 'public', 'dists', 'stage-rollout', 'InRelease')).then(() => true);
  return { ms: took, staged: await count('stage-rollout'), left: await count('unverified'), signed };
}

/** aptly signs with a key in a GNUPGHOME: an RSA-3072 key without passphrase, as releasedesk's default. */
async function aptlyKey(work: string): Promise<{ gnupg: string; keyId: string }> {
  const gnupg = path.join(work, 'gnupg');
  await mkdir(gnupg, { mode: 0o700 });
  const gpg = (...args: string[]) => exec('gpg', ['--homedir', gnupg, '--batch', ...args]);
  await gpg('--passphrase', '', '--quick-gen-key', 'aptly bench <bench@example.invalid>', 'rsa3072', 'sign', '1y');
  const { stdout } = await gpg('--with-colons', '--list-secret-keys');
  return { gnupg, keyId: /^fpr:+([0-9A-F]{40}):/m.exec(stdout)![1]! };
}

async function main() {
  await exec('aptly', ['version']).catch(() => {
    throw new Error('aptly is missing: apt-get install -y aptly (bench/run.sh does)');
  });
  const work = await mkdtemp(path.join(tmpdir(), 'rd-bench-dist-'));
  const signer = await startSigner({ storageDir: path.join(work, 'signing'), keys: [] });
  try {
    console.log(`## 1. one package into a distribution of ${small} and of ${big} (publishView, signed; median of 5)`);
    for (const kind of ['yum', 'apt'] as const) {
      const t = await oneIntoMany(work, signer, kind);
      console.log(
        `  ${kind}: ${ms(t[small]!)} at ${small}, ${ms(t[big]!)} at ${big}: ratio ${(t[big]! / t[small]!).toFixed(2)} for ${big / small}x the packages`,
      );
    }
    console.log(`## 2. promote ${promote} .debs into a Stage-Rollout distribution of ${big}, signed, vs aptly`);
    const t0 = performance.now();
    const [bigDir, relDir] = [await debs('oth', big), await debs('rel', promote)];
    console.log(`  (.debs ready in ${ms(performance.now() - t0)})`);
    const us = await ours(path.join(work, 'ours'), signer, bigDir, relDir);
    const key = await aptlyKey(work);
    const them = await aptly(work, bigDir, relDir, key.gnupg, key.keyId);
    if (us.staged !== big + promote || us.left !== 0 || them.staged !== big + promote || them.left !== 0 || !them.signed)
      throw new Error(`unexpected counts: releasedesk ${us.staged}/${us.left}, aptly ${them.staged}/${them.left}`);
    console.log(
      `  releasedesk: promoteInto + withdrawFromSource   ${ms(us.ms).padStart(9)}  (${us.staged} in stage-rollout, ${us.left} left)`,
    );
    console.log(
      `  aptly: repo move + 2 x publish update (signed)  ${ms(them.ms).padStart(9)}  (${them.staged} in stage-rollout, ${them.left} left)`,
    );
    console.log(`  ratio releasedesk/aptly: ${(us.ms / them.ms).toFixed(2)}`);
  } finally {
    await signer.stop();
    await dropDatabase(BASE_DB).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
