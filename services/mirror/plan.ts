import type { MirrorFile } from './files.ts';

/** An object or file on a target as its listing shows it. `tag`: the S3 ETag, or rsync's size and mtime. */
export interface Listed {
  path: string;
  size: number;
  tag: string;
}

/** What releasedesk recorded when it put a file on a target: the digest behind a tag. */
export interface Known {
  path: string;
  sha256: string;
  size: number;
  tag: string;
}

export interface Upload extends MirrorFile {
  /** a path on the target holding the same bytes already (or earlier in this sync): copied there, not sent again */
  copyFrom?: string;
}

export interface SyncPlan {
  /** in the order they are to be put: packages, indexes, signed files */
  upload: Upload[];
  /** orphans: on the target, not in the view; deleted last, and only when the target is set to */
  delete: Listed[];
  /** in the view and on the target with the right digest */
  unchanged: number;
  /** on the target with another content than releasedesk put there: a change behind its back, overwritten */
  changedOnTarget: string[];
  /** found on the target with the right content but not recorded (a sync killed after the upload): to record */
  adopt: Known[];
  /** bytes sent (copies are made by the target) and freed */
  bytesUp: number;
  bytesDeleted: number;
}

/**
 * Pure: what a sync must do to make the target hold `view`. A file counts as there when the target lists it
 * with its size, and either releasedesk recorded that digest under the same tag or the path itself names the
 * digest (a pool path, whose upload is atomic: an object or a renamed rsync file is whole or absent). Files
 * of the same content are sent once; the others are copies.
 */
export function planSync(view: MirrorFile[], listed: Listed[], known: Known[], opts: { deleteOrphans: boolean }): SyncPlan {
  const onTarget = new Map(listed.map((l) => [l.path, l]));
  const recorded = new Map(known.map((k) => [k.path, k]));
  const holding = new Map<string, string>(); // sha256 -> a path on the target that has it
  const plan: SyncPlan = { upload: [], delete: [], unchanged: 0, changedOnTarget: [], adopt: [], bytesUp: 0, bytesDeleted: 0 };
  const wanted = new Set<string>();
  const pending: MirrorFile[] = [];
  for (const f of view) {
    wanted.add(f.path);
    const there = onTarget.get(f.path);
    const rec = recorded.get(f.path);
    if (there && there.size === f.size && rec && rec.tag === there.tag && rec.sha256 === f.sha256) {
      plan.unchanged++;
      holding.set(f.sha256, f.path);
      continue;
    }
    if (there && there.size === f.size && namesDigest(f.path, f.sha256) && (!rec || rec.sha256 === f.sha256)) {
      plan.unchanged++;
      holding.set(f.sha256, f.path);
      if (!rec || rec.tag !== there.tag) plan.adopt.push({ path: f.path, sha256: f.sha256, size: f.size, tag: there.tag });
      continue;
    }
    if (there && rec && rec.tag !== there.tag) plan.changedOnTarget.push(f.path);
    pending.push(f);
  }
  for (const f of pending) {
    const copyFrom = holding.get(f.sha256);
    if (copyFrom) plan.upload.push({ ...f, copyFrom });
    else {
      plan.upload.push(f);
      plan.bytesUp += f.size;
      holding.set(f.sha256, f.path);
    }
  }
  if (opts.deleteOrphans) {
    plan.delete = listed.filter((l) => !wanted.has(l.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
    plan.bytesDeleted = plan.delete.reduce((n, l) => n + l.size, 0);
  }
  return plan;
}

/** pool/<aa>/<sha256>/<name>: the path is the digest's (services/storage/dist-ref.ts poolHref). */
function namesDigest(path: string, sha256: string): boolean {
  return path.includes(`/pool/${sha256.slice(0, 2)}/${sha256}/`);
}
