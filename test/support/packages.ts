import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Real, tiny RPM and DEB packages for tests, built by make-test-packages.sh (rpmbuild + dpkg-deb,
 * offline, reproducible). Always: testpkg, testpkg-dep (needs testpkg = VERSION-RELEASE),
 * testpkg-broken (needs a capability nobody provides); then fillers <FILL_PREFIX>-0004...
 */
export interface TestPackage {
  name: string;
  filename: string;
  path: string;
  sha256: string;
  size: number;
}

export interface TestPackages {
  dir: string;
  rpms: TestPackage[];
  debs: TestPackage[];
  /** rpm/ deb/ SHA256SUMS as one tar.gz, the shape of a provider's bundle. */
  bundle: string;
  /** Finds a package by name; throws when absent so a typo fails loudly. */
  rpm(name: string): TestPackage;
  deb(name: string): TestPackage;
}

export interface BuildOptions {
  /** PKG_VERSION (default 1.0.0) */
  version?: string;
  /** PKG_RELEASE (default 1) */
  release?: string;
  /** FILL_PREFIX (default testfill) */
  fillPrefix?: string;
  /** FILL_START (default 4) */
  fillStart?: number;
  /** false = only fillers (CORE=0), e.g. to make "one more" package */
  core?: boolean;
  /** PAYLOAD_KB: incompressible payload per package */
  payloadKb?: number;
}

export const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'make-test-packages.sh');

/** Builds n rpm + n deb into outDir (~30 ms per package pair). */
export async function buildTestPackages(outDir: string, n = 3, o: BuildOptions = {}): Promise<TestPackages> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (o.version) env.PKG_VERSION = o.version;
  if (o.release) env.PKG_RELEASE = o.release;
  if (o.fillPrefix) env.FILL_PREFIX = o.fillPrefix;
  if (o.fillStart !== undefined) env.FILL_START = String(o.fillStart);
  if (o.core === false) env.CORE = '0';
  if (o.payloadKb !== undefined) env.PAYLOAD_KB = String(o.payloadKb);
  await build(outDir, n, env);
  const sums = await readFile(join(outDir, 'SHA256SUMS'), 'utf8');
  const all = await Promise.all(
    sums
      .split('\n')
      .filter(Boolean)
      .map((line) => entry(outDir, line)),
  );
  const rpms = all.filter((p) => p.filename.endsWith('.rpm'));
  const debs = all.filter((p) => p.filename.endsWith('.deb'));
  const find = (list: TestPackage[], kind: string) => (name: string) => {
    const p = list.find((x) => x.name === name);
    if (!p) throw new Error(`no test ${kind} named ${name} in ${outDir}`);
    return p;
  };
  return { dir: outDir, rpms, debs, bundle: join(outDir, 'bundle.tar.gz'), rpm: find(rpms, 'rpm'), deb: find(debs, 'deb') };
}

/** what make-test-packages.sh writes into its OUTDIR, and wipes there first */
const OUTPUTS = ['rpm', 'deb', 'SHA256SUMS', 'bundle.tar.gz'];
/** what the packages' bytes depend on besides the script and N */
const INPUTS = ['PKG_VERSION', 'PKG_RELEASE', 'FILL_PREFIX', 'FILL_START', 'CORE', 'PAYLOAD_KB', 'SOURCE_DATE_EPOCH'];

/**
 * The script's builds are reproducible (SOURCE_DATE_EPOCH, fixed payloads): within one test run
 * (RD_TEST_PACKAGES_CACHE, made by global-setup.ts) a set is built once and each caller gets a copy of its
 * own, which it may damage as it likes. Outside a test run (the benches) every call builds.
 */
async function build(outDir: string, n: number, env: NodeJS.ProcessEnv): Promise<void> {
  const run = (dir: string) => promisify(execFile)('bash', [SCRIPT, dir, String(n)], { env, timeout: 600_000, maxBuffer: 2 ** 24 });
  const cache = process.env.RD_TEST_PACKAGES_CACHE;
  if (!cache) {
    await run(outDir);
    return;
  }
  const key = createHash('sha256')
    .update(await readFile(SCRIPT))
    .update(JSON.stringify([n, INPUTS.map((k) => env[k] ?? null)]))
    .digest('hex')
    .slice(0, 24);
  const kept = join(cache, key);
  const done = () =>
    stat(join(kept, 'SHA256SUMS')).then(
      () => true,
      () => false,
    );
  if (!(await done())) {
    await mkdir(cache, { recursive: true });
    const scratch = await mkdtemp(join(cache, '.build-'));
    try {
      await run(join(scratch, 'out'));
      // two builds of one set at once: the first rename wins, the other's copy is the same bytes
      await rename(join(scratch, 'out'), kept).catch(async (e) => {
        if (!(await done())) throw e;
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  await mkdir(outDir, { recursive: true });
  for (const name of OUTPUTS) {
    await rm(join(outDir, name), { recursive: true, force: true });
    await cp(join(kept, name), join(outDir, name), { recursive: true });
  }
}

async function entry(outDir: string, line: string): Promise<TestPackage> {
  const [sha256 = '', rel = ''] = line.split(/\s+/);
  const path = join(outDir, rel);
  const filename = basename(rel);
  // rpm: NAME-VERSION-RELEASE.noarch.rpm; deb: NAME_VERSION-REVISION_all.deb
  const name = filename.endsWith('.deb') ? filename.split('_')[0]! : filename.replace(/-[^-]+-[^-]+\.[^.]+\.rpm$/, '');
  return { name, filename, path, sha256, size: (await stat(path)).size };
}

/**
 * Copies test packages into a blob store (adopt moves its input, the originals stay for other
 * tests) and returns them as repository entries.
 */
export async function adoptTestPackages(
  store: { tempPath(hint?: string): string; adopt(tmp: string, sha256: string, size: number): Promise<unknown> },
  pkgs: TestPackage[],
): Promise<Array<{ sha256: string; filename: string }>> {
  for (const p of pkgs) {
    const tmp = store.tempPath('test');
    await copyFile(p.path, tmp);
    await store.adopt(tmp, p.sha256, p.size);
  }
  return pkgs.map((p) => ({ sha256: p.sha256, filename: p.filename }));
}
