/**
 * Promotion cost, through the real RT and a worker process (RepoAction set -> RepoStatus written in RT):
 *  1. size: a ~1 GiB and a ~1 MiB YUM release of the same package count, MoveToStageRollOut (tug1) and
 *     MoveToProduction (rollout1). Promotion hard-links stored blobs, so both should take about as long;
 *     the bytes the worker wrote to disk during each promotion show whether anything was copied.
 *  2. count: a 1,000-package APT release, MoveToStageRollOut, against aptly `repo move` + `publish update`
 *     (both repositories republished, as the service does) on the same .deb files in the same run.
 *   node bench/promote.ts [bigMiB=1024] [debs=1000]
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { RtClient } from '../services/helpdesk/rt-client.ts';
import type { RepoKind, Stage } from '../services/storage/repo-ref.ts';
import { buildTestPackages } from '../test/support/packages.ts';
import { liveIndexIn } from '../test/support/step-context.ts';
import { startProviderServer } from '../test/support/provider-server.ts';
import { releaseXml, type XmlPackage } from '../test/support/release-xml.ts';
import { ensureRtRunning, pointWebhookAt, rtClient } from '../test/support/rt.ts';
import { E2E_SECRET, startTestService } from '../test/support/service.ts';
import { runMain } from './run-main.ts';

const execAsync = promisify(execFile);
const bigMiB = Number(process.argv[2] ?? 1024);
const debCount = Number(process.argv[3] ?? 1000);
if (!(bigMiB >= 2) || !(debCount >= 1)) throw new Error('usage: bench/promote.ts [bigMiB>=2] [debs>=1]');
/** Same package count for both sizes, so the size test varies bytes only. */
const SIZE_PACKAGES = 10;
const root = path.resolve(import.meta.dirname, '..');
const run = Date.now().toString(36);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

interface Pkg {
  name: string;
  filename: string;
  path: string;
  sha256: string;
  size: number;
}
type RtUser = 'releasedesk' | 'provider1' | 'tug1' | 'rollout1';
type Svc = Awaited<ReturnType<typeof startTestService>>;

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c);
  return h.digest('hex');
}

// Uncompressed payload: make-test-packages.sh gzips packages and the bundle, which took 3.5 minutes
// for 10 x 100 MiB on this machine; rpm's w0.ufdio makes the same size in ~2 s per package.
const SPEC = `%define debug_package %{nil}
%define _build_id_links none
%define _binary_payload w0.ufdio
%define __os_install_post %{nil}
Name: %{pkgname}
Version: 1.0.0
Release: 1
Summary: releasedesk promotion bench package
License: MIT
BuildArch: noarch
AutoReqProv: no
%description
Incompressible payload of %{payloadkb} KiB.
%install
mkdir -p %{buildroot}/usr/share/rd-bench
openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:%{name} </dev/zero 2>/dev/null | head -c %{payloadkb}K > %{buildroot}/usr/share/rd-bench/%{name}.bin
%files
/usr/share/rd-bench/%{name}.bin
`;

/** n noarch RPMs named <prefix>-NN with payloadKiB of incompressible bytes each, two builds at a time. */
async function buildRpms(dir: string, prefix: string, n: number, payloadKiB: number): Promise<Pkg[]> {
  await mkdir(path.join(dir, 'rpm'), { recursive: true });
  const spec = path.join(dir, 'bench.spec');
  await writeFile(spec, SPEC);
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);
  const todo = [...names];
  const worker = async () => {
    for (let name = todo.shift(); name; name = todo.shift()) {
      const top = path.join(dir, `.build-${name}`);
      await execAsync(
        'rpmbuild',
        [
          '-bb',
          '--quiet',
          '--nodeps',
          '--define',
          `_topdir ${top}`,
          '--define',
          `_dbpath ${top}/db`,
          '--define',
          `_rpmdir ${dir}/rpm`,
          '--define',
          '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm',
          '--define',
          `pkgname ${name}`,
          '--define',
          `payloadkb ${payloadKiB}`,
          spec,
        ],
        { maxBuffer: 2 ** 24 },
      );
      await rm(top, { recursive: true, force: true });
    }
  };
  await Promise.all([worker(), worker()]);
  return Promise.all(
    names.map(async (name) => {
      const filename = `${name}-1.0.0-1.noarch.rpm`;
      const file = path.join(dir, 'rpm', filename);
      return { name, filename, path: file, sha256: await sha256(file), size: (await stat(file)).size };
    }),
  );
}

/**
 * I/O of a process and the children it reaped (createrepo_c, apt-ftparchive): bytes it sent to storage
 * (a copy would show here even if deleted later), and bytes it read() from files or sockets (a package
 * re-hashed would show here, even from the page cache).
 */
async function ioOf(pid: number): Promise<{ written: number; read: number }> {
  const text = await readFile(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)![1]);
  return { written: field('write_bytes'), read: field('rchar') };
}

/** Every regular file under dir, by inode (hard links once), with its mtime: what new files hold. */
async function filesByInode(dir: string, out = new Map<string, number>()): Promise<Map<string, number>> {
  for (const ent of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) await filesByInode(p, out);
    else if (ent.isFile()) {
      const st = await lstat(p).catch(() => null); // a file can vanish while we walk
      if (st) out.set(`${st.ino}:${st.mtimeMs}`, st.size);
    }
  }
  return out;
}

/** Bytes in files that exist after and not before (a new link to an old blob is not a new file; a copy is). */
const newFileBytes = (before: Map<string, number>, after: Map<string, number>) =>
  [...after].reduce((n, [key, size]) => (before.has(key) ? n : n + size), 0);

// one client (one RT session) per user for the whole run, so no timed request pays for a login
const clients = new Map<RtUser, RtClient>();
const client = (user: RtUser) => clients.get(user) ?? clients.set(user, rtClient(user)).get(user)!;

async function waitForStatus(rt: RtClient, ticket: number, want: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let status = '';
  while (Date.now() < deadline) {
    status = (await rt.getTicket(ticket)).customFields.RepoStatus?.[0] ?? '';
    // anything else (the old status, Processing) means the action is not done yet
    if (status === want || status === 'Failed' || status === 'Incomplete') return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  return status;
}

/** How many packages the live index of a stage lists for the product. */
const countListed = async (svc: Svc, stage: Stage, product: string, kind: RepoKind) =>
  (await liveIndexIn(svc.storage, stage, product, kind))?.length ?? 0;

/**
 * Waits until every write-back of the ticket reached RT. RepoStatus comes first, then the comment and
 * the AdminCc change; starting the next action before those are delivered would time them too.
 */
async function waitForOutbox(svc: Svc, ticket: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (await svc.db('outbox').where({ ticket_id: ticket }).whereNull('delivered_at').first()) {
    if (Date.now() > deadline) throw new Error(`ticket ${ticket}: write-backs still pending after 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Measured {
  ms: number;
  /** from the RepoAction change: webhook row written, job start and end, RepoStatus delivered to RT */
  inboxMs: number;
  startMs: number;
  endMs: number;
  deliveredMs: number;
  written: number;
  read: number;
  newFiles: number;
  listed: number;
}

/**
 * `who` sets RepoAction on the ticket; time until RT shows `want`. Also: where the time went (from the
 * service's rows), what the worker wrote to disk, the bytes of new files under STORAGE_DIR, and how many
 * packages the target's index lists.
 */
async function act(
  svc: Svc,
  workerPid: number,
  ticket: number,
  who: RtUser,
  action: string,
  want: string,
  target: Stage,
  product: string,
  kind: RepoKind,
): Promise<Measured> {
  const rt = client('releasedesk');
  await waitForOutbox(svc, ticket);
  const before = await filesByInode(svc.storage);
  const io0 = await ioOf(workerPid);
  const wall0 = Date.now();
  const t0 = performance.now();
  await client(who).setCustomFields(ticket, { RepoAction: action });
  const status = await waitForStatus(rt, ticket, want, 10 * 60_000);
  const ms = performance.now() - t0;
  if (status !== want) {
    const said = (await rt.textParts(ticket)).filter((t) => t.includes('-- releasedesk op '))[0] ?? '(no comment)';
    throw new Error(`ticket ${ticket}: ${action} ended ${status || '(unset)'}, wanted ${want}; last comment:\n${said}`);
  }
  const io1 = await ioOf(workerPid);
  await waitForOutbox(svc, ticket); // RT may show the status before the row is marked delivered
  const newFiles = newFileBytes(before, await filesByInode(svc.storage));
  const listed = await countListed(svc, target, product, kind);
  const since = (at: Date | string | null | undefined) => (at ? new Date(at).getTime() - wall0 : NaN);
  const inbox = await svc.db('inbox').where({ ticket_id: ticket, action }).orderBy('id', 'desc').first();
  const job = await svc.db('transitions').where({ ticket_id: ticket, action }).orderBy('id', 'desc').first();
  const delivered = await svc
    .db('outbox')
    .where({ ticket_id: ticket, kind: 'fields' })
    .whereRaw("payload->'fields'->>'RepoStatus' = ?", [want])
    .orderBy('id', 'desc')
    .first();
  return {
    ms,
    inboxMs: since(inbox?.received_at),
    startMs: since(job?.started_at),
    endMs: since(job?.finished_at),
    deliveredMs: since(delivered?.delivered_at),
    written: io1.written - io0.written,
    read: io1.read - io0.read,
    newFiles,
    listed,
  };
}

function openTicket(product: string, xml: string): Promise<number> {
  return client('provider1').createTicket({
    subject: `bench ${product}`,
    requestor: 'provider1',
    content: 'bench',
    attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
  });
}

const jobMs = (m: Measured) => m.endMs - m.startMs;
const line = (label: string, m: Measured) =>
  `  ${label.padEnd(34)} ${sec(m.ms).padStart(8)}  (job ${sec(jobMs(m))}; worker wrote ${mib(m.written)} to disk, read ${mib(m.read)}; new files in STORAGE_DIR ${mib(m.newFiles)}; ${m.listed} packages listed)\n` +
  `  ${''.padEnd(34)} ${''.padStart(8)}   timeline: webhook row +${sec(m.inboxMs)}, job +${sec(m.startMs)}..+${sec(m.endMs)}, RepoStatus in RT +${sec(m.deliveredMs)}`;

/** Part 1: the same number of packages, ~1 MiB and ~bigMiB in total, through Stage-Rollout to Production. */
async function bySize(svc: Svc, workerPid: number, work: string): Promise<void> {
  const provider = await startProviderServer({ dir: work });
  try {
    const sizes = { small: 1, big: bigMiB };
    const results: Record<string, { stage: Measured; prod: Measured; bytes: number }> = {};
    for (const [label, totalMiB] of Object.entries(sizes)) {
      const t0 = performance.now();
      const payloadKiB = Math.max(1, Math.round((totalMiB * 1024) / SIZE_PACKAGES));
      const pkgs = await buildRpms(path.join(work, label), `rdbench-${label}`, SIZE_PACKAGES, payloadKiB);
      const bytes = pkgs.reduce((n, p) => n + p.size, 0);
      console.log(`built ${pkgs.length} rpm of ${payloadKiB} KiB payload (${mib(bytes)}) in ${sec(performance.now() - t0)}`);
      const product = `BENCH.promote-${label}.${run}`;
      const packages: XmlPackage[] = pkgs.map((p) => ({
        filename: p.filename,
        pkgname: p.name,
        version: '1.0.0',
        release: '1',
        arch: 'noarch',
        sha256: p.sha256,
        url: `${provider.url}/${label}/rpm/${p.filename}`,
      }));
      const t = await openTicket(product, releaseXml({ product, packages }));
      const ingest = await act(svc, workerPid, t, 'provider1', 'MoveToUnverified', 'Unverified', 'unverified', product, 'yum');
      console.log(line(`${label}: ingest to Unverified`, ingest));
      const stage = await act(svc, workerPid, t, 'tug1', 'MoveToStageRollOut', 'StageRollOut', 'stage-rollout', product, 'yum');
      const prod = await act(svc, workerPid, t, 'rollout1', 'MoveToProduction', 'Production', 'production', product, 'yum');
      if (stage.listed !== SIZE_PACKAGES || prod.listed !== SIZE_PACKAGES)
        throw new Error(`${product}: Stage-Rollout lists ${stage.listed}, Production ${prod.listed} packages, expected ${SIZE_PACKAGES}`);
      results[label] = { stage, prod, bytes };
    }
    const { small, big } = results as Record<'small' | 'big', (typeof results)[string]>;
    console.log(
      `promotion by release size, ${SIZE_PACKAGES} RPMs each: ${mib(small.bytes)} vs ${mib(big.bytes)} (x${(big.bytes / small.bytes).toFixed(0)} bytes)`,
    );
    console.log(line('small MoveToStageRollOut', small.stage));
    console.log(line('big   MoveToStageRollOut', big.stage));
    console.log(line('small MoveToProduction', small.prod));
    console.log(line('big   MoveToProduction', big.prod));
    const ratio = (a: Measured, b: Measured) => `${(a.ms / b.ms).toFixed(2)} (job only ${(jobMs(a) / jobMs(b)).toFixed(2)})`;
    console.log(`  ratio big/small: StageRollOut ${ratio(big.stage, small.stage)}, Production ${ratio(big.prod, small.prod)}`);
  } finally {
    await provider.close();
  }
}

/** aptly on the same .debs: added and published (untimed), then move + both publishes updated (timed). */
async function aptlyMove(work: string, debDir: string): Promise<{ addMs: number; moveMs: number; staged: number; left: number }> {
  const conf = path.join(work, 'aptly.conf');
  const rootDir = path.join(work, 'aptly');
  // no Contents and no .bz2: releasedesk writes neither, so aptly is not made to do more work
  await writeFile(conf, JSON.stringify({ rootDir, architectures: ['amd64'], skipContentsPublishing: true, skipBz2Publishing: true }));
  const aptly = (...args: string[]) => execAsync('aptly', [`-config=${conf}`, ...args], { maxBuffer: 2 ** 26 });
  await aptly('repo', 'create', '-distribution=unverified', '-component=main', 'unverified');
  await aptly('repo', 'create', '-distribution=stage-rollout', '-component=main', 'stage-rollout');
  const a0 = performance.now();
  await aptly('repo', 'add', 'unverified', debDir);
  await aptly('publish', 'repo', '-skip-signing', 'unverified');
  await aptly('publish', 'repo', '-skip-signing', 'stage-rollout');
  const addMs = performance.now() - a0;
  const m0 = performance.now();
  await aptly('repo', 'move', 'unverified', 'stage-rollout', 'Name (% *)');
  await aptly('publish', 'update', '-skip-signing', 'stage-rollout');
  await aptly('publish', 'update', '-skip-signing', 'unverified');
  const moveMs = performance.now() - m0;
  const count = async (dist: string) => {
    const text = await readFile(path.join(rootDir, 'public', 'dists', dist, 'main', 'binary-amd64', 'Packages'), 'utf8');
    return (text.match(/^Filename: /gm) ?? []).length;
  };
  return { addMs, moveMs, staged: await count('stage-rollout'), left: await count('unverified') };
}

/** Part 2: a release of debCount .debs to Unverified (untimed), then MoveToStageRollOut, vs aptly. */
async function byCount(svc: Svc, workerPid: number, work: string): Promise<void> {
  const t0 = performance.now();
  const pkgs = await buildTestPackages(path.join(work, 'debs'), debCount, { core: false, fillPrefix: 'rdbench', fillStart: 1 });
  const bundleBytes = (await stat(pkgs.bundle)).size;
  console.log(
    `built ${pkgs.debs.length} deb (+ as many rpm, extras in the bundle) in ${sec(performance.now() - t0)}, bundle ${mib(bundleBytes)}`,
  );
  const provider = await startProviderServer({ dir: pkgs.dir });
  try {
    const product = `BENCH.promote-apt${debCount}.${run}`;
    const xml = releaseXml({
      product,
      arch: 'all',
      protocol: 'apt',
      synchURL: `${provider.url}/bundle.tar.gz`,
      synchSha256: await sha256(pkgs.bundle),
      packages: pkgs.debs.map((p) => ({
        filename: p.filename,
        pkgname: p.name,
        version: '1.0.0',
        release: '1',
        arch: 'all',
        sha256: p.sha256,
      })),
    });
    const t = await openTicket(product, xml);
    const ingest = await act(svc, workerPid, t, 'provider1', 'MoveToUnverified', 'Unverified', 'unverified', product, 'apt');
    const stage = await act(svc, workerPid, t, 'tug1', 'MoveToStageRollOut', 'StageRollOut', 'stage-rollout', product, 'apt');
    const left = await countListed(svc, 'unverified', product, 'apt');
    if (stage.listed !== debCount || left !== 0)
      throw new Error(`releasedesk's Stage-Rollout lists ${stage.listed}, Unverified ${left}; expected ${debCount} and 0`);
    const apt = await aptlyMove(work, path.join(pkgs.dir, 'deb'));
    if (apt.staged !== debCount || apt.left !== 0)
      throw new Error(`aptly stage lists ${apt.staged}, unverified ${apt.left}; expected ${debCount} and 0`);
    console.log(`promotion of ${debCount} DEB packages to Stage-Rollout, both repositories republished`);
    console.log(line('releasedesk: ingest (untimed)', ingest));
    console.log(`  aptly: repo add + 2 x publish repo (untimed)  ${sec(apt.addMs)}`);
    console.log(line('releasedesk: RepoAction->RT', stage));
    console.log(`  aptly: repo move + 2 x publish update    ${sec(apt.moveMs).padStart(9)}  (${apt.staged} packages listed)`);
    console.log(`  ratio releasedesk/aptly: ${(stage.ms / apt.moveMs).toFixed(2)} (job only: ${(jobMs(stage) / apt.moveMs).toFixed(2)})`);
  } finally {
    await provider.close();
  }
}

async function main() {
  await execAsync('aptly', ['version']).catch(() => {
    throw new Error('aptly is missing: apt-get install -y aptly');
  });
  await ensureRtRunning();
  const work = await mkdtemp(path.join(process.env.BENCH_TMP ?? tmpdir(), 'rd-bench-promote-'));
  process.env.STORAGE_TMP = work; // the blob store beside the packages: one filesystem
  const svc = await startTestService(
    { MAX_DOWNLOAD_BYTES: String(2 ** 40), MAX_BUNDLE_BYTES: String(2 ** 40), DOWNLOAD_TIMEOUT_MS: '60000' },
    'api',
  );
  const worker = spawn(process.execPath, ['--max-semi-space-size=2', 'services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...svc.env },
    stdio: 'ignore',
  });
  const hook = await pointWebhookAt(svc.webhookUrl, E2E_SECRET);
  try {
    await bySize(svc, worker.pid!, work);
    await byCount(svc, worker.pid!, work);
  } finally {
    worker.kill('SIGKILL');
    await hook.restore();
    await svc.close();
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
