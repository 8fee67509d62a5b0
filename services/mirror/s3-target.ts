import { createReadStream } from 'node:fs';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload as MultipartUpload } from '@aws-sdk/lib-storage';
import pMap from 'p-map';
import { youngGcAsRead } from '../young-gc.ts';
import { RdError } from '../errors.ts';
import { etag, s3Client, s3Failure, SINGLE_PUT_MAX } from '../s3/client.ts';
import type { Listed, Upload } from './plan.ts';
import type { MirrorTarget, TargetSpec } from './target.ts';

type S3Spec = Extract<TargetSpec, { kind: 's3' }>;

/**
 * A bucket of any S3-compatible store (tested against OpenStack Swift's s3api). Our sha256 goes with each
 * object as x-amz-meta-sha256: an ETag is an MD5, or for a multipart upload not a digest of the bytes at all.
 */
export class S3Target implements MirrorTarget {
  private readonly s3: S3Client;
  private bucketChecked = false;

  private readonly spec: S3Spec;

  constructor(spec: S3Spec) {
    this.spec = spec;
    this.s3 = s3Client(spec);
  }

  private key(path: string): string {
    return this.spec.prefix ? `${this.spec.prefix}/${path}` : path;
  }

  async list(): Promise<Listed[]> {
    await this.ensureBucket();
    const out: Listed[] = [];
    const prefix = this.spec.prefix ? `${this.spec.prefix}/` : '';
    let token: string | undefined;
    do {
      const page = await this.call(() =>
        this.s3.send(new ListObjectsV2Command({ Bucket: this.spec.bucket, Prefix: prefix || undefined, ContinuationToken: token })),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key && !o.Key.endsWith('/')) out.push({ path: o.Key.slice(prefix.length), size: o.Size ?? 0, tag: etag(o.ETag) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async put(files: Upload[], landed: (path: string, tag: string) => Promise<void>): Promise<void> {
    const one = async (f: Upload) => {
      const tag = await this.call(() => this.putOne(f));
      await landed(f.path, tag);
    };
    // a copy needs its source there first; the signed files go one after the other, in their order
    const concurrency = files.some((f) => f.phase === 'signed') ? 1 : PUTS_AT_ONCE;
    await pMap(
      files.filter((f) => !f.copyFrom),
      one,
      { concurrency },
    );
    await pMap(
      files.filter((f) => f.copyFrom),
      one,
      { concurrency },
    );
  }

  private async putOne(f: Upload): Promise<string> {
    const common = { Bucket: this.spec.bucket, Key: this.key(f.path), Metadata: { sha256: f.sha256 }, ContentType: contentType(f.path) };
    if (f.copyFrom) {
      const out = await this.s3.send(
        new CopyObjectCommand({
          ...common,
          CopySource: `${this.spec.bucket}/${this.key(f.copyFrom).split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
        }),
      );
      return etag(out.CopyObjectResult?.ETag);
    }
    if ('bytes' in f.source) return etag((await this.s3.send(new PutObjectCommand({ ...common, Body: f.source.bytes }))).ETag);
    const Body = youngGcAsRead(createReadStream(f.source.file));
    if (f.size <= SINGLE_PUT_MAX) return etag((await this.s3.send(new PutObjectCommand({ ...common, Body, ContentLength: f.size }))).ETag);
    const up = new MultipartUpload({ client: this.s3, params: { ...common, Body }, queueSize: 2 });
    return etag((await up.done()).ETag);
  }

  async remove(paths: string[]): Promise<void> {
    await pMap(paths, (p) => this.call(() => this.s3.send(new DeleteObjectCommand({ Bucket: this.spec.bucket, Key: this.key(p) }))), {
      concurrency: PUTS_AT_ONCE,
    });
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }

  /** Creates the bucket on first use, readable by anyone: sites read the mirror without credentials. */
  private async ensureBucket(): Promise<void> {
    if (this.bucketChecked) return;
    const found = await this.call(() => this.s3.send(new HeadBucketCommand({ Bucket: this.spec.bucket }))).then(
      () => true,
      (e) => {
        if (e instanceof RdError && e.details?.status === 404) return false;
        throw e;
      },
    );
    if (!found) await this.call(() => this.s3.send(new CreateBucketCommand({ Bucket: this.spec.bucket, ACL: 'public-read' })));
    this.bucketChecked = true;
  }

  /** The store's answers as the catalog's codes: away or 5xx is transient, a refusal is the operator's to fix. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw s3Failure(e, `${this.spec.endpoint}/${this.spec.bucket}`, {
        unavailable: 'RD_MIRROR_UNAVAILABLE',
        refused: 'RD_MIRROR_REFUSED',
      });
    }
  }
}

const PUTS_AT_ONCE = 4;

function contentType(path: string): string {
  if (path.endsWith('.xml')) return 'application/xml';
  if (path.endsWith('.gz')) return 'application/gzip';
  if (path.endsWith('.asc') || path.endsWith('.gpg')) return 'application/pgp-signature';
  if (/\/(Release|InRelease|Packages)$/.test(path) || /\.(repo|list)$/.test(path)) return 'text/plain';
  return 'application/octet-stream';
}
