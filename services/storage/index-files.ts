import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { RdError } from '../errors.ts';

// What a published repository's files say, read as a site reads them: which are the signed statements, and
// which packages the indexes name. Mirrors, the object store's copy, drift checks and evidence read them so.

/**
 * The files a client reads first and trusts the rest through, in the order they are replaced: the signed
 * statement last (dnf reads repomd.xml and then its .asc; apt prefers InRelease over Release + Release.gpg).
 * undefined: not one of them.
 */
export function signedRank(path: string): number | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const rank = SIGNED[name];
  if (rank === undefined) return undefined;
  if (name.startsWith('repomd') && !path.endsWith(`repodata/${name}`)) return undefined;
  return rank;
}

const SIGNED: Record<string, number> = { 'repomd.xml': 1, 'repomd.xml.asc': 2, Release: 1, 'Release.gpg': 2, InRelease: 3 };

/** Regular files below dir, relative, not following links (a repository's `pool` link is the pool). */
export async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
  }
  return out.sort();
}

export interface NamedPackage {
  href: string;
  sha256: string;
  size: number;
}

const POOL_HREF = /^pool\/([0-9a-f]{2})\/([0-9a-f]{64})\/[^/]+$/;

/** The sha256 a pool path (…/pool/<aa>/<sha256>/<file>) names, or null for any other path. */
export function digestOfPoolPath(path: string): string | null {
  const m = /(?:^|\/)pool\/([0-9a-f]{2})\/([0-9a-f]{64})\/[^/]+$/.exec(path);
  return m && m[2]!.startsWith(m[1]!) ? m[2]! : null;
}

/** The packages an index file names (YUM primary, APT Packages), checked to be pool paths of their digest. */
export async function packagesNamedBy(name: string, bytes: Buffer): Promise<NamedPackage[]> {
  let found: NamedPackage[] = [];
  if (/(^|\/)repodata\/[^/]*primary\.xml\.gz$/.test(name)) found = primaryPackages(gunzipSync(bytes).toString('utf8'));
  else if (/(^|\/)Packages$/.test(name)) found = packagesStanzas(bytes.toString('utf8'));
  else if (/(^|\/)Packages\.gz$/.test(name)) found = packagesStanzas(gunzipSync(bytes).toString('utf8'));
  for (const p of found) {
    const m = POOL_HREF.exec(p.href);
    if (!m || m[2] !== p.sha256 || m[1] !== p.sha256.slice(0, 2))
      throw new RdError('RD_INTERNAL', `${name} names ${JSON.stringify(p.href)} (sha256 ${p.sha256}), which is not its pool path`);
  }
  return found;
}

function primaryPackages(xml: string): NamedPackage[] {
  const out: NamedPackage[] = [];
  for (const m of xml.matchAll(/<package\b[\s\S]*?<\/package>/g)) {
    const block = m[0];
    const sha = /<checksum type="sha256"[^>]*>([0-9a-f]{64})<\/checksum>/.exec(block)?.[1];
    const size = /<size package="(\d+)"/.exec(block)?.[1];
    const href = /<location href="([^"]+)"/.exec(block)?.[1];
    if (!sha || !size || !href) throw new RdError('RD_INTERNAL', `primary.xml has a package without sha256, size or location`);
    out.push({ href, sha256: sha, size: Number(size) });
  }
  return out;
}

function packagesStanzas(text: string): NamedPackage[] {
  const out: NamedPackage[] = [];
  for (const stanza of text.split(/\n\n+/)) {
    if (!stanza.trim()) continue;
    const field = (k: string) => new RegExp(`^${k}: *(.+)$`, 'm').exec(stanza)?.[1]?.trim();
    const href = field('Filename');
    const sha = field('SHA256');
    const size = field('Size');
    if (!href || !sha || !size) throw new RdError('RD_INTERNAL', `a Packages stanza lacks Filename, SHA256 or Size`);
    out.push({ href, sha256: sha, size: Number(size) });
  }
  return out;
}
