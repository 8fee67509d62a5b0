import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { youngGcAsRead } from '../../young-gc.ts';
import { RdError, isRdError } from '../../errors.ts';
import { type S3Location, s3Client, s3Failure, SINGLE_PUT_MAX } from '../../s3/client.ts';
import { receive } from './receive.ts';
import type { Digest, ObjectStore } from './store.ts';

export interface S3StoreOptions {
  /** above this a put goes up in parts (default SINGLE_PUT_MAX) */
  singlePutMax?: number;
  /** the size of one part (S3's least is 5 MiB) */
  partSize?: number;
  /** BLOB_STORE `;public` (ObjectStore.sitesRead) */
  sitesRead?: boolean;
}

/** A bucket of any S3-compatible store (tested against OpenStack Swift's s3api), private, created on the first put. */
export class S3ObjectStore implements ObjectStore {
  readonly where: string;
  readonly sitesRead: boolean;
  private readonly s3: S3Client;
  private bucketReady: Promise<void> | null = null;

  private readonly at: S3Location;
  private readonly opts: S3StoreOptions;

  constructor(at: S3Location, opts: S3StoreOptions = {}) {
    this.at = at;
    this.opts = opts;
    this.where = `s3 ${at.endpoint}/${at.bucket}${at.prefix ? `/${at.prefix}` : ''}`;
    this.sitesRead = opts.sitesRead ?? false;
    // a store that takes the connection and then says nothing is away, not slow
    this.s3 = s3Client(at, { connectMs: 5_000, idleMs: 60_000 });
  }

  async put(key: string, file: string, digest: Digest): Promise<void> {
    const actual = (await stat(file)).size;
    if (actual !== digest.size) throw new RdError('RD_INTERNAL', `put ${key}: file has ${actual} bytes, caller said ${digest.size}`);
    await this.ensureBucket();
    const params = { Bucket: this.at.bucket, Key: this.key(key), Metadata: { sha256: digest.sha256 } };
    await this.call(key, async () => {
      // a stream per attempt: a retried call reads the file again
      const Body = youngGcAsRead(createReadStream(file));
      if (digest.size <= (this.opts.singlePutMax ?? SINGLE_PUT_MAX)) {
        await this.s3.send(new PutObjectCommand({ ...params, Body, ContentLength: digest.size }));
        return;
      }
      const up = new Upload({
        client: this.s3,
        params: { ...params, Body },
        queueSize: 2,
        partSize: this.opts.partSize,
      });
      await up.done();
    });
  }

  async get(key: string, dest: string): Promise<Digest | null> {
    return this.call(key, async () => {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.at.bucket, Key: this.key(key) })).catch(notFound);
      if (!got) return null;
      return receive(got.Body as Readable, dest, key, got.Metadata?.sha256);
    });
  }

  async copy(from: string, to: string): Promise<boolean> {
    await this.ensureBucket();
    return this.call(to, async () => {
      const source = `${this.at.bucket}/${this.key(from).split('/').map(encodeURIComponent).join('/')}`;
      const done = await this.s3
        .send(new CopyObjectCommand({ Bucket: this.at.bucket, Key: this.key(to), CopySource: source, MetadataDirective: 'COPY' }))
        .catch(notFound);
      return done !== null;
    });
  }

  async open(key: string): Promise<{ body: Readable; size: number } | null> {
    return this.call(key, async () => {
      const got = await this.s3.send(new GetObjectCommand({ Bucket: this.at.bucket, Key: this.key(key) })).catch(notFound);
      return got ? { body: got.Body as Readable, size: got.ContentLength ?? 0 } : null;
    });
  }

  async head(key: string): Promise<{ size: number; sha256: string | null } | null> {
    return this.call(key, async () => {
      const h = await this.s3.send(new HeadObjectCommand({ Bucket: this.at.bucket, Key: this.key(key) })).catch(notFound);
      return h ? { size: h.ContentLength ?? 0, sha256: h.Metadata?.sha256 ?? null } : null;
    });
  }

  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const out = [];
    const base = this.key('');
    let token: string | undefined;
    do {
      const page = await this.call(prefix, () =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.at.bucket, Prefix: this.key(prefix), ContinuationToken: token })),
      ).catch(notFound);
      for (const o of page?.Contents ?? []) if (o.Key) out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0 });
      token = page?.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async delete(key: string): Promise<void> {
    await this.call(key, () => this.s3.send(new DeleteObjectCommand({ Bucket: this.at.bucket, Key: this.key(key) })));
  }

  /** The store answers; a bucket not there yet is fine (the first put creates it). */
  async ping(): Promise<void> {
    await this.call('', () => this.s3.send(new HeadBucketCommand({ Bucket: this.at.bucket }))).catch(notFound);
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }

  private key(key: string): string {
    return this.at.prefix ? `${this.at.prefix}/${key}` : key;
  }

  /**
   * One check (and creation) of the bucket for every put in flight: several CreateBucket at once are answered
   * 409 BucketAlreadyOwnedByYou but one, as is a creation another worker made first; neither is a refusal.
   */
  private ensureBucket(): Promise<void> {
    this.bucketReady ??= this.checkBucket().catch((e) => {
      this.bucketReady = null;
      throw e;
    });
    return this.bucketReady;
  }

  private async checkBucket(): Promise<void> {
    const found = await this.call('', () => this.s3.send(new HeadBucketCommand({ Bucket: this.at.bucket }))).then(
      () => true,
      (e) => notFound(e) ?? false,
    );
    if (!found)
      await this.call('', () =>
        this.s3.send(new CreateBucketCommand({ Bucket: this.at.bucket })).catch((e) => {
          if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw e;
        }),
      );
  }

  /** The store's answers as the catalog's codes, naming the store and the key. */
  private async call<T>(key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isRdError(e)) throw e;
      throw s3Failure(e, `${this.where}${key ? ` (${key})` : ''}`, { unavailable: 'RD_STORE_UNAVAILABLE', refused: 'RD_STORE_REFUSED' });
    }
  }
}

/** A 404 (no such key, no such bucket) as null; every other failure as it was. */
function notFound(e: unknown): null {
  const status = (e as { $metadata?: { httpStatusCode?: number }; details?: { status?: number } }) ?? {};
  if (status.$metadata?.httpStatusCode === 404 || status.details?.status === 404) return null;
  throw e;
}
