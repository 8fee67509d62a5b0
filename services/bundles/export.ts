import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { create as tarCreate } from 'tar';
import type { Config } from '../../config/index.ts';
import type { Db } from '../db/knex.ts';
import { storedFiles } from '../db/packages.ts';
import { purgedAt, releaseOfTicket } from '../db/releases.ts';
import { historyOf, transitionView } from '../db/transitions.ts';
import { RdError } from '../errors.ts';
import { editReleaseXml } from '../metadata/release-xml-edit.ts';
import { parseReleaseXml } from '../metadata/release-xml.ts';
import type { Signer } from '../signing/signer.ts';
import { BlobStore, fsyncPath, sha256File, statOrNull } from '../storage/blobs.ts';
import { AUDIT_FILE, BUNDLE_FORMAT, MANIFEST_FILE, type Manifest, packagePath, RELEASE_XML, SIGNATURE_FILE } from './manifest.ts';

export interface ExportDeps {
  db: Db;
  config: Pick<Config, 'STORAGE_DIR' | 'PUBLIC_URL' | 'DESK_NAME'>;
  signer: Pick<Signer, 'signFile'>;
}

export interface ExportedBundle {
  file: string;
  /** what to call it when handed out */
  name: string;
  sha256: string;
  size: number;
  /** the release.xml inside, with every package's sha256 */
  releaseXml: Buffer;
}

/** Statuses whose packages were frozen at Unverified and are still kept. */
const EXPORTABLE = new Set(['Unverified', 'Incomplete', 'StageRollOut', 'Production', 'Deprecated']);

export const exportsDir = (storageDir: string) => join(storageDir, 'exports');

/**
 * The bundle of a release that passed Unverified, made once per ticket and revision and kept in
 * STORAGE_DIR/exports: a second export of the same revision is the same file, so its digest, once handed to
 * a receiving desk, stays true. The packages are the stored blobs, byte for byte.
 */
export async function exportBundle(deps: ExportDeps, ticket: number): Promise<ExportedBundle> {
  const rel = await releaseOfTicket(deps.db, ticket);
  if (!rel) throw new RdError('RD_NOT_FOUND', `no release for ticket ${ticket}`);
  if (!EXPORTABLE.has(rel.status)) {
    throw new RdError(
      'RD_ACTION_NOT_ALLOWED',
      `ticket ${ticket} is ${rel.status}: only a release that passed Unverified (and is not Rejected) can be exported`,
    );
  }
  const purged = purgedAt(rel);
  if (purged) throw new RdError('RD_RELEASE_PURGED', `ticket ${ticket}'s packages were purged on ${purged.slice(0, 10)} (retention)`);
  if (!rel.xml) {
    throw new RdError(
      'RD_ACTION_NOT_ALLOWED',
      `ticket ${ticket} was verified by a releasedesk that did not keep release.xml; it cannot be exported byte for byte`,
    );
  }
  const name = `${rel.product_short_name}-${rel.version}-r${rel.revision ?? 0}-t${ticket}.bundle.tar.gz`;
  const file = join(exportsDir(deps.config.STORAGE_DIR), name);
  const files = await storedFiles(deps.db, rel.id);
  const releaseXml = await exportedXml(rel.xml, files);
  const made = await readDigest(file);
  if (made) return { file, name, releaseXml, ...made };

  const stage = join(deps.config.STORAGE_DIR, 'tmp', `export-${randomBytes(6).toString('hex')}`);
  try {
    const blobs = new BlobStore(deps.config.STORAGE_DIR);
    const members: Manifest['members'] = [];
    const put = async (path: string, bytes: Buffer) => {
      await mkdir(dirname(join(stage, path)), { recursive: true });
      await writeFile(join(stage, path), bytes);
      members.push({ path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
    };
    await put(RELEASE_XML, releaseXml);
    const audit = (await historyOf(deps.db, ticket)).map(transitionView);
    await put(AUDIT_FILE, Buffer.from(`${JSON.stringify(audit, null, 2)}\n`));
    await mkdir(join(stage, 'packages'), { recursive: true });
    const linked = new Set<string>();
    for (const f of files) {
      const at = join(stage, packagePath(f.filename));
      // one inode twice in a tar is written as a hard link entry, which importers refuse: the second is a copy
      const blob = await blobs.local(f.sha256);
      if (linked.has(f.sha256)) await copyFile(blob, at);
      else await link(blob, at);
      linked.add(f.sha256);
      members.push({ path: packagePath(f.filename), sha256: f.sha256, size: f.size });
    }
    const manifest: Manifest = {
      format: BUNDLE_FORMAT,
      source: { desk: deps.config.DESK_NAME, url: deps.config.PUBLIC_URL, ticket },
      release: {
        product: rel.product_short_name!,
        version: rel.version!,
        revision: rel.revision,
        platform: rel.platform!,
        arch: rel.arch!,
        kind: rel.repo_kind!,
        status: rel.status,
      },
      exportedAt: new Date().toISOString(),
      members,
    };
    await writeFile(join(stage, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    await deps.signer.signFile(join(stage, MANIFEST_FILE));
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(4).toString('hex')}.part`;
    await tarCreate({ gzip: true, cwd: stage, file: tmp, portable: true }, [MANIFEST_FILE, SIGNATURE_FILE, ...members.map((m) => m.path)]);
    await fsyncPath(tmp);
    const digest = await sha256File(tmp);
    // the digest beside the file, written first: a bundle is hashed once, not at every download
    await writeFile(`${file}.sha256`, `${digest.sha256} ${digest.size}\n`);
    await fsyncPath(`${file}.sha256`);
    await rename(tmp, file);
    await fsyncPath(dirname(file));
    return { file, name, releaseXml, ...digest };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/**
 * The recorded digest of a bundle made earlier, or null when there is none (the rename is the commit). A bundle
 * exported before digests were recorded beside it is hashed once, and its digest recorded then.
 */
async function readDigest(file: string): Promise<{ sha256: string; size: number } | null> {
  if (!(await statOrNull(file))) return null;
  const recorded = await readFile(`${file}.sha256`, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (recorded !== null) {
    const [sha256, size] = recorded.trim().split(' ');
    return { sha256: sha256!, size: Number(size) };
  }
  const digest = await sha256File(file);
  await writeFile(`${file}.sha256`, `${digest.sha256} ${digest.size}\n`);
  return digest;
}

/**
 * The frozen release.xml with every package's sha256: as it came when it already names them all, else with
 * the recorded digests written in; either way it must still say what was recorded.
 */
async function exportedXml(xml: Buffer, files: Array<{ filename: string; sha256: string }>): Promise<Buffer> {
  const digests = Object.fromEntries(files.map((f) => [f.filename, f.sha256]));
  const frozen = parseReleaseXml(xml);
  if (frozen.packages.every((p) => p.sha256 === digests[p.filename])) return xml;
  const edited = Buffer.from(editReleaseXml(xml.toString('utf8'), { sha256ByFile: digests }));
  const again = parseReleaseXml(edited);
  if (again.packages.some((p) => p.sha256 !== digests[p.filename]))
    throw new RdError('RD_INTERNAL', 'release.xml with digests written in does not name the recorded digests');
  return edited;
}

/** The copy of the bundle's release.xml a receiving desk's ticket gets: the same, naming where the bundle is. */
export function importXml(bundle: ExportedBundle, bundleUrl: string): Buffer {
  return Buffer.from(editReleaseXml(bundle.releaseXml.toString('utf8'), { synch: { url: bundleUrl, sha256: bundle.sha256 } }));
}
