/**
 * The real RT for tests: tokens, a client per user, where the webhook scrip posts, and a loopback
 * receiver for it. RT itself is scripts/rt/start-rt.sh + seed-rt.sh (state in RT_STATE_DIR).
 */
import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RtClient } from '../../services/helpdesk/rt-client.ts';

export const RT_URL = process.env.TEST_RT_URL ?? 'http://127.0.0.1:8085';
export const RT_STATE_DIR = process.env.RT_STATE_DIR ?? '/var/lib/releasedesk-rt';
export const RT_QUEUE = process.env.RT_QUEUE ?? 'Releases';
export const RT_USERS = ['releasedesk', 'provider1', 'tug1', 'rollout1', 'root'] as const;
export type RtUserName = (typeof RT_USERS)[number];

const SCRIPTS = fileURLToPath(new URL('../../scripts/rt/', import.meta.url));
const run = promisify(execFile);
const HOW_TO_START = `start it (as root): bash scripts/rt/start-rt.sh && RELEASEDESK_WEBHOOK_SECRET=<16+ chars> bash scripts/rt/seed-rt.sh`;

/** REST2 tokens written by seed-rt.sh to $RT_STATE_DIR/tokens/<user>.token. */
export function rtTokens(): Record<RtUserName, string> {
  const out = {} as Record<RtUserName, string>;
  for (const user of RT_USERS) {
    const file = `${RT_STATE_DIR}/tokens/${user}.token`;
    try {
      out[user] = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new Error(`no RT token for ${user} (${file}: ${(e as Error).message}); is RT seeded? ${HOW_TO_START}`);
    }
  }
  return out;
}

/** A fresh client (own session) acting as `user`. */
export const rtClient = (user: RtUserName = 'releasedesk', queue = RT_QUEUE): RtClient =>
  new RtClient({ baseUrl: RT_URL, token: rtTokens()[user], queue });

/** Fails with how to start RT when it does not answer or the seeded tokens do not work. Never skips. */
export async function requireRt(): Promise<void> {
  try {
    await fetch(`${RT_URL}/REST/2.0/rt`, { signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    throw new Error(`RT is not running at ${RT_URL} (${(e as Error).message}); ${HOW_TO_START}`);
  }
  await rtClient('releasedesk').ping();
}

async function script(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run('bash', [`${SCRIPTS}${name}`, ...args], {
      env: { ...process.env, RT_STATE_DIR, RT_QUEUE, ...env },
      timeout: 300_000,
      maxBuffer: 4 * 2 ** 20,
    });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string; code?: number };
    throw new Error(`scripts/rt/${name} ${args.join(' ')} failed (exit ${err.code}): ${err.stderr?.trim() || err.message}`);
  }
}

/**
 * Starts and seeds RT when needed (start-rt.sh is ~0.2 s when RT is up; the seed, ~3 s, runs only
 * when the tokens are missing or refused, or with `seed: true`). Needs root when it has to act.
 * Without `webhookSecret` a re-seed keeps RT's current webhook target.
 */
export async function ensureRtRunning(opts: { seed?: boolean; webhookSecret?: string; webhookUrl?: string } = {}): Promise<void> {
  await script('start-rt.sh');
  let healthy = !opts.seed;
  if (healthy)
    healthy = await requireRt().then(
      () => true,
      () => false,
    );
  if (!healthy) {
    await script('seed-rt.sh', [], {
      ...(opts.webhookSecret ? { RELEASEDESK_WEBHOOK_SECRET: opts.webhookSecret } : {}),
      ...(opts.webhookUrl ? { RELEASEDESK_WEBHOOK_URL: opts.webhookUrl } : {}),
    });
    await requireRt();
  }
}

export interface WebhookTarget {
  url: string;
  secret: string;
  timeout: number;
}

/**
 * Points RT's webhook scrip at `url` (the attribute ReleasedeskWebhook, ~1.5 s, no RT restart) and
 * returns what it pointed at before plus a `restore()`. Use in beforeAll / afterAll.
 */
export async function pointWebhookAt(
  url: string,
  secret: string,
  timeout = 5,
): Promise<{ previous: WebhookTarget | null; restore: () => Promise<void> }> {
  const out = await script('seed-rt.sh', ['--webhook-only'], {
    RELEASEDESK_WEBHOOK_URL: url,
    RELEASEDESK_WEBHOOK_SECRET: secret,
    RELEASEDESK_WEBHOOK_TIMEOUT: String(timeout),
  });
  const line = out.split('\n').find((l) => l.startsWith('WEBHOOK_PREVIOUS='));
  const previous = line ? (JSON.parse(line.slice('WEBHOOK_PREVIOUS='.length)) as WebhookTarget | null) : null;
  const restore = async () => {
    // with nothing before, leave the scrip silent (empty url) rather than posting to the test's port
    if (previous) await pointWebhookAt(previous.url, previous.secret, previous.timeout);
    else await pointWebhookAt('', secret, timeout);
  };
  return { previous, restore };
}

export interface Delivery {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  body: Record<string, unknown>;
  signatureValid: boolean;
}

/** A loopback receiver for the webhook scrip on a free port: answers 204 at once, keeps every delivery. */
export async function startWebhookReceiver(secret: string, path = '/webhooks/rt') {
  const deliveries: Delivery[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        /* kept raw */
      }
      deliveries.push({ headers: req.headers, raw, body, signatureValid: verifySignature(secret, raw, req.headers['x-rt-signature']) });
      res.writeHead(req.url === path ? 204 : 404).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  /** The first delivery (already received or to come) that matches, or an error after `ms`. */
  async function waitFor(match: (d: Delivery) => boolean, ms = 10_000): Promise<Delivery> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = deliveries.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching webhook delivery within ${ms} ms (got ${deliveries.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url, deliveries, waitFor, close };
}

export function verifySignature(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`);
  const got = Buffer.from(String(header ?? ''));
  return got.length === want.length && timingSafeEqual(got, want);
}
