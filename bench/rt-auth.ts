/**
 * What writing with the Authorization header (RT's CSRF fix, issue 9) costs per write and per action, at the
 * test RT's bcrypt cost (4) and RT's default (12), against the same RT in the same run:
 *   read   GET /ticket/:id with the session cookie (every read of the service)
 *   token  PUT /ticket/:id with `Authorization: token` (every write of the service)
 *   cookie the same PUT with the session cookie and RT's own URL as Referer: what a write cost before the
 *          fix, for comparison only (the service never sends it: it breaks whenever RT_URL is not RT's base URL)
 * The cost-12 RT is a second instance of Debian's request-tracker5 (own state dir and port), started by
 * scripts/rt/start-rt.sh and stopped again by its pid when this bench started it.
 *   node bench/rt-auth.ts [writes=30] [writesPerAction=3]
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { RtClient } from '../services/helpdesk/rt-client.ts';
import { runMain } from './run-main.ts';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 30);
const PER_ACTION = Number(process.argv[3] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Rt {
  cost: number;
  url: string;
  stateDir: string;
  port: number;
}
const RTS: Rt[] = [
  { cost: 4, url: 'http://127.0.0.1:8085', stateDir: process.env.RT_STATE_DIR ?? '/var/lib/releasedesk-rt', port: 8085 },
  { cost: 12, url: 'http://127.0.0.1:8095', stateDir: '/var/lib/releasedesk-rt-bench-cost12', port: 8095 },
];

async function script(name: string, rt: Rt, extra: Record<string, string> = {}): Promise<void> {
  await run('bash', [`scripts/rt/${name}`], {
    env: { ...process.env, RT_STATE_DIR: rt.stateDir, RT_PORT: String(rt.port), RT_BCRYPT_COST: String(rt.cost), ...extra },
    timeout: 600_000,
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function measure(rt: Rt) {
  const token = (user: string) => readFileSync(`${rt.stateDir}/tokens/${user}.token`, 'utf8').trim();
  const client = new RtClient({ baseUrl: rt.url, token: token('releasedesk') });
  const ticket = await new RtClient({ baseUrl: rt.url, token: token('provider1') }).createTicket({
    subject: `rt-auth bench ${Date.now()}`,
    requestor: 'provider1',
    content: 'bench',
  });
  await client.getTicket(ticket);
  const cookie = (client.session as unknown as { cookie: string }).cookie;
  const body = (i: number, how: string) => JSON.stringify({ CustomFields: { RepoURI: `https://bench.example.test/${how}/${i}` } });
  const read: number[] = [];
  const tokenWrite: number[] = [];
  const cookieWrite: number[] = [];
  for (let i = 0; i < N; i++) {
    read.push(await timed(() => client.session.request({ method: 'GET', path: `/ticket/${ticket}` })));
    tokenWrite.push(
      await timed(() => client.session.request({ method: 'PUT', path: `/ticket/${ticket}`, body: JSON.parse(body(i, 'token')) })),
    );
    cookieWrite.push(
      await timed(async () => {
        const res = await fetch(`${rt.url}/REST/2.0/ticket/${ticket}`, {
          method: 'PUT',
          body: body(i, 'cookie'),
          headers: { Cookie: cookie, Referer: `${rt.url}/`, 'Content-Type': 'application/json' },
        });
        if (res.status !== 200) throw new Error(`cookie write answered ${res.status}: ${await res.text()}`);
      }),
    );
  }
  const extra = Math.max(0, median(tokenWrite) - median(cookieWrite));
  return {
    cost: rt.cost,
    read: median(read),
    token: median(tokenWrite),
    cookie: median(cookieWrite),
    extra,
    perAction: extra * PER_ACTION,
  };
}

async function main() {
  const rows = [];
  for (const rt of RTS) {
    const running = await fetch(`${rt.url}/`).then(
      () => true,
      () => false,
    );
    if (!running) {
      console.error(`[rt-auth] starting a bcrypt-cost-${rt.cost} RT on ${rt.url} (state ${rt.stateDir})`);
      await script('start-rt.sh', rt);
      await script('seed-rt.sh', rt, {
        RELEASEDESK_WEBHOOK_SECRET: 'rt-auth-bench-secret-0123456789',
        RELEASEDESK_WEBHOOK_URL: 'http://127.0.0.1:9/none',
      });
    }
    try {
      rows.push(await measure(rt));
    } finally {
      if (!running) await script('stop-rt.sh', rt);
    }
  }
  console.log(
    `\nmedians of ${N} requests each, one at a time; an action writes about ${PER_ACTION} times (status + URI, comment, hand-off notice)`,
  );
  console.log('| RT bcrypt cost | read (cookie) | write (token) | write (cookie + Referer, before) | token costs per write | per action |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.cost} | ${r.read.toFixed(1)} ms | ${r.token.toFixed(1)} ms | ${r.cookie.toFixed(1)} ms | +${r.extra.toFixed(1)} ms | +${r.perAction.toFixed(0)} ms |`,
    );
  }
}

runMain(main);
