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
