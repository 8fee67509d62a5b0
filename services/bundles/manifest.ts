/**
 * The manifest of a bundle one releasedesk exports and another imports: what the release is, where it comes
 * from, and every member's digest. It is the signed part: the signature covers the manifest, the manifest
 * covers every other file. Pure: no I/O.
 */
import { z } from 'zod';
import { RdError } from '../errors.ts';

export const BUNDLE_FORMAT = 'releasedesk-bundle/1';
export const MANIFEST_FILE = 'releasedesk-bundle.json';
export const SIGNATURE_FILE = `${MANIFEST_FILE}.asc`;
export const RELEASE_XML = 'release.xml';
export const PACKAGES_DIR = 'packages';
export const AUDIT_FILE = 'audit/transitions.json';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lower-case hex sha256');

export const manifestSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  source: z.object({
    desk: z.string().min(1).max(64),
    url: z.string().url(),
    ticket: z.number().int().positive(),
  }),
  release: z.object({
    product: z.string().min(1),
    version: z.string().min(1),
    revision: z.number().int().positive().nullable(),
    platform: z.string(),
    arch: z.string(),
    kind: z.enum(['yum', 'apt']),
    status: z.string(),
  }),
  exportedAt: z.string(),
  members: z.array(z.object({ path: z.string().min(1), sha256, size: z.number().int().nonnegative() })).min(1),
});
export type Manifest = z.infer<typeof manifestSchema>;
export type Member = Manifest['members'][number];

/** The manifest's JSON, or RD_BUNDLE_TAMPERED naming the field that is not what an export writes. */
export function parseManifest(text: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RdError('RD_BUNDLE_TAMPERED', `${MANIFEST_FILE}: not JSON (${(e as Error).message})`);
  }
  const m = manifestSchema.safeParse(json);
  if (!m.success) {
    const i = m.error.issues[0]!;
    throw new RdError('RD_BUNDLE_TAMPERED', `${MANIFEST_FILE}: ${i.path.join('.') || '(root)'}: ${i.message}`, { field: i.path.join('.') });
  }
  return m.data;
}

/**
 * Every file of the unpacked bundle against the manifest: each listed member present with its size and
 * digest, nothing else but the manifest and its signature. `digestOf` is asked only for files whose size
 * matches.
 */
export async function checkMembers(
  manifest: Manifest,
  files: ReadonlyArray<{ path: string; size: number }>,
  digestOf: (path: string) => Promise<string>,
): Promise<void> {
  const present = new Map(files.map((f) => [f.path, f.size]));
  const listed = new Set(manifest.members.map((m) => m.path));
  const extra = files.find((f) => !listed.has(f.path) && f.path !== MANIFEST_FILE && f.path !== SIGNATURE_FILE);
  if (extra) throw new RdError('RD_BUNDLE_TAMPERED', `${extra.path}: in the bundle but not in its signed manifest`, { file: extra.path });
  if (!listed.has(RELEASE_XML)) throw new RdError('RD_BUNDLE_TAMPERED', `${MANIFEST_FILE}: lists no ${RELEASE_XML}`);
  for (const m of manifest.members) {
    const size = present.get(m.path);
    if (size === undefined)
      throw new RdError('RD_BUNDLE_TAMPERED', `${m.path}: listed in the signed manifest but missing`, { file: m.path });
    const actual = size === m.size ? await digestOf(m.path) : `(${size} bytes, not ${m.size})`;
    if (actual !== m.sha256) {
      throw new RdError('RD_BUNDLE_TAMPERED', `${m.path}: sha256 ${actual}, the signed manifest says ${m.sha256}`, {
        file: m.path,
        expected: m.sha256,
        actual,
      });
    }
  }
}

/** The member path of a package file. */
export const packagePath = (filename: string) => `${PACKAGES_DIR}/${filename}`;
