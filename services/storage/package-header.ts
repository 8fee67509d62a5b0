import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RdError } from '../errors.ts';
import type { PackageSpec as ReleasePackageSpec } from '../metadata/release-xml.ts';
import { runTool, ToolError } from './run-tool.ts';

/**
 * What a package says about itself, read with the distribution's own tools (rpm, dpkg-deb) so
 * that we agree with what dnf and apt will see. requires/provides keep each format's native syntax
 * (rpm `name >= 1.0-1`, deb `name (>= 1.0-1)`, deb alternatives `a | b`): version comparison differs
 * between the two ecosystems, so a dependency check has to be per format anyway.
 */
export interface PackageHeader {
  name: string;
  version: string;
  release: string;
  arch: string;
  /** Present only when the package has a non-zero epoch. */
  epoch?: number;
  requires: string[];
  provides: string[];
}

export type PackageFormat = 'rpm' | 'deb';

/** The package fields of one UMDmeta:package element of release.xml. */
export type PackageSpec = Pick<ReleasePackageSpec, 'filename' | 'pkgname' | 'version' | 'release' | 'arch'>;

const TIMEOUT_MS = 30_000;

/**
 * displayName: what errors call the file (default: its base name). Blobs are named by digest, so
 * callers pass the package's filename to get `foo-1.0-1.noarch.rpm: not a readable RPM package`.
 */
export async function readPackageHeader(path: string, format: PackageFormat, displayName = basename(path)): Promise<PackageHeader> {
  try {
    return format === 'rpm' ? await readRpm(path, displayName) : await readDeb(path, displayName);
  } catch (e) {
    throw asHeaderError(e, path, displayName, format);
  }
}

export const RPM_QF =
  'name=%{NAME}\\nepoch=%{EPOCHNUM}\\nversion=%{VERSION}\\nrelease=%{RELEASE}\\narch=%{ARCH}\\n' +
  '[requires=%{REQUIRENEVRS}\\n][provides=%{PROVIDENEVRS}\\n]';

/**
 * rpm -qp with a private, throw-away rpmdb (Debian's rpm would otherwise create and lock ~/.rpmdb): the
 * reference the RPM reader is held to (its tests), and what reads a package the reader could not read, so
 * that the ticket shows rpm's own words.
 */
export async function rpmQuery(qf: string, paths: string[], timeoutMs = TIMEOUT_MS): Promise<string> {
  const db = await mkdtemp(join(tmpdir(), 'rd-rpmdb-'));
  try {
    const { stdout } = await runTool('rpm', ['-qp', '--define', `_dbpath ${db}`, '--qf', qf, '--', ...paths], { timeoutMs });
    return stdout;
  } finally {
    await rm(db, { recursive: true, force: true });
  }
}

async function readRpm(path: string, file: string): Promise<PackageHeader> {
  return rpmHeaderOf(await rpmQuery(RPM_QF, [path]), file);
}

/** The header from what `rpm -qp --qf RPM_QF` printed for one package. */
export function rpmHeaderOf(stdout: string, file: string): PackageHeader {
  const f = multimap(stdout.split('\n'), '=');
  const epoch = Number(one(f, 'epoch') || '0');
  return {
    name: need(f, 'name', file),
    version: need(f, 'version', file),
    release: need(f, 'release', file),
    arch: need(f, 'arch', file),
    ...(epoch ? { epoch } : {}),
    // rpmlib(...) capabilities are provided by rpm itself, never by a repository package.
    requires: (f.get('requires') ?? []).filter((r) => !r.startsWith('rpmlib(')),
    provides: f.get('provides') ?? [],
  };
}

/** The control fields a header is made of, in the order `dpkg-deb -f` is asked for them. */
export const DEB_FIELDS = ['Package', 'Version', 'Architecture', 'Depends', 'Pre-Depends', 'Provides'];

async function readDeb(path: string, file: string): Promise<PackageHeader> {
  const { stdout } = await runTool('dpkg-deb', ['-f', '--', path, ...DEB_FIELDS], { timeoutMs: TIMEOUT_MS });
  return debHeaderOf(stdout, file);
}

/** The header from what `dpkg-deb -f PACKAGE DEB_FIELDS...` printed. */
export function debHeaderOf(stdout: string, file: string): PackageHeader {
  const f = multimap(unfold(stdout), ':');
  const name = need(f, 'Package', file);
  const full = need(f, 'Version', file);
  const { epoch, version, release } = splitDebVersion(full);
  return {
    name,
    version,
    release,
    arch: need(f, 'Architecture', file),
    ...(epoch ? { epoch } : {}),
    requires: [...list(one(f, 'Pre-Depends')), ...list(one(f, 'Depends'))],
    // A deb always provides itself; rpm lists that in PROVIDENEVRS, so both formats agree.
    provides: [`${name} (= ${full})`, ...list(one(f, 'Provides'))],
  };
}

/** `[epoch:]upstream[-revision]`: the revision is what follows the LAST '-' (upstream may contain '-'). */
export function splitDebVersion(full: string): { epoch: number; version: string; release: string } {
  const colon = full.indexOf(':');
  const epoch = colon > 0 ? Number(full.slice(0, colon)) : 0;
  const rest = colon > 0 ? full.slice(colon + 1) : full;
  const dash = rest.lastIndexOf('-');
  return dash < 0 ? { epoch, version: rest, release: '' } : { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/**
 * Field-by-field disagreements between a header and its release.xml entry. Compared literally: arch
 * is `noarch`/`x86_64`... for rpm and `all`/`amd64`... for deb, and release.xml must use the
 * package's own spelling (no mapping of x86_64 to amd64).
 */
export function packageMismatches(header: PackageHeader, spec: PackageSpec): Array<{ field: string; header: string; spec: string }> {
  const pairs: Array<[string, string, string]> = [
    ['name', header.name, spec.pkgname],
    ['version', header.version, spec.version],
    ['release', header.release, spec.release],
    ['arch', header.arch, spec.arch],
  ];
  return pairs.filter(([, h, s]) => h !== s).map(([field, h, s]) => ({ field, header: h, spec: s }));
}

/** Throws RD_PACKAGE_MISMATCH naming every field that disagrees. */
export function checkPackageAgainstSpec(header: PackageHeader, spec: PackageSpec): void {
  const bad = packageMismatches(header, spec);
  if (bad.length === 0) return;
  const what = bad.map((m) => `header says ${m.field} ${m.header || '(empty)'}, release.xml says ${m.spec || '(empty)'}`);
  throw new RdError('RD_PACKAGE_MISMATCH', `${spec.filename}: ${what.join('; ')}`, { filename: spec.filename, mismatches: bad });
}

function asHeaderError(e: unknown, path: string, file: string, format: PackageFormat): unknown {
  if (e instanceof ToolError && e.failure === 'exit') {
    // The tool names the blob path; the ticket reader knows the package by its file name.
    const why = e.stderrTail.split(path).join(file) || `${e.tool} failed`;
    return new RdError('RD_PACKAGE_UNREADABLE', `${file}: not a readable ${format.toUpperCase()} package (${why})`, {
      filename: file,
    });
  }
  // The tool is missing, hung or flooded us: our problem, not the package's; retried.
  if (e instanceof ToolError)
    return new RdError('RD_INTERNAL', `${file}: reading the ${format} header failed: ${e.message}`, { filename: file });
  return e;
}

/** deb822 continuation lines (starting with blanks) belong to the previous field. */
function unfold(text: string): string[] {
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && lines.length > 0) lines[lines.length - 1] += ` ${line.trim()}`;
    else if (line.trim()) lines.push(line);
  }
  return lines;
}

function multimap(lines: string[], sep: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of lines) {
    const i = line.indexOf(sep);
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    m.set(key, [...(m.get(key) ?? []), line.slice(i + 1).trim()]);
  }
  return m;
}

const one = (m: Map<string, string[]>, key: string): string => m.get(key)?.[0] ?? '';

function need(m: Map<string, string[]>, key: string, file: string): string {
  const v = one(m, key);
  if (!v) throw new RdError('RD_PACKAGE_UNREADABLE', `${file}: the package header has no ${key}`, { filename: file });
  return v;
}

/** A Depends-style list: comma separated, whitespace normalised. */
const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
