/**
 * One release, MoveToUnverified -> RepoStatus written, through the real RT and a worker process,
 * against the raw tools on the same files in the same run: curl + tar + sha256sum + createrepo_c, then the
 * RT calls the worker made before the status showed, made again with curl one after the other (on a twin
 * ticket: same attachment, writes of the same fields). The worker has already run one small release (a
 * service is measured warm, as it runs; the first action of a fresh process also compiles its code):
 * BENCH_WARM_PACKAGES (default 3) packages of 4 KiB. With as many as the release has, the loops over a
 * release's packages have run hot before too, as in a worker that has handled releases of that size.
 * The files are served by a process of their own (file-server.ts), so the bench's own work is not on the
 * path of the bytes either side downloads. Prints both times, the ratio, the worker's peak RSS (VmHWM), and
 * where the time went: the job's breakdown from the worker's "action done" line (download, hash, header,
 * fsync, db, index, RT reads/writes...) and the RT calls the worker made in the measured window, the
 * outbox's write-backs included (its debug log), who used the machine's CPU in the window (proc-cpu.ts),
 * and the worker's garbage collections in the window (its --trace-gc lines, gc-trace.ts).
 * BENCH_WORKER_ARGS adds flags to the worker's node (--cpu-prof, --trace-gc-verbose); BENCH_WORKER_STDOUT=file keeps
 * what it prints that is not a log line.
 *   node bench/release.ts [packages=100] [payloadKiB=64] [rpm|deb]
 *   node bench/release.ts 20 104858      # ~2 GiB bundle: peak RSS while ingesting it
 *   BENCH_BLOB_STORE=swift node bench/release.ts 20 26214   # the blobs also put to Swift's S3 API
 *   node bench/release.ts 1000 4 deb     # 1,000 DEBs; the index yardstick is aptly (repo add +
 *                                                     # publish repo twice, unsigned) in place of createrepo_c
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTestPackages, type TestPackage } from '../test/support/packages.ts';
import { startFileServer } from './file-server.ts';
import { startPrivateSwift } from '../test/support/mirror-servers.ts';
import { type GcLine, gcSummary, isGcLine } from './gc-trace.ts';
import { cpuSnapshot, printCpu, printThreads, threadCpu } from './proc-cpu.ts';
import { releaseXml } from '../test/support/release-xml.ts';
import { ensureRtRunning, pointWebhookAt, RT_URL, rtClient, rtTokens } from '../test/support/rt.ts';
import { E2E_SECRET, startTestService } from '../test/support/service.ts';
import { runMain } from './run-main.ts';

// async: the provider server answering curl lives in this process
const execAsync = promisify(execFile);
const warmPackages = Number(process.env.BENCH_WARM_PACKAGES ?? 3);
if (!Number.isInteger(warmPackages) || warmPackages < 1)
  throw new Error('BENCH_WARM_PACKAGES must be a whole number of packages, 1 or more');
const n = Number(process.argv[2] ?? 100);
const payloadKb = Number(process.argv[3] ?? 64);
const format = process.argv[4] ?? 'rpm';
if (format !== 'rpm' && format !== 'deb') throw new Error('usage: bench/release.ts [packages] [payloadKiB] [rpm|deb]');
const root = path.resolve(import.meta.dirname, '..');

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c);
  return h.digest('hex');
}

/** What the process read and wrote through read()/write() (sockets included), from /proc/<pid>/io. */
/**
 * The process's reads and writes and those of its live children (the RPM readers, which live as long as the
 * worker: Linux adds a child's counts to its parent's only once it is reaped), by pid.
 */
function ioOf(pid: number): Map<number, { rchar: number; wchar: number }> {
  const out = new Map<number, { rchar: number; wchar: number }>();
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  for (const p of [pid, ...children]) {
    try {
      const io = readFileSync(`/proc/${p}/io`, 'utf8');
      out.set(p, { rchar: Number(/rchar: (\d+)/.exec(io)![1]), wchar: Number(/wchar: (\d+)/.exec(io)![1]) });
    } catch {
      // a child that ended between the two reads: its counts went to the worker's
    }
  }
  return out;
}

/** What the processes read and wrote between two ioOf. */
function ioBetween(a: ReturnType<typeof ioOf>, b: ReturnType<typeof ioOf>): { rchar: number; wchar: number } {
  let rchar = 0;
  let wchar = 0;
  for (const [p, x] of b) {
    rchar += x.rchar - (a.get(p)?.rchar ?? 0);
    wchar += x.wchar - (a.get(p)?.wchar ?? 0);
  }
  return { rchar, wchar };
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

async function main() {
  await ensureRtRunning();
  const work = await mkdtemp(path.join(process.env.BENCH_TMP ?? tmpdir(), 'rd-bench-'));
  const t0 = Date.now();
  const pkgs = await buildTestPackages(path.join(work, 'pkgs'), Math.max(3, n), { payloadKb });
  const bundleSha = await sha256(pkgs.bundle);
  const bundleBytes = statSync(pkgs.bundle).size;
  console.log(
    `built ${pkgs.rpms.length} rpm + ${pkgs.debs.length} deb (${payloadKb} KiB payload each), bundle ${(bundleBytes / 2 ** 20).toFixed(1)} MiB in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const provider = await startFileServer(work);
  const bundleUrl = `${provider.url}/${path.relative(work, pkgs.bundle)}`;

  // raw tools on the same bundle
  const raw = path.join(work, 'raw');
  const aptly = `aptly -config=${raw}/aptly.conf`;
  const index =
    format === 'rpm'
      ? `mv rpm ${raw}/repo/Packages; createrepo_c -q ${raw}/repo`
      : `${aptly} repo create -distribution=unverified -component=main rel >/dev/null; ${aptly} repo add rel deb >/dev/null; ` +
        `${aptly} publish repo -skip-signing rel product >/dev/null; ${aptly} publish repo -skip-signing rel dist >/dev/null`;
  await mkdir(path.join(raw, 'repo'), { recursive: true });
  await writeFile(
    path.join(raw, 'aptly.conf'),
    JSON.stringify({
      rootDir: path.join(raw, 'aptly'),
      architectures: ['all', 'amd64'],
      skipContentsPublishing: true,
      skipBz2Publishing: true,
    }),
  );
  const labels = new Map([[process.pid, 'bench (RT client, API)']]);
  const rawCpu0 = cpuSnapshot(labels);
  const r0 = Date.now();
  await execAsync('bash', [
    '-c',
    `set -e; cd ${raw}; curl -sf -o bundle.tar.gz ${bundleUrl}; ` +
      `tar xzf bundle.tar.gz; sha256sum ${format}/*.${format} > /dev/null; ${index}`,
  ]);
  const rawMs = Date.now() - r0;
  const rawCpu1 = cpuSnapshot(labels);
  const pkgsOf = format === 'rpm' ? pkgs.rpms : pkgs.debs;

  process.env.STORAGE_TMP = work; // the blob store beside the packages: one filesystem
  // BENCH_BLOB_STORE=swift: the blobs also go to OpenStack Swift's S3 API (BLOB_STORE), as on a desk of several machines
  const swift = process.env.BENCH_BLOB_STORE === 'swift' ? await startPrivateSwift() : undefined;
  const svc = await startTestService(
    {
      MAX_DOWNLOAD_BYTES: String(2 ** 40),
      MAX_BUNDLE_BYTES: String(2 ** 40),
      DOWNLOAD_TIMEOUT_MS: '60000',
      ...(swift && { BLOB_STORE: swift.targetUrl('bench') }),
    },
    'api',
  );
  // debug: the "RT call" lines; the job's own breakdown is on its "action done" line
  // BENCH_WORKER_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": the worker stops with SIGTERM, so a profile is written
  const workerArgs = (process.env.BENCH_WORKER_ARGS ?? '').split(' ').filter(Boolean);
  // --trace-gc: the worker's collections in the window are counted (gc-trace.ts)
  const worker = spawn(process.execPath, ['--max-semi-space-size=2', '--trace-gc', ...workerArgs, 'services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...svc.env, LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const log = workerLog(worker.stdout);
  const hook = await pointWebhookAt(svc.webhookUrl, E2E_SECRET);
  try {
    const prov = rtClient('provider1');
    const rt = rtClient('releasedesk');
    const product = `BENCH.release${n}.${Date.now().toString(36)}`;
    const xml = bundleXml(product, bundleUrl, bundleSha, pkgsOf, '1.0.0');
    const t = await prov.createTicket({
      subject: `bench ${product}`,
      requestor: 'provider1',
      content: 'bench',
      attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
    });
    const twin = await prov.createTicket({
      subject: `bench twin ${product}`,
      requestor: 'provider1',
      content: 'bench',
      attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
    });
    // another version of a package: nothing of it is in the measured release
    // the same kind of release, smaller: the same code paths have run once
    const warm = await buildTestPackages(path.join(work, 'warm'), warmPackages, { version: '0.9.0', payloadKb: 4 });
    const warmBundle = readFileSync(warm.bundle);
    await warmUp(
      prov,
      rt,
      `${provider.url}/${path.relative(work, warm.bundle)}`,
      createHash('sha256').update(warmBundle).digest('hex'),
      warm,
    );
    await new Promise((r) => setTimeout(r, 2000)); // its comment and last writes are out
    const io0 = ioOf(worker.pid!);
    const cpu0 = cpuSnapshot(labels);
    const threads0 = threadCpu(worker.pid!);
    const s0 = Date.now();
    log.mark();
    await prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    // the moment RT answered the write of the final status, from the worker's log: polling RT for it would
    // load RT (and the 2 cores) while the release is handled, which the raw tools do not have to share
    const seen = await finalStatusWrite(log, t);
    const status = (await rt.getTicket(t)).customFields.RepoStatus?.[0] ?? '';
    const cpu1 = cpuSnapshot(labels);
    const threads1 = threadCpu(worker.pid!);
    const io = ioBetween(io0, ioOf(worker.pid!));
    const svcMs = seen - s0;
    if (status !== 'Unverified') throw new Error(`ticket ${t} ended ${status}`);
    await new Promise((r) => setTimeout(r, 300)); // the last log lines are through the pipe
    const before = log
      .since()
      .filter((l) => l.msg === 'RT call' && Date.parse(String(l.time)) <= s0 + svcMs)
      .filter((l) => !/^\/ticket\/\d+/.test(String(l.path)) || String(l.path).startsWith(`/ticket/${t}`));
    const rtCpu0 = cpuSnapshot(labels);
    const rtMs = await replayRtCalls(before, t, twin);
    const rtCpu1 = cpuSnapshot(labels);
    const yardMs = rawMs + rtMs;
    console.log(`release of ${pkgsOf.length} ${format.toUpperCase()}s, bundle ${(bundleBytes / 2 ** 20).toFixed(1)} MiB`);
    console.log(`  releasedesk: RepoAction set -> RepoStatus=Unverified in RT   ${(svcMs / 1000).toFixed(2)} s`);
    const tools = format === 'rpm' ? 'createrepo_c              ' : 'aptly add + 2 x publish   ';
    console.log(`  raw tools:   curl + tar + sha256sum + ${tools}       ${(rawMs / 1000).toFixed(2)} s`);
    console.log(
      `             + the same ${String(before.length).padStart(2)} RT calls with curl, in turn    ${(rtMs / 1000).toFixed(2)} s`,
    );
    console.log(
      `  ratio releasedesk/(raw tools + RT calls): ${(svcMs / yardMs).toFixed(2)}   (without the RT calls: ${(svcMs / rawMs).toFixed(2)})`,
    );
    const readers = [...ioOf(worker.pid!).keys()].filter((p) => p !== worker.pid).map((p) => `${peakRssMiB(p).toFixed(0)} MiB`);
    console.log(`  worker peak RSS (VmHWM): ${peakRssMiB(worker.pid!).toFixed(0)} MiB; its RPM readers: ${readers.join(', ') || 'none'}`);
    console.log(
      `  worker read ${((io.rchar / bundleBytes) * 100).toFixed(0)} % and wrote ${((io.wchar / bundleBytes) * 100).toFixed(0)} % of the bundle's bytes ` +
        `(read()/write() of the process, the download's socket included, of the tools it ran, which Linux adds once reaped, and of its RPM readers)`,
    );
    printBreakdown(t, svcMs, log.since());
    printCpu(cpu0, cpu1, 'releasedesk, from RepoAction set to RepoStatus in RT');
    printThreads(threads0, threads1, 'the worker');
    console.log(`    its GC in the window: ${gcSummary(log.gcSince(s0 + svcMs))}`);
    printCpu(rawCpu0, rawCpu1, 'the raw tools');
    printCpu(rtCpu0, rtCpu1, 'the same RT calls with curl');
    // BENCH_TIMELINE=1: the worker's log lines of the window, in ms from RepoAction set, to see the gaps
    if (process.env.BENCH_TIMELINE)
      for (const l of log.since()) {
        const { time, msg, level, pid, hostname, ...rest } = l;
        console.log(`    +${String(Date.parse(String(time)) - s0).padStart(5)} ms ${msg} ${JSON.stringify(rest).slice(0, 160)}`);
      }
  } finally {
    if (workerArgs.length) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    } else worker.kill('SIGKILL');
    await hook.restore();
    await svc.close();
    await provider.close();
    await swift?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

type LogLine = Record<string, unknown> & { msg?: string; ticket?: number };
type Rt = ReturnType<typeof rtClient>;

/** When the worker's outbox had RT store a final RepoStatus on the ticket (its debug line "write-back delivered"). */
async function finalStatusWrite(log: ReturnType<typeof workerLog>, ticket: number): Promise<number> {
  for (const t0 = Date.now(); Date.now() - t0 < 30 * 60_000; await new Promise((r) => setTimeout(r, 5))) {
    const line = log
      .since()
      .find(
        (l) =>
          l.msg === 'write-back delivered' &&
          l.ticket === ticket &&
          ['Unverified', 'Failed'].includes(String((l.fields as Record<string, string> | undefined)?.RepoStatus)),
      );
    if (line) return Date.parse(String(line.time));
  }
  throw new Error(`ticket ${ticket}: no final status written in 30 minutes`);
}

/** A release.xml naming a bundle and the packages of the bench's format in it. */
function bundleXml(product: string, url: string, sha256: string, pkgs: TestPackage[], version: string): string {
  return releaseXml({
    product,
    synchURL: url,
    synchSha256: sha256,
    ...(format === 'deb' && { protocol: 'apt' as const, arch: 'all' }),
    packages: pkgs.map((p) => ({
      filename: p.filename,
      pkgname: p.name,
      version,
      release: '1',
      arch: format === 'rpm' ? 'noarch' : 'all',
      sha256: p.sha256,
    })),
  });
}

/** One small release through the worker before the measured one; its log is not counted. */
async function warmUp(prov: Rt, rt: Rt, url: string, sha256: string, warm: Awaited<ReturnType<typeof buildTestPackages>>) {
  const xml = bundleXml(`BENCH.warmup.${Date.now().toString(36)}`, url, sha256, format === 'rpm' ? warm.rpms : warm.debs, '0.9.0');
  const t = await prov.createTicket({
    subject: 'bench warm-up',
    requestor: 'provider1',
    content: 'bench',
    attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
  });
  await prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
  for (const t0 = Date.now(); Date.now() - t0 < 120_000; await new Promise((r) => setTimeout(r, 200))) {
    const status = (await rt.getTicket(t)).customFields.RepoStatus?.[0] ?? '';
    if (status === 'Unverified') return;
    if (status === 'Failed') throw new Error(`warm-up ticket ${t} failed`);
  }
  throw new Error(`warm-up ticket ${t} did not finish in 2 minutes`);
}

/**
 * The worker's RT calls made again with curl, one after the other, on the twin ticket: reads of the same
 * paths (the twin's attachment for the release's), writes of the same kind (a status, a comment). Returns ms.
 */
async function replayRtCalls(calls: LogLine[], ticket: number, twin: number): Promise<number> {
  const token = rtTokens().releasedesk;
  const twinXml = await rtClient('releasedesk').getReleaseXml(twin);
  // a job's final status goes out with its comment (services/helpdesk/outbox.ts): the last comment carries it
  const lastPut = calls.findLastIndex((c) => String(c.method).toUpperCase() === 'PUT');
  const commands = calls.map((c, i) => {
    const path = String(c.path)
      .replace(`/ticket/${ticket}`, `/ticket/${twin}`)
      .replace(/^\/attachment\/\d+/, `/attachment/${twinXml.attachmentId}`);
    const url = `${RT_URL}/REST/2.0${path}`;
    const method = String(c.method).toUpperCase();
    if (method === 'GET') return `curl -sf -o /dev/null -H 'Authorization: token ${token}' '${url}'`;
    const status = { CustomFields: { RepoStatus: 'Processing' } };
    const body = path.endsWith('/comment')
      ? JSON.stringify({ Content: 'x'.repeat(600), ContentType: 'text/plain', ...(i > lastPut ? status : {}) })
      : JSON.stringify(status);
    return `curl -sf -o /dev/null -X ${method} -H 'Authorization: token ${token}' -H 'Content-Type: application/json' --data '${body}' '${url}'`;
  });
  // a status write changes the value: alternate, as the worker's Processing then Unverified do
  let writes = 0;
  const script = commands.map((cmd) => {
    if (!cmd.includes('"Processing"')) return cmd;
    writes++;
    return writes % 2 === 0 ? cmd.replace('"Processing"', '"Unverified"') : cmd;
  });
  const t0 = Date.now();
  await execAsync('bash', ['-c', `set -e; ${script.join('; ')}`]);
  return Date.now() - t0;
}

/** The worker's JSON log lines; since() gives those after the last mark(). */
function workerLog(out: NodeJS.ReadableStream) {
  const lines: LogLine[] = [];
  const gcs: GcLine[] = [];
  let from = 0;
  let fromGc = 0;
  createInterface({ input: out }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as LogLine);
    } catch {
      // not a log line: V8's own output (--trace-gc, or what BENCH_WORKER_ARGS asks), kept in BENCH_WORKER_STDOUT
      if (isGcLine(l)) gcs.push({ at: Date.now(), line: l });
      if (process.env.BENCH_WORKER_STDOUT) appendFileSync(process.env.BENCH_WORKER_STDOUT, `${Date.now()} ${l}\n`);
    }
  });
  return {
    mark: () => {
      from = lines.length;
      fromGc = gcs.length;
    },
    since: () => lines.slice(from),
    gcSince: (until: number) => gcs.slice(fromGc).filter((g) => g.at <= until),
  };
}

/** The job's timings by category, and the worker's RT calls in the window (reads / writes, count and ms). */
function printBreakdown(ticket: number, svcMs: number, lines: LogLine[]) {
  const done = lines.find((l) => l.msg === 'action done' && l.ticket === ticket);
  if (!done) {
    console.log('  (no "action done" line from the worker: no breakdown)');
    return;
  }
  const timings = done.timings as Record<string, number>;
  const row = (what: string, ms: number, note = '') =>
    console.log(
      `    ${what.padEnd(10)} ${String(Math.round(ms)).padStart(7)} ms ${((100 * ms) / svcMs).toFixed(1).padStart(5)} %  ${note}`,
    );
  console.log(`  where the time went (% of the ${(svcMs / 1000).toFixed(2)} s from RepoAction to RepoStatus in RT):`);
  console.log(`    the job (worker "action done", ${done.ms} ms from its first step to its final status):`);
  for (const [k, v] of Object.entries(timings)) if (k !== 'total') row(k, v);
  row('job total', timings.total ?? 0, 'RT read of the ticket, start, steps, final status');
  const calls = lines.filter((l) => l.msg === 'RT call');
  const sum = (ls: LogLine[]) => ls.reduce((n, l) => n + Number(l.ms ?? 0), 0);
  const reads = calls.filter((l) => String(l.method).toUpperCase() === 'GET');
  const writes = calls.filter((l) => String(l.method).toUpperCase() !== 'GET');
  console.log("    the worker's RT calls in the window (the job's and the outbox's write-backs; may overlap the job):");
  row('rt reads', sum(reads), `${reads.length} calls`);
  row('rt writes', sum(writes), `${writes.length} calls`);
  if (process.env.BENCH_SHOW_CALLS) for (const c of calls) console.log(`      ${c.method} ${c.path} ${c.ms} ms`);
  row('rest', svcMs - (timings.total ?? 0), 'webhook -> job start, the final status write after the job');
}

runMain(main);
