import type { S3Location } from '../s3/client.ts';
import type { Listed, Upload } from './plan.ts';

/** Where a mirror is, from MIRROR_TARGETS (config): validated there, trusted here. */
export type TargetSpec = {
  name: string;
  /** delete what is on the target and not in the view, after the new indexes are live */
  deleteOrphans: boolean;
  /** the mirror's URL for sites: client files are written for it */
  publicUrl?: string;
} & (({ kind: 's3' } & S3Location) | { kind: 'rsync'; url: string });

/** The same, without credentials: what logs, /healthz and the CLI show. */
export function describeTarget(t: TargetSpec): string {
  return t.kind === 's3' ? `s3 ${t.endpoint}/${t.bucket}${t.prefix ? `/${t.prefix}` : ''}` : `rsync ${t.url}`;
}

/** One kind of mirror target: list it, put files on it, remove files from it. */
export interface MirrorTarget {
  list(): Promise<Listed[]>;
  /**
   * Puts the files of one phase. `landed` is called for each file once the target holds it, with the tag its
   * listing will show, so a killed sync knows what is there.
   */
  put(files: Upload[], landed: (path: string, tag: string) => Promise<void>): Promise<void>;
  remove(paths: string[]): Promise<void>;
  close(): Promise<void>;
}
