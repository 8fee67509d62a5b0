import type { S3Location } from '../services/s3/client.ts';

/**
 * The bucket part of an S3 setting (MIRROR_TARGETS, BLOB_STORE): s3+http(s)://ACCESS_KEY:SECRET@host[:port]/BUCKET[/PREFIX],
 * path-style. `segments` are the URL's path segments, decoded; `shown` is the value as a message may quote it
 * (without the secret). Returns why not, as a message, when it is not one.
 */
export function s3Location(u: URL, segments: string[], region: string, shown: string): S3Location | string {
  if (!u.username || !u.password) return `${shown}: an s3 URL needs ACCESS_KEY:SECRET@ in the URL`;
  if (!segments[0] || !/^[a-z0-9][a-z0-9.-]{1,62}$/.test(segments[0]))
    return `${shown}: the first path segment must be a bucket name (lower case, 3-63 characters)`;
  return {
    endpoint: `${u.protocol.slice(3)}//${u.host}`,
    region,
    bucket: segments[0],
    prefix: segments.slice(1).join('/'),
    accessKeyId: decodeURIComponent(u.username),
    secretAccessKey: decodeURIComponent(u.password),
  };
}

/** The path segments of a URL, decoded, or why they are not acceptable. */
export function urlSegments(u: URL, shown: string): string[] | string {
  if (u.search || u.hash) return `${shown}: the URL must not have a query or fragment`;
  const segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments.some((s) => s === '.' || s === '..')) return `${shown}: the URL path must not contain . or ..`;
  return segments;
}

/** How a message shows a URL: never with its credentials. */
export const withoutSecret = (value: string) => `"${value.replace(/\/\/[^/@\s]*@/, '//***@')}"`;
