import { extname, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import express, { type Router } from 'express';
import { digestOfPoolPath } from '../storage/index-files.ts';
import { blobKey } from '../storage/objects/blob-copies.ts';
import type { ObjectStore } from '../storage/objects/store.ts';

/**
 * Published repositories read from the object store, for a desk whose workers run on several machines: what a
 * worker published is in the store (services/storage/objects/published.ts), and any API process serves it,
 * whichever machine built it. Paths are as below PUBLIC_URL/repos; dot-names (a version store) are not served.
 */
export function reposFromStore(store: ObjectStore): Router {
  const router = express.Router();
  router.get(/.*/, async (req, res, next) => {
    // apt asks a flat repository for `./Release`: dot segments are resolved, never above /repos
    const rel = posix.normalize(req.path).slice(1);
    if (!rel || rel.endsWith('/') || rel.split('/').some((s) => s === '' || s.startsWith('.'))) return next();
    try {
      const got = await store.open(keyOf(rel));
      if (!got) return next();
      res
        .status(200)
        .type(TYPES[extname(rel)] ?? 'application/octet-stream')
        .setHeader('Content-Length', got.size);
      if (req.method === 'HEAD') {
        got.body.destroy();
        return void res.end();
      }
      await pipeline(got.body, res);
    } catch (e) {
      if (res.headersSent) return void res.destroy(e as Error);
      next(e);
    }
  });
  return router;
}

/** A pool path (…/pool/<aa>/<sha256>/<file>) is its blob's: the store keeps each package once, whatever lists it. */
function keyOf(rel: string): string {
  const sha = digestOfPoolPath(rel);
  return sha ? blobKey(sha) : `repos/${rel}`;
}

const TYPES: Record<string, string> = {
  '.xml': 'application/xml',
  '.gz': 'application/gzip',
  '.asc': 'application/pgp-signature',
  '.gpg': 'application/pgp-signature',
  '.repo': 'text/plain',
  '.list': 'text/plain',
  '.sources': 'text/plain',
  '.rpm': 'application/x-rpm',
  '.deb': 'application/vnd.debian.binary-package',
};
