/**
 * One release, MoveToUnverified -> RepoStatus written, through the real RT and a worker process,
 * against the raw tools on the same files in the same run (curl + tar + sha256sum + createrepo_c).
 * Prints both times, the ratio, and the worker's peak RSS (VmHWM).
 *   node --import tsx bench/release.ts [packages=100] [payloadKiB=64]
 *   node --import tsx bench/release.ts 20 104858      # ~2 GiB bundle: peak RSS while ingesting it
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildTestPackages } from '../test/support/packages.ts';
import { startProviderServer } from '../test/support/provider-server.ts';
import { releaseXml } from '../test/support/release-xml.ts';
import { ensureRtRunning, pointWebhookAt, rtClient } from '../test/support/rt.ts';
import { E2E_SECRET, startTestService } from '../test/support/service.ts';

// async: the provider server answering curl lives in this process
const execAsync = promisify(execFile);
const n = Number(process.argv[2] ?? 100);
const payloadKb = Number(process.argv[3] ?? 64);
const root = path.resolve(import.meta.dirname, '..');

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c);
  return h.digest('hex');
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
  const provider = await startProviderServer({ routes: {} });
  provider.route('/bundle.tar.gz', {
    handler: (_req, res) => {
      res.writeHead(200, { 'content-length': String(bundleBytes) });
      createReadStream(pkgs.bundle).pipe(res);
    },
  });

  // raw tools on the same bundle
  const raw = path.join(work, 'raw');
  const r0 = Date.now();
  await execAsync('bash', [
    '-c',
    `set -e; mkdir -p ${raw}/repo; cd ${raw}; curl -sf -o bundle.tar.gz ${provider.url}/bundle.tar.gz; ` +
      `tar xzf bundle.tar.gz; sha256sum rpm/*.rpm > /dev/null; mv rpm ${raw}/repo/Packages; createrepo_c -q ${raw}/repo`,
  ]);
  const rawMs = Date.now() - r0;

  process.env.STORAGE_TMP = work; // the blob store beside the packages: one filesystem
  const svc = await startTestService(
    { MAX_DOWNLOAD_BYTES: String(2 ** 40), MAX_BUNDLE_BYTES: String(2 ** 40), DOWNLOAD_TIMEOUT_MS: '60000' },
    'api',
  );
  const worker = spawn(process.execPath, ['--import', 'tsx', 'services/main.ts', '--role', 'worker'], {
    cwd: root,
    env: { ...process.env, ...svc.env },
    stdio: 'ignore',
  });
  const hook = await pointWebhookAt(svc.webhookUrl, E2E_SECRET);
  try {
    const prov = rtClient('provider1');
    const rt = rtClient('releasedesk');
    const product = `BENCH.release${n}.${Date.now().toString(36)}`;
    const xml = releaseXml({
      product,
      synchURL: `${provider.url}/bundle.tar.gz`,
      synchSha256: bundleSha,
      packages: pkgs.rpms.map((p) => ({
        filename: p.filename,
        pkgname: p.name,
        version: '1.0.0',
        release: '1',
        arch: 'noarch',
        sha256: p.sha256,
      })),
    });
    const t = await prov.createTicket({
      subject: `bench ${product}`,
      requestor: 'provider1',
      content: 'bench',
      attachments: [{ filename: 'release.xml', contentType: 'application/xml', content: Buffer.from(xml) }],
    });
    await new Promise((r) => setTimeout(r, 1500)); // the worker process is up
    const s0 = Date.now();
    await prov.setCustomFields(t, { RepoAction: 'MoveToUnverified' });
    let status = '';
    while (Date.now() - s0 < 30 * 60_000) {
      status = (await rt.getTicket(t)).customFields.RepoStatus?.[0] ?? '';
      if (status === 'Unverified' || status === 'Failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const svcMs = Date.now() - s0;
    if (status !== 'Unverified') throw new Error(`ticket ${t} ended ${status}`);
    console.log(`release of ${pkgs.rpms.length} packages, bundle ${(bundleBytes / 2 ** 20).toFixed(1)} MiB`);
    console.log(`  releasedesk: RepoAction set -> RepoStatus=Unverified in RT   ${(svcMs / 1000).toFixed(2)} s`);
    console.log(`  raw tools:   curl + tar + sha256sum + createrepo_c            ${(rawMs / 1000).toFixed(2)} s`);
    console.log(`  ratio releasedesk/raw: ${(svcMs / rawMs).toFixed(2)}`);
    console.log(`  worker peak RSS (VmHWM): ${peakRssMiB(worker.pid!).toFixed(0)} MiB`);
  } finally {
    worker.kill('SIGKILL');
    await hook.restore();
    await svc.close();
    await provider.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
