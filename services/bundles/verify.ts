import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RdError } from '../errors.ts';
import { parseReleaseXml, type ReleaseMetadata } from '../metadata/release-xml.ts';
import type { TrustedKeys } from '../signing/trust.ts';
import { checkMembers, type Manifest, MANIFEST_FILE, parseManifest, RELEASE_XML, SIGNATURE_FILE } from './manifest.ts';

export interface ImportedFrom {
  desk: string;
  url: string;
  ticket: number;
  /** primary fingerprint of the trusted key that signed the manifest */
  signedBy: string;
  manifest: Manifest;
}

/** A bundle another releasedesk exported carries its manifest; a provider's bundle does not. */
export const isExportedBundle = (files: ReadonlyArray<{ path: string }>) =>
  files.some((f) => f.path === MANIFEST_FILE || f.path === SIGNATURE_FILE);

/**
 * An exported bundle, unpacked in dir, checked before anything of it is used: the manifest's signature by a
 * trusted key, then every member against the manifest, then the ticket's release.xml against the bundle's.
 */
export async function verifyExportedBundle(
  dir: string,
  files: ReadonlyArray<{ path: string; size: number }>,
  trusted: Pick<TrustedKeys, 'verify'>,
  ticketRelease: ReleaseMetadata,
  digestOf: (path: string) => Promise<string>,
): Promise<ImportedFrom> {
  if (!files.some((f) => f.path === SIGNATURE_FILE)) {
    throw new RdError('RD_BUNDLE_UNSIGNED', `the bundle has ${MANIFEST_FILE} but no ${SIGNATURE_FILE}: it is not signed`);
  }
  if (!files.some((f) => f.path === MANIFEST_FILE)) {
    throw new RdError('RD_BUNDLE_TAMPERED', `the bundle has ${SIGNATURE_FILE} but no ${MANIFEST_FILE}`);
  }
  const signedBy = await trusted.verify(join(dir, MANIFEST_FILE), join(dir, SIGNATURE_FILE), MANIFEST_FILE);
  const manifest = parseManifest(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
  await checkMembers(manifest, files, digestOf);
  const inBundle = parseReleaseXml(await readFile(join(dir, RELEASE_XML)), `bundle ${RELEASE_XML}`);
  const differs = firstDifference(ticketRelease, inBundle);
  if (differs) {
    throw new RdError(
      'RD_BUNDLE_MISMATCH',
      `the ticket's release.xml and the signed bundle's differ at ${differs}; attach the release.xml exported with the bundle`,
      { field: differs },
    );
  }
  return { desk: manifest.source.desk, url: manifest.source.url, ticket: manifest.source.ticket, signedBy, manifest };
}

/** Where the bundle is and its digest may differ (the copy names them); line numbers are the file's layout. */
const IGNORED = new Set(['synchURL', 'synchSha256', 'line']);

/** The path of the first field two releases disagree on, or null. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path || '(root)'} (${a.length} vs ${b.length} entries)`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (IGNORED.has(k)) continue;
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : path || '(root)';
}
