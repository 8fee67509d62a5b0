import { z } from 'zod';
import type { BlobStoreSpec } from '../services/storage/objects/store.ts';
import { s3Location, urlSegments, withoutSecret } from './s3-url.ts';

export const BLOB_STORE_EXAMPLE = 's3+https://KEY:SECRET@s3.example.org/releasedesk-blobs;region=us-east-1';

const FORMS = `local, file:///ABSOLUTE/DIR, or s3+http(s)://KEY:SECRET@host[:port]/BUCKET[/PREFIX][;region=R][;public], e.g. ${BLOB_STORE_EXAMPLE}`;

/**
 * BLOB_STORE: where blobs are kept beyond STORAGE_DIR, so workers on several machines share them.
 *   local                                                     STORAGE_DIR only (one machine)
 *   file:///ABSOLUTE/DIR                                      a directory, e.g. a mount every worker has
 *   s3+http(s)://ACCESS_KEY:SECRET@host[:port]/BUCKET[/PREFIX][;region=R][;public]   any S3-compatible store, as in
 *       MIRROR_TARGETS; `public`: sites read the repositories straight from the bucket (ObjectStore.sitesRead)
 * A message never shows a secret.
 */
export const blobStore = z.string().transform((v, ctx): BlobStoreSpec => {
  const r = blobStoreSpec(v.trim());
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  return typeof r === 'string' ? { kind: 'local' } : r;
});

function blobStoreSpec(value: string): BlobStoreSpec | string {
  if (value === 'local') return { kind: 'local' };
  const shown = withoutSecret(value);
  const m = /^([^;\s]+)((?:;[^;]*)*)$/.exec(value);
  if (!m) return `${shown} is not ${FORMS}`;
  const [, rawUrl, rawOpts] = m as unknown as [string, string, string];
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    return `${shown} is not ${FORMS}`;
  }
  const segments = urlSegments(u, shown);
  if (typeof segments === 'string') return segments;
  if (u.protocol === 'file:') {
    if (rawOpts) return `${shown}: a file:// store takes no options`;
    if (u.host || !segments.length) return `${shown}: give an absolute directory, file:///ABSOLUTE/DIR`;
    return { kind: 'dir', dir: `/${segments.join('/')}` };
  }
  if (u.protocol !== 's3+http:' && u.protocol !== 's3+https:') return `${shown} is not ${FORMS}`;
  let region = 'us-east-1';
  let sitesRead = false;
  for (const opt of rawOpts.split(';').slice(1)) {
    const val = opt.startsWith('region=') ? opt.slice('region='.length) : undefined;
    if (opt === 'public') sitesRead = true;
    else if (val && /^[a-z0-9-]{1,40}$/.test(val)) region = val;
    else return `${shown}: unknown or malformed option "${opt.replace(/=.*/, '=…')}" (region=…, public)`;
  }
  const at = s3Location(u, segments, region, shown);
  return typeof at === 'string' ? at : { kind: 's3', sitesRead, ...at };
}

/** BLOB_STORE as the service reads it, for tools and tests; throws the problem as one message. */
export function parseBlobStore(value: string): BlobStoreSpec {
  const r = blobStore.safeParse(value);
  if (!r.success) throw new Error(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}
