/**
 * What a step test needs: a StepContext on the real test database, a config whose STORAGE_DIR is a fresh
 * temporary directory per test, and an in-memory Helpdesk (the end-to-end suites run the real RT). Plus
 * the seeds a checkpoint restore would give a step (outputs of the steps before it, recorded releases) and a
 * reader of a repository's live index on disk, independent of the code that writes it.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';
import type { Db } from '../../services/db/knex.ts';
import { RdError } from '../../services/errors.ts';
import type { Helpdesk, TicketHistory, TicketInfo } from '../../services/helpdesk/port.ts';
import { createLogger } from '../../services/log.ts';
import { createMetrics } from '../../services/metrics.ts';
import { parseReleaseXml } from '../../services/metadata/release-xml.ts';
import { BlobStore } from '../../services/storage/blobs.ts';
import { readPackageHeader, type PackageHeader } from '../../services/storage/package-header.ts';
import type { RepoKind, Stage } from '../../services/storage/repo-ref.ts';
import type { RepoStatus } from '../../services/workflow/transitions.ts';
import type { StepContext } from '../../workers/engine/step.ts';
import type { LoadedRelease } from '../../workers/steps/load-release.ts';
import type { MetadataOutput } from '../../workers/steps/fetch-metadata.ts';
import type { PackagesOutput } from '../../workers/steps/fetch-packages.ts';
import { useTestSigner } from './signer.ts';
import { useTestDb } from './db.ts';
import { adoptTestPackages, buildTestPackages, type BuildOptions, type TestPackage, type TestPackages } from './packages.ts';
import { releaseXml, type XmlRelease } from './release-xml.ts';
import { Timings } from '../../workers/engine/timings.ts';

export const PUBLIC_URL = 'http://repo.test';

/** The helpdesk as the steps see it, in memory: attachments and notes per ticket, comments kept. */
export class MemoryHelpdesk implements Helpdesk {
  private nextId = 1000;
  readonly attachments = new Map<number, Array<{ id: number; filename: string; content: Buffer }>>();
  /** ticket -> comment transaction id -> its text/plain content */
  readonly notes = new Map<number, Map<number, string>>();
  readonly comments: Array<{ ticketId: number; text: string }> = [];

  attach(ticketId: number, filename: string, content: string | Buffer): number {
    const id = this.nextId++;
    this.attachments.set(ticketId, [...(this.attachments.get(ticketId) ?? []), { id, filename, content: Buffer.from(content) }]);
    return id;
  }

  note(ticketId: number, txnId: number, text: string): void {
    this.notes.set(ticketId, (this.notes.get(ticketId) ?? new Map<number, string>()).set(txnId, text));
  }

  /** As RtClient: the newest attachment whose name ends in .xml, else RD_ATTACHMENT_MISSING. */
  async getReleaseXml(ticketId: number) {
    const found = (this.attachments.get(ticketId) ?? []).filter((a) => /\.xml$/i.test(a.filename)).sort((a, b) => b.id - a.id)[0];
    if (!found) throw new RdError('RD_ATTACHMENT_MISSING', `ticket ${ticketId} has no attachment ending in .xml`, { ticketId });
    return { filename: found.filename, content: found.content, attachmentId: found.id };
  }

  /** As RtClient: the newest of these transactions with any text, trimmed; null when none. */
  async noteText(ticketId: number, transactionIds: number[]): Promise<string | null> {
    const mine = this.notes.get(ticketId) ?? new Map<number, string>();
    const id = [...transactionIds].sort((a, b) => b - a).find((t) => mine.get(t)?.trim());
    return id === undefined ? null : mine.get(id)!.trim();
  }

  async comment(ticketId: number, text: string): Promise<void> {
    this.comments.push({ ticketId, text });
  }

  async hasComment(ticketId: number, marker: string): Promise<boolean> {
    return this.comments.some((c) => c.ticketId === ticketId && c.text.includes(marker));
  }

  async getTicket(id: number): Promise<TicketInfo> {
    return { id, queue: 'Releases', subject: `ticket ${id}`, requestors: [], customFields: {} };
  }

  async readTicket(id: number) {
    const history: TicketHistory = { changes: [], notesOf: () => [], newest: 0 };
    return { ticket: await this.getTicket(id), history: Promise.resolve(history) };
  }

  async getUserEmail(): Promise<string | undefined> {
    return undefined;
  }

  async userGroups(): Promise<string[]> {
    return [];
  }

  async setCustomFields(): Promise<void> {}
  async addAdminCcGroup(): Promise<void> {}
  async checkPassword(): Promise<boolean> {
    return false; // people sign in against the real RT (test/services/api/signin.test.ts)
  }
  async ping(): Promise<void> {}
}

/** Real test packages (testpkg, testpkg-dep, testpkg-broken...), built once for the calling file. */
export function useTestPackages(n = 3, o: BuildOptions = {}): () => TestPackages {
  let dir: string | undefined;
  let pk: TestPackages | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rd-step-pkgs-'));
    pk = await buildTestPackages(dir, n, o);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => pk!;
}

export interface StepEnv {
  readonly db: Db;
  /** fresh per test */
  readonly rt: MemoryHelpdesk;
  /** fresh per test: its STORAGE_DIR is a new, empty directory */
  readonly config: Config;
  readonly blobs: BlobStore;
  /** what the steps of this test reported with ctx.progress */
  readonly progress: Array<Record<string, unknown>>;
  /** A context for one step of release `releaseId` (ticket = release id unless given). */
  ctx(releaseId: number, o?: Partial<Omit<StepContext, 'deps' | 'releaseId'>>): StepContext;
}

/**
 * Call once at the top of a test file. The database is emptied before each test (useTestDb); every test
 * gets its own STORAGE_DIR, helpdesk and progress list; the temporary root goes after the file.
 */
export function useStepEnv(env: Record<string, string> = {}): StepEnv {
  const t = useTestDb();
  const signing = useTestSigner();
  let root: string | undefined;
  let n = 0;
  const s = {} as { rt: MemoryHelpdesk; config: Config; blobs: BlobStore; progress: Array<Record<string, unknown>>; workDir: string };
  beforeEach(async () => {
    root ??= await mkdtemp(join(tmpdir(), 'rd-steps-'));
    const storage = join(root, `storage-${++n}`);
    s.config = loadConfig({
      RT_TOKEN: 'x'.repeat(20),
      WEBHOOK_SECRET: 'y'.repeat(20),
      STORAGE_DIR: storage,
      PUBLIC_URL,
      ALLOWED_DOWNLOAD_HOSTS: '127.0.0.1',
      ...env,
    });
    s.rt = new MemoryHelpdesk();
    s.blobs = new BlobStore(storage);
    await s.blobs.init();
    s.progress = [];
    s.workDir = join(storage, 'tmp', 'inbox-1');
    await mkdir(s.workDir, { recursive: true });
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  return {
    get db() {
      return t.db;
    },
    get rt() {
      return s.rt;
    },
    get config() {
      return s.config;
    },
    get blobs() {
      return s.blobs;
    },
    get progress() {
      return s.progress;
    },
    ctx(releaseId, o = {}) {
      return {
        deps: { db: t.db, rt: s.rt, config: s.config, metrics: createMetrics(), signer: signing.signer },
        log: createLogger('silent'),
        ticketId: releaseId,
        inboxId: releaseId, // one action per release in these tests
        transactionId: 1,
        actor: 'tug1',
        history: { changes: [], notesOf: () => [], newest: 0 },
        fromStatus: 'New',
        workDir: s.workDir,
        outputs: {},
        timings: new Timings(),
        progress: async (p) => void s.progress.push(p),
        ...o,
        releaseId,
      };
    },
  };
}

/** What a checkpoint holds: the output as JSON gave it back. */
export const checkpointed = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * The file names a stage's live index lists for a product (Packages for APT, the primary metadata for YUM),
 * read from disk; null when the repository was never published.
 */
export const liveIndex = (config: Config, stage: Stage, product: string, kind: RepoKind): Promise<string[] | null> =>
  liveIndexIn(config.STORAGE_DIR, stage, product, kind);

export async function liveIndexIn(storageDir: string, stage: Stage, product: string, kind: RepoKind): Promise<string[] | null> {
  const live = join(storageDir, 'repos', stage, product);
  const target = await readlink(live).catch(() => null);
  if (target === null) return null;
  const dir = resolve(dirname(live), target);
  if (kind === 'apt') {
    const text = await readFile(join(dir, 'Packages'), 'utf8');
    return [...text.matchAll(/^Filename: (.+)$/gm)].map((m) => basename(m[1]!)).sort();
  }
  const repomd = await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
  const primary = (await promisify(gunzip)(await readFile(join(dir, href)))).toString('utf8');
  return [...primary.matchAll(/<location href="([^"]+)"/g)].map((m) => basename(m[1]!)).sort();
}

/**
 * The package file names a distribution's live index lists (dist/yum/<platform>/<arch>/<stage>, or the APT
 * suite's binary-<arch>), read from disk; null when never published.
 */
export async function liveDistIndex(
  config: Config,
  stage: Stage,
  kind: RepoKind,
  platform: string,
  arch: string,
): Promise<string[] | null> {
  const dist = join(config.STORAGE_DIR, 'repos', 'dist');
  const live = kind === 'yum' ? join(dist, 'yum', platform, arch, stage) : join(dist, 'apt', platform, 'dists', stage);
  const target = await readlink(live).catch(() => null);
  if (target === null) return null;
  const dir = resolve(dirname(live), target);
  if (kind === 'apt') {
    const gz = await readFile(join(dir, 'main', `binary-${arch}`, 'Packages.gz')).catch(() => null);
    const text = gz ? (await promisify(gunzip)(gz)).toString('utf8') : '';
    return [...text.matchAll(/^Filename: (.+)$/gm)].map((m) => basename(m[1]!)).sort();
  }
  const repomd = await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
  const primary = (await promisify(gunzip)(await readFile(join(dir, href)))).toString('utf8');
  return [...primary.matchAll(/<location href="([^"]+)"/g)].map((m) => basename(m[1]!)).sort();
}

/** The names of packages, sorted: what liveIndex should list. */
export const names = (pkgs: Array<{ filename: string }>) => pkgs.map((p) => p.filename).sort();

const kindOf = (pkgs: TestPackage[]): RepoKind => (pkgs[0]!.filename.endsWith('.deb') ? 'apt' : 'yum');

/** release.xml for these test packages, each with its sha256 and its own url under `baseUrl` (none with urls: false). */
export function xmlFor(product: string, pkgs: TestPackage[], o: Partial<XmlRelease> & { baseUrl?: string; urls?: boolean } = {}): string {
  const { baseUrl = 'http://127.0.0.1:9', urls = true, ...rest } = o;
  const deb = kindOf(pkgs) === 'apt';
  return releaseXml({
    product,
    protocol: deb ? 'apt' : 'yum',
    platform: deb ? 'debian12' : 'el9',
    arch: deb ? 'all' : 'noarch',
    packages: pkgs.map((p) => ({
      filename: p.filename,
      pkgname: p.name,
      version: '1.0.0',
      release: '1',
      arch: deb ? 'all' : 'noarch',
      ...(urls && { url: `${baseUrl}/${deb ? 'deb' : 'rpm'}/${p.filename}` }),
      sha256: p.sha256,
    })),
    ...rest,
  });
}

/** The headers of test packages as check-headers reads them, by file name. */
export async function headersOf(pkgs: TestPackage[]): Promise<Record<string, PackageHeader>> {
  const all = await Promise.all(pkgs.map((p) => readPackageHeader(p.path, p.filename.endsWith('.deb') ? 'deb' : 'rpm', p.filename)));
  return Object.fromEntries(pkgs.map((p, i) => [p.filename, all[i]!]));
}

/**
 * The outputs of fetch-metadata, fetch-packages and (given headers) check-headers for these packages, as a
 * rerun restores them from checkpoints; the packages' blobs are put in the store.
 */
export async function unverifiedOutputs(
  env: StepEnv,
  product: string,
  pkgs: TestPackage[],
  headers?: Record<string, PackageHeader>,
  extras: string[] = [],
) {
  await adoptTestPackages(env.blobs, pkgs);
  const xml = xmlFor(product, pkgs);
  const metadata: MetadataOutput = {
    attachmentId: 1000,
    filename: 'release.xml',
    xmlSha256: createHash('sha256').update(xml).digest('hex'),
    metadata: parseReleaseXml(xml),
  };
  const packages: PackagesOutput = {
    packages: pkgs.map((p) => ({ filename: p.filename, sha256: p.sha256, size: p.size, url: `http://127.0.0.1:9/${p.filename}` })),
    extras,
    adopted: pkgs.map((p) => p.sha256),
    bytes: pkgs.reduce((a, p) => a + p.size, 0),
  };
  return checkpointed({
    'fetch-metadata': metadata,
    'fetch-packages': packages,
    ...(headers && { 'check-headers': { headers: pick(headers, pkgs) } }),
  });
}

const pick = (headers: Record<string, PackageHeader>, pkgs: TestPackage[]) =>
  Object.fromEntries(pkgs.map((p) => [p.filename, headers[p.filename]!]));

export interface SeedRelease {
  ticketId: number;
  product: string;
  pkgs: TestPackage[];
  headers: Record<string, PackageHeader>;
  status?: RepoStatus;
  revision?: number | null;
  deprecatedAt?: Date | null;
  /** the stages whose index shows it (stage_members); the index itself is not built */
  stages?: Stage[];
  /** put the blobs in the store (default true) */
  store?: boolean;
}

/** A release as record-release left it: the row with its identity, its blobs and packages. Returns its id. */
export async function seedRelease(env: StepEnv, r: SeedRelease): Promise<number> {
  const kind = kindOf(r.pkgs);
  if (r.store !== false) await adoptTestPackages(env.blobs, r.pkgs);
  const [{ id }] = await env
    .db('releases')
    .insert({
      ticket_id: r.ticketId,
      status: r.status ?? 'Unverified',
      product_short_name: r.product,
      product_name: r.product,
      version: '1.0.0',
      platform: kind === 'apt' ? 'debian12' : 'el9',
      arch: kind === 'apt' ? 'all' : 'noarch',
      repo_kind: kind,
      revision: r.revision ?? null,
      deprecated_at: r.deprecatedAt ?? null,
      metadata: JSON.stringify(parseReleaseXml(xmlFor(r.product, r.pkgs))),
    })
    .returning('id');
  await env
    .db('blobs')
    .insert(r.pkgs.map((p) => ({ sha256: p.sha256, size: p.size })))
    .onConflict('sha256')
    .ignore();
  await env.db('packages').insert(
    r.pkgs.map((p) => ({
      release_id: id,
      filename: p.filename,
      pkgname: p.name,
      version: '1.0.0',
      rel: '1',
      arch: kind === 'apt' ? 'all' : 'noarch',
      format: kind === 'apt' ? 'deb' : 'rpm',
      url: null,
      sha256: p.sha256,
      size: p.size,
      header: JSON.stringify(r.headers[p.filename]),
    })),
  );
  for (const stage of r.stages ?? []) await env.db('stage_members').insert({ release_id: id, stage });
  return id as number;
}

/** The output of load-release for a seeded release. */
export const loaded = (product: string, pkgs: TestPackage[], o: Partial<LoadedRelease> = {}): LoadedRelease => ({
  product,
  productName: product,
  version: '1.0.0',
  kind: kindOf(pkgs),
  revision: null,
  deprecatedAt: null,
  packages: [...pkgs]
    .sort((a, b) => (a.filename < b.filename ? -1 : 1))
    .map((p) => ({ filename: p.filename, sha256: p.sha256, size: p.size })),
  ...o,
});

/** The releases a stage shows, by id. */
export const membersOf = async (db: Db, stage: Stage): Promise<number[]> =>
  (await db('stage_members').where({ stage }).orderBy('release_id').pluck('release_id')).map(Number);
