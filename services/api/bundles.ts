import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { exportBundle, importXml } from '../bundles/export.ts';
import type { Db } from '../db/knex.ts';
import { RdError } from '../errors.ts';
import type { Signer } from '../signing/signer.ts';
import { requireBearer } from './auth.ts';
import { ticketOf } from './input.ts';

const xmlQuery = z.object({ url: z.url({ protocol: /^https?$/ }).optional() });

/** A release handed to another desk: its signed bundle, and the release.xml the receiving ticket gets. */
export function bundlesRouter(db: Db, config: Config, signer: Pick<Signer, 'signFile'>): Router {
  const r = Router();
  const deps = { db, config, signer };
  const auth = requireBearer();

  r.get('/releases/:ticket/bundle', auth, async (req, res) => {
    const bundle = await exportBundle(deps, ticketOf(String(req.params.ticket)));
    res.setHeader('X-Releasedesk-Bundle-Sha256', bundle.sha256);
    res.type('application/gzip').attachment(bundle.name).sendFile(bundle.file);
  });

  // ?url= where the receiving desk will fetch the bundle from; default: this endpoint
  r.get('/releases/:ticket/bundle/release.xml', auth, async (req, res) => {
    const ticket = ticketOf(String(req.params.ticket));
    const q = xmlQuery.safeParse(req.query);
    if (!q.success) throw new RdError('RD_PAYLOAD_INVALID', 'url: must be an http(s) URL', { field: 'url' });
    const bundle = await exportBundle(deps, ticket);
    const xml = importXml(bundle, q.data.url ?? `${config.PUBLIC_URL}/releases/${ticket}/bundle`);
    res.setHeader('X-Releasedesk-Bundle-Sha256', bundle.sha256);
    res
      .type('application/xml')
      .attachment(`${bundle.name.replace(/\.bundle\.tar\.gz$/, '')}.release.xml`)
      .send(xml);
  });
  return r;
}
