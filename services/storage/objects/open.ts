import { resolve } from 'node:path';
import { FsObjectStore } from './fs-store.ts';
import type { BlobStoreSpec, ObjectStore } from './store.ts';

/** The object store BLOB_STORE names; null for `local` (the blobs stay in STORAGE_DIR only). */
export async function openObjectStore(spec: BlobStoreSpec): Promise<ObjectStore | null> {
  if (spec.kind === 'local') return null;
  if (spec.kind === 'dir') return new FsObjectStore(spec.dir);
  // only a service that uses S3 loads the AWS SDK (~6 MB of heap that every full GC marks)
  const { S3ObjectStore } = await import('./s3-store.ts');
  const { sitesRead, ...at } = spec;
  return new S3ObjectStore(at, { sitesRead });
}

/**
 * Which object store backs the blobs of a STORAGE_DIR. It is set once at start (services/main.ts) from
 * BLOB_STORE, and every BlobStore opened on that directory finds it here: a dozen places open the blob store
 * by STORAGE_DIR alone, and none of them has to carry it. A directory nothing was set for keeps its blobs
 * locally only, as before.
 */
const backing = new Map<string, ObjectStore>();

export function backBlobsWith(storageDir: string, store: ObjectStore | null): void {
  if (store) backing.set(resolve(storageDir), store);
  else backing.delete(resolve(storageDir));
}

export function objectStoreOf(storageDir: string): ObjectStore | null {
  return backing.get(resolve(storageDir)) ?? null;
}
