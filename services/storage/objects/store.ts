import type { Readable } from 'node:stream';
import type { S3Location } from '../../s3/client.ts';

/**
 * Where blobs are kept beyond this machine (BLOB_STORE), so that workers on several machines, each with its own
 * STORAGE_DIR, share them: the local blob store becomes a cache of it. Every object carries the sha256 of its
 * bytes (for S3 in x-amz-meta-sha256: an ETag is an MD5, or for a multipart upload no digest at all), and a get
 * checks the bytes against it: a wrong object is an error naming its key, never used.
 *
 * Errors: RD_STORE_UNAVAILABLE when the store is away (transient: the engine retries), RD_STORE_REFUSED when it
 * answers no, RD_STORE_CORRUPT when an object's bytes are not what its sha256 says.
 */
export interface ObjectStore {
  /** where the store is, as logs, errors and /healthz show it: never a credential */
  readonly where: string;
  /**
   * Sites read the repositories straight from the store (BLOB_STORE `;public`): each repository then holds its
   * package objects under its own path. Otherwise sites read through the service, which serves every pool
   * path from the one blob, so the store holds each package once.
   */
  readonly sitesRead: boolean;
  /** Puts a local file whose digest the caller knows (a size that does not match is refused before sending). */
  put(key: string, file: string, digest: Digest): Promise<void>;
  /** Writes the object to `dest`, its bytes checked against its sha256; null when there is no such object. */
  get(key: string, dest: string): Promise<Digest | null>;
  /**
   * Copies an object within the store, its recorded sha256 with it, without sending its bytes through this
   * machine; false when there is no object at `from`.
   */
  copy(from: string, to: string): Promise<boolean>;
  /** The object's bytes as a stream, unchecked (the reader checks them: dnf and apt by the signed index); null when absent. */
  open(key: string): Promise<{ body: Readable; size: number } | null>;
  /** The object's size and recorded sha256 (null: none recorded) without its bytes; null when absent. */
  head(key: string): Promise<{ size: number; sha256: string | null } | null>;
  /** Every object whose key starts with `prefix`. */
  list(prefix: string): Promise<Array<{ key: string; size: number }>>;
  /** Removes the object; removing an absent one is not an error. */
  delete(key: string): Promise<void>;
  /** Resolves when the store answers (for /healthz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Digest {
  sha256: string;
  size: number;
}

/** BLOB_STORE, validated in config/blob-store.ts. */
export type BlobStoreSpec = { kind: 'local' } | { kind: 'dir'; dir: string } | ({ kind: 's3'; sitesRead: boolean } & S3Location);

/** An object holds `digest` when its size and its recorded sha256 are those. */
export async function holds(store: ObjectStore, key: string, digest: Digest): Promise<boolean> {
  const h = await store.head(key);
  return h !== null && h.size === digest.size && h.sha256 === digest.sha256;
}
