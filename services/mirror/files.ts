/** One file of a mirror: where it goes, when in a sync, what it must hold, and where its bytes are. */
export interface MirrorFile {
  /** below the mirror's root, as below PUBLIC_URL: e.g. repos/production/foo/repodata/repomd.xml */
  path: string;
  /**
   * Order of a sync, so that a site reading the mirror at any moment sees a consistent repository:
   * packages, then indexes (and keys, client files), then the files that vouch for the indexes.
   */
  phase: 'package' | 'index' | 'signed';
  sha256: string;
  size: number;
  /**
   * a local file; a package's blob, at its path in STORAGE_DIR, which a sync gets from the object store behind
   * the blobs first when this machine lacks it (another worker fetched it); or bytes made for this mirror
   * (client files name the mirror's URL)
   */
  source: { file: string } | { file: string; blob: string } | { bytes: Buffer };
}

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
