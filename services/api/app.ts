import express from 'express';
import type { RequestListener } from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { IntakeDeps } from '../intake.ts';
import { publicKeysDir, type Signer } from '../signing/signer.ts';
import { bundlesRouter } from './bundles.ts';
import { gcRouter } from './gc.ts';
import * as api from '../../schemas/api.v1.ts';
import { reply } from './reply.ts';
import { openApiDocument } from './openapi.ts';
import { identify, requireReader, type AuthDeps } from './auth.ts';
import { csrfGuard, sessions } from './session.ts';
import { consoleRouter } from '../console/routes.ts';
import { boardRouter } from '../console/board.ts';
import { evidenceRouter } from './evidence.ts';
import { driftRouter } from './drift.ts';
import type { Helpdesk } from '../helpdesk/port.ts';
import { mirrorsRouter } from './mirrors.ts';
import { mirrorStatuses } from '../mirror/status.ts';
import { lastDriftReport } from '../drift/report.ts';
import { peersRouter } from './peers.ts';
import { httpErrorHandler } from './http-errors.ts';
import { releasesRouter } from './releases.ts';
import { reposFromStore } from './repos.ts';
import type { ObjectStore } from '../storage/objects/store.ts';
import { isWebhook, webhookHandler } from './webhook.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const schemasDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schemas');

export type HealthCheck = () => Promise<void>;

export interface AppDeps extends IntakeDeps {
  secret: string;
  metrics: Metrics;
  log: Logger;
  storageDir: string;
  /** what read-only checks (validate) need to judge like the worker does */
  config: Config;
  health: Record<string, HealthCheck>;
  /** signs exported bundles */
  signer: Pick<Signer, 'signFile'>;
  /** read by a drift check asked for here (POST /drift/check); without one, tickets are not compared */
  helpdesk?: Pick<Helpdesk, 'getTicket' | 'checkPassword' | 'userGroups' | 'getUserEmail'>;
  /** BLOB_STORE's store: published repositories are served from it */
  objects?: ObjectStore | null;
}

/** What answers every HTTP request of the API: the webhook first, then the Express application. */
export function createApp(deps: AppDeps): RequestListener {
  const webhook = webhookHandler(deps);
  const app = expressApp(deps);
  return (req, res) => (isWebhook(req) ? webhook(req, res) : app(req, res));
}

function expressApp(deps: AppDeps) {
  const app = express();
  app.disable('x-powered-by');
  // who calls (session cookie, personal or operator token, another desk), then what they may do
  const auth: AuthDeps = { db: deps.db, config: deps.config, helpdesk: deps.helpdesk };
  app.set('trust proxy', 'loopback, linklocal, uniquelocal'); // X-Forwarded-Proto of the TLS proxy in front
  app.use(sessions(deps.config), identify(auth));
  // a peer's validate carries every requirement of a release; the parser that reads a body first wins
  app.use('/peer', express.json({ limit: '4mb' }));
  app.use(express.json({ limit: '16kb' }), express.urlencoded({ extended: false, limit: '16kb' }), csrfGuard(deps.config));
  const reader = requireReader(auth);
  // a bundle has its own rule (tokens and other desks: requireBearer)
  const isView = (req: express.Request) => req.method === 'GET' && !/^\/releases\/[^/]+\/bundle(\/|$)/.test(req.originalUrl);
  app.use(['/releases', '/mirrors', '/drift'], (req, res, next) => (isView(req) ? reader(req, res, next) : next()));
  app.use(
    consoleRouter({ ...auth, config: deps.config, log: deps.log }),
    boardRouter({ db: deps.db, queue: deps.queue, config: deps.config, health: deps.health }),
  );
  app.use(releasesRouter(deps.db, deps.queue, deps.config, auth));
  app.use(bundlesRouter(deps.db, deps.config, deps.signer));
  app.use(peersRouter(deps.db, deps.config));
  app.use(mirrorsRouter(deps.db, deps.config, deps.log, auth));
  app.use(gcRouter(deps.db, deps.config, deps.log, auth));
  app.use(driftRouter(deps, auth));
  app.use(evidenceRouter(deps.db, deps.storageDir));

  app.get('/healthz', async (_req, res) => {
    const checks = await Promise.all(
      Object.entries(deps.health).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2_000);
          return [name, 'ok'] as const;
        } catch (e) {
          return [name, `down: ${(e as Error).message}`] as const;
        }
      }),
    );
    const down = checks.filter(([, v]) => v !== 'ok');
    // a mirror behind or away is reported, not a reason to take this service out of a load balancer
    const mirrors = Object.fromEntries(
      (await mirrorStatuses(deps.db, deps.storageDir, deps.config.MIRROR_TARGETS).catch(() => [])).map((m) => [
        m.name,
        {
          state: m.state,
          lag_seconds: m.lag_seconds,
          last_success_at: m.last_success_at,
          failures: m.failures,
          last_error_code: m.last_error_code,
        },
      ]),
    );
    const drift = await lastDriftReport(deps.db).catch(() => null);
    const body = {
      status: down.length ? 'degraded' : 'ok',
      checks: Object.fromEntries(checks),
      // what the last drift check found: reported, not a reason to take the service out of a load balancer
      ...(drift?.items.length ? { drift: { checked_at: drift.checked_at, items: drift.items.length } } : {}),
    };
    reply(res, api.health, deps.config.MIRROR_TARGETS.length ? { ...body, mirrors } : body, down.length ? 503 : 200);
  });

  // generated once from the schemas the routers validate with (services/api/openapi.ts)
  const openapi = openApiDocument(deps.config.PUBLIC_URL, PACKAGE_VERSION);
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  // The release.xml schema (and the per-namespace files it imports), for providers and their tools.
  app.get('/schemas/:file', (req, res, next) => {
    if (!/^release-v[0-9.]+(-[A-Za-z]+)?\.xsd$/.test(req.params.file)) return next();
    res.type('application/xml').sendFile(path.join(schemasDir, req.params.file));
  });

  // Published repositories: what dnf and apt read. Symlinks are followed (each repository is a link
  // to its current version directory); dotfiles (the version store) are not served.
  // With an object store, the store's copy is the truth: any worker machine may have published last.
  // A repository not in the store yet (published before BLOB_STORE was set, until its next publication) is
  // served from this machine's disk.
  if (deps.objects) app.use('/repos', reposFromStore(deps.objects));
  app.use('/repos', express.static(path.join(deps.storageDir, 'repos'), { dotfiles: 'ignore', index: false, fallthrough: true }));

  // The public signing keys sites verify the repositories with: /keys/releasedesk.asc (all of them) and
  // /keys/<FINGERPRINT>.asc, exported at start by services/signing.
  app.use(
    '/keys',
    express.static(publicKeysDir(deps.storageDir), {
      dotfiles: 'ignore',
      index: false,
      setHeaders: (res) => res.setHeader('Content-Type', 'application/pgp-keys'),
    }),
  );

  app.use(httpErrorHandler(deps.log));
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
