import { S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { RdError, type ErrorCode } from '../errors.ts';

/** Where a bucket of an S3-compatible store is (from MIRROR_TARGETS or BLOB_STORE): validated in config/, trusted here. */
export interface S3Location {
  endpoint: string;
  region: string;
  bucket: string;
  /** keys live below it ('' = the bucket's root) */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The one client setup every S3 use shares (tested against OpenStack Swift's s3api). `timeouts` bound a store
 * that accepts a connection and then hangs: the connect, and the idle time of a socket (not a transfer's length).
 */
export function s3Client(at: S3Location, timeouts?: { connectMs: number; idleMs: number }): S3Client {
  return new S3Client({
    endpoint: at.endpoint,
    region: at.region,
    forcePathStyle: true, // a bucket in the host name needs DNS that stores on loopback do not have
    credentials: { accessKeyId: at.accessKeyId, secretAccessKey: at.secretAccessKey },
    // the SDK's default CRC checksums are refused by stores other than AWS
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    ...(timeouts && { requestHandler: { connectionTimeout: timeouts.connectMs, requestTimeout: timeouts.idleMs } }),
  });
}

/**
 * Above this a file goes up in parts (lib-storage); below, one PUT streams it from disk. The limit is the largest
 * object S3 takes in one PUT (Swift: 5 GiB + 2 bytes). It was 64 MiB, but parts are 5 MiB buffers that live
 * until each is sent, long enough for V8 to promote them: a 4 GiB bundle put to Swift in 100 MiB parts peaked at
 * 271 MiB RSS with 182 mark-compacts, and at 158 MiB with 40 as single PUTs (bench/RESULTS.md, session 18).
 * A failed PUT is sent again whole: RD_STORE_UNAVAILABLE, and the action is retried.
 */
export const SINGLE_PUT_MAX = 5 * 1024 ** 3;

export const etag = (t: string | undefined) => (t ?? '').replace(/"/g, '');

/**
 * A store's answer as the catalog's codes: away or 5xx is `unavailable`, any other refusal `refused` (the
 * operator's to fix), both with the HTTP status in details. Anything else is returned as it was.
 */
export function s3Failure(e: unknown, where: string, codes: { unavailable: ErrorCode; refused: ErrorCode }): unknown {
  if (e instanceof S3ServiceException) {
    const status = e.$metadata?.httpStatusCode ?? 0;
    const code = status >= 500 || status === 0 ? codes.unavailable : codes.refused;
    return new RdError(code, `${where}: ${e.name}${e.message && e.message !== e.name ? `: ${e.message}` : ''} (HTTP ${status})`, {
      status,
    });
  }
  const err = e as NodeJS.ErrnoException;
  if (err?.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE)$/.test(err.code))
    return new RdError(codes.unavailable, `${where}: ${err.code}`);
  // the SDK's own timeouts (connectionTimeout, requestTimeout) are plain Errors named TimeoutError
  if (err instanceof Error && err.name === 'TimeoutError') return new RdError(codes.unavailable, `${where}: ${err.message}`);
  return e;
}
