/**
 * The configuration schema: every key with its description, validated once at start, all problems reported
 * at once. Secrets have no default and placeholders are refused.
 */
import { z } from 'zod';
import type { BaseRepo } from '../services/deps/base-repos.ts';
import { statusDeadlines } from './durations.ts';
import { BLOB_STORE_EXAMPLE, blobStore } from './blob-store.ts';
import { MIRROR_TARGETS_EXAMPLE, mirrorTargets } from './mirror-targets.ts';
import { REPO_STATUSES, type RepoStatus } from '../services/workflow/transitions.ts';

// Values people put in examples; a service started with one of them is misconfigured, not insecure-by-choice.
const PLACEHOLDERS = new Set(['changeme', 'change-me', 'secret', 'password', 'xxx', 'todo', 'token', '<secret>']);

const secret = (what: string) =>
  z
    .string({ error: `required: ${what}` })
    .min(16, `${what} must be at least 16 characters`)
    .refine((v) => !PLACEHOLDERS.has(v.toLowerCase()), `${what} is a placeholder; generate a real one`);

const url = (what: string) =>
  z.url({ protocol: /^https?$/, error: `${what} must be an http(s) URL` }).transform((v) => v.replace(/\/+$/, ''));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** "Unverified=TechnologyUnit,StageRollOut=RolloutCoordinators": which RT group watches (AdminCc) a ticket once it reaches a status. */
const noticeGroups = z.string().transform((v, ctx) => {
  const out: Partial<Record<RepoStatus, string>> = {};
  if (v.trim().toLowerCase() === 'none') return out;
  for (const pair of v
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z]+)\s*=\s*(\S(?:.*\S)?)$/.exec(pair);
    if (!m || !REPO_STATUSES.includes(m[1] as RepoStatus)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${pair}" is not STATUS=GROUP with STATUS one of ${REPO_STATUSES.join(', ')} (or the whole value "none")`,
      });
      continue;
    }
    out[m[1] as RepoStatus] = m[2]!;
  }
  return out;
});

const BASE_REPO_EXAMPLE = 'el9=yum:http://mirror.example/el9/BaseOS/x86_64/os/';

/** One BASE_REPOS entry, or why it is not one. */
function baseRepo(entry: string): BaseRepo | string {
  const shown = `"${entry.replace(/\/\/[^/@\s]*@/, '//***@')}"`; // a message never shows a password
  const m = /^([^=\s]+)\s*=\s*([^:\s]*):(.*)$/.exec(entry);
  if (!m) return `${shown} is not PLATFORM=KIND:URL, e.g. ${BASE_REPO_EXAMPLE}`;
  const [, platform, kind, url] = m as unknown as [string, string, string, string];
  if (platform !== '*' && !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(platform))
    return `${shown}: PLATFORM must be a platform name such as el9 or bookworm, or * for every platform`;
  if (kind !== 'yum' && kind !== 'apt') return `${shown}: KIND must be yum (for rpm releases) or apt (for deb releases), not "${kind}"`;
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return `${shown}: the URL is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${shown}: the URL must be http(s)`;
  if (u.search || u.hash) return `${shown}: the URL must not have a query or fragment`;
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return { platform: platform.toLowerCase(), kind, url: u.href };
}

/** "el9=yum:URL, bookworm=apt:URL": repositories whose packages count as the base (the OS) of releases of PLATFORM. */
const baseRepos = z.string().transform((v, ctx) => {
  const out: BaseRepo[] = [];
  for (const entry of v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const r = baseRepo(entry);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    else if (!out.some((o) => o.kind === r.kind && o.url === r.url && o.platform === r.platform)) out.push(r);
  }
  return out;
});

const hostList = z.string().transform((v) =>
  v
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean),
);

/**
 * "/etc/releasedesk/old.asc, /etc/releasedesk/new.asc": absolute paths in their order (the first is the
 * primary key). `blanks`: an entry may be empty, for a key without passphrase.
 */
const fileList = (blanks: boolean) =>
  z.string().transform((v, ctx) => {
    const entries = v.split(',').map((e) => e.trim());
    entries.forEach((e, i) => {
      if (e === '' && !blanks) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} is empty; give the path of each key file` });
      else if (e !== '' && !e.startsWith('/')) ctx.addIssue({ code: 'custom', message: `"${e}" must be an absolute path` });
    });
    return entries;
  });

export interface Peer {
  name: string;
  url: string;
  secret: string;
}

/** "site-de=https://desk.example.de|SECRET, central=http://127.0.0.1:8101|SECRET" */
const peerList = z.string().transform((v, ctx) => {
  const out: Peer[] = [];
  for (const entry of v
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9][a-z0-9-]{0,63})=(https?:\/\/[^|\s]+)\|(.+)$/.exec(entry);
    const shown = entry.replace(/\|.*$/, '|***');
    if (!m) ctx.addIssue({ code: 'custom', message: `"${shown}" is not NAME=URL|SECRET (NAME in lower case, URL http(s))` });
    else if (m[3]!.length < 16) ctx.addIssue({ code: 'custom', message: `"${shown}": the secret must be at least 16 characters` });
    else if (out.some((p) => p.name === m[1])) ctx.addIssue({ code: 'custom', message: `"${shown}": peer ${m[1]} is listed twice` });
    else out.push({ name: m[1]!, url: m[2]!.replace(/\/+$/, ''), secret: m[3]! });
  }
  return out;
});

export const configSchema = z.object({
  PORT: int(0, 65535).default(8080).describe('HTTP port of the API, bound to HOST'),
  HOST: z.string().default('127.0.0.1').describe('address the API listens on'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/releasedesk')
    .describe('PostgreSQL connection string'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// URL')
    .default('redis://127.0.0.1:6379')
    .describe('Redis for the BullMQ queues'),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+$/)
    .default('releasedesk')
    .describe('BullMQ key prefix'),
  RT_URL: url('RT_URL').default('http://127.0.0.1:8085').describe('Request Tracker base URL (REST2 lives under /REST/2.0)'),
  RT_TOKEN: secret('RT_TOKEN (an RT auth token of the service user)').describe('RT REST2 auth token of the service user'),
  RT_USER: z.string().min(1).default('releasedesk').describe("the service's own RT user; its transactions are ignored"),
  RT_QUEUE: z.string().min(1).default('Releases').describe('RT queue holding release tickets'),
  TECHNOLOGY_UNIT_GROUP: z.string().min(1).default('TechnologyUnit').describe('RT group whose members review releases'),
  ROLLOUT_GROUP: z.string().min(1).default('RolloutCoordinators').describe('RT group whose members publish to Production'),
  RT_GROUPS_MAX_AGE_MS: int(0, 3_600_000)
    .default(60_000)
    .describe(
      'how old a read of RT group membership may be when it allows an action (a refusal always reads RT again); 0 = read every time',
    ),
  NOTICE_GROUPS: noticeGroups
    .optional()
    .describe(
      'STATUS=GROUP pairs: the RT group made AdminCc of a ticket when it reaches STATUS ("none" = no notices); ' +
        'default: Unverified=<TECHNOLOGY_UNIT_GROUP>,StageRollOut=<ROLLOUT_GROUP>',
    ),
  SLA_DEADLINES: statusDeadlines
    .default({ Unverified: 30 * 86_400_000, StageRollOut: 14 * 86_400_000 })
    .describe(
      'STATUS=DURATION pairs (units d, h, m, s) or "none": how long a release may stay in a status before its ticket gets an overdue ' +
        "notice and the group whose turn it is is notified again; default Unverified=30d (EGI's verification month), StageRollOut=14d",
    ),
  SLA_CHECK_MS: int(0, 86_400_000).default(300_000).describe('how often the worker looks for releases past their deadline; 0 = never'),
  ALLOW_EMERGENCY: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: a release whose release.xml says emergency=true may go from Unverified straight to Production'),
  BASE_PROVIDES: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    )
    .default([])
    .describe('comma-separated capabilities the base system (the OS) provides, e.g. "glibc, bash, /bin/sh"'),
  BASE_REPOS: baseRepos
    .default([])
    .describe(
      'comma-separated PLATFORM=KIND:URL base repositories (the OS) whose packages count as provided for releases of PLATFORM ' +
        "(the release's targetPlatform, or * for all); KIND yum: URL is the repository base (repodata/repomd.xml), for rpm releases; " +
        `KIND apt: URL is the directory holding Packages.gz or Packages, for deb releases. e.g. "${BASE_REPO_EXAMPLE}"`,
    ),
  BASE_REPOS_REFRESH_MS: int(1_000, 7 * 86_400_000)
    .default(3_600_000)
    .describe('how long a read base repository is used before it is fetched again; a failed refresh keeps the last good copy'),
  DEPRECATED_RETENTION_DAYS: int(0, 36_500)
    .default(90)
    .describe('how long a Deprecated release can be restored to Production; then its packages are purged'),
  REJECTED_RETENTION_DAYS: int(0, 36_500)
    .default(30)
    .describe(
      'how long a Rejected release keeps its packages before they are purged (it can be submitted again meanwhile without downloading)',
    ),
  FAILED_RETENTION_DAYS: int(0, 36_500)
    .default(30)
    .describe('how long a Failed release keeps the packages it recorded before they are purged'),
  GC_INTERVAL_MS: int(0, 7 * 86_400_000)
    .default(3_600_000)
    .describe(
      'how often the worker purges releases past their retention (DEPRECATED_, REJECTED_, FAILED_RETENTION_DAYS); 0 = only by `releasedesk gc`',
    ),
  WEBHOOK_SECRET: secret('WEBHOOK_SECRET').describe('HMAC-SHA256 key of X-RT-Signature'),
  WEBHOOK_MAX_AGE_MS: int(0, 86_400_000)
    .default(600_000)
    .describe('a webhook whose transaction time (created) is further than this from the clock here is refused as a replay; 0 = no limit'),
  STORAGE_DIR: z
    .string()
    .startsWith('/', 'STORAGE_DIR must be an absolute path')
    .default('/var/lib/releasedesk')
    .describe('blobs, repositories and scratch space'),
  BLOB_STORE: blobStore
    .default({ kind: 'local' })
    .describe(
      'where blobs are kept beyond STORAGE_DIR, so workers on several machines share them (README: Blob store): ' +
        '"local" (STORAGE_DIR only), file:///ABSOLUTE/DIR (a directory every worker mounts) or ' +
        `s3+http(s)://KEY:SECRET@host[:port]/BUCKET[/PREFIX][;region=R] (any S3-compatible store), e.g. "${BLOB_STORE_EXAMPLE}"`,
    ),
  PUBLIC_URL: url('PUBLIC_URL').default('http://127.0.0.1:8080').describe('URL under which repositories are served'),
  ADVISORY_PREFIX: z
    .string()
    .regex(/^[A-Z][A-Z0-9]{1,15}$/, 'ADVISORY_PREFIX must be 2-16 capital letters and digits, starting with a letter (e.g. RD, UMD)')
    .default('RD')
    .describe('the first part of advisory ids in Production updateinfo.xml: <PREFIX>-<year>-<ticket>'),
  SIGNING_KEY_FILES: fileList(false)
    .default([])
    .describe(
      'comma-separated ASCII-armoured secret keys that sign every repository index, the first being the primary; ' +
        'all of them sign (key rotation). Unset: STORAGE_DIR/signing/releasedesk-signing.asc, generated on first start',
    ),
  SIGNING_PASSPHRASE_FILES: fileList(true)
    .default([])
    .describe('comma-separated files holding the passphrases of SIGNING_KEY_FILES, in the same order; an empty entry: no passphrase'),
  DESK_NAME: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'DESK_NAME must be 1-64 lower-case letters, digits and dashes (e.g. central, site-de)')
    .default('releasedesk')
    .describe('what this desk is called in the bundles it exports and in the status it reports to peers'),
  PEERS: peerList
    .default([])
    .describe(
      'comma-separated NAME=URL|SECRET of the other desks this one exchanges bundles with: their DESK_NAME, base URL and the secret both sides share (16+ characters)',
    ),
  API_TOKENS: z
    .string()
    .transform((v, ctx) =>
      v
        .split(',')
        .map((t) => t.trim())
        .filter((t) => {
          if (t.length >= 16) return true;
          if (t) ctx.addIssue({ code: 'custom', message: 'each token must be at least 16 characters' });
          return false;
        }),
    )
    .default([])
    .describe(
      'comma-separated bearer tokens of operators and scripts for the endpoints that hand out releases (GET /releases/:ticket/bundle)',
    ),
  PUBLIC_READS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: the release views (API reads, console pages) answer without sign-in; repositories and keys are always public'),
  ADMIN_GROUP: z
    .string()
    .min(1)
    .default('ReleasedeskAdmins')
    .describe('RT group whose members may run admin operations (mirror sync, gc, drift check) from the console or the API'),
  SESSION_SECRET: secret('SESSION_SECRET')
    .optional()
    .describe('key of the console session cookies (16+ characters); default: derived from WEBHOOK_SECRET'),
  SESSION_MAX_AGE_MS: int(60_000, 30 * 86_400_000)
    .default(8 * 3_600_000)
    .describe('how long a console sign-in lasts'),
  TRUSTED_BUNDLE_KEYS: fileList(false)
    .default([])
    .describe(
      "comma-separated public key files (the source desk's PUBLIC_URL/keys/releasedesk.asc) whose signatures on exported bundles this desk accepts; empty: no bundle is imported",
    ),
  ALLOWED_DOWNLOAD_HOSTS: hostList
    .default([])
    .describe('comma-separated hosts allowed even if loopback/private (e.g. 127.0.0.1); public hosts are always allowed'),
  MAX_DOWNLOAD_BYTES: int(1, 2 ** 45)
    .default(4 * 2 ** 30)
    .describe('size cap of one download'),
  DOWNLOAD_TIMEOUT_MS: int(100, 3_600_000).default(30_000).describe('connect and idle-read timeout of a download'),
  MAX_BUNDLE_ENTRIES: int(1, 1_000_000).default(10_000).describe('entries allowed in one bundle'),
  MAX_BUNDLE_BYTES: int(1, 2 ** 45)
    .default(8 * 2 ** 30)
    .describe('unpacked bytes allowed in one bundle'),
  MIRROR_TARGETS: mirrorTargets
    .default([])
    .describe(
      'comma-separated NAME=URL[;delete][;public=URL] mirrors of Production, kept in sync by the worker (README: Mirrors); ' +
        `URL s3+http(s)://KEY:SECRET@host/BUCKET[/PREFIX], rsync://host/MODULE[/PATH] or ssh://host/PATH, e.g. "${MIRROR_TARGETS_EXAMPLE}"`,
    ),
  MIRROR_CHECK_MS: int(200, 3_600_000)
    .default(5_000)
    .describe('how often the worker looks for a change of Production to mirror (changes within one look are one sync)'),
  MIRROR_SYNC_INTERVAL_MS: int(1_000, 7 * 86_400_000)
    .default(3_600_000)
    .describe('a full sync of each mirror at least this often, changed or not (it finds and repairs what changed on the target)'),
  DRIFT_INTERVAL_MS: int(0, 7 * 86_400_000)
    .default(900_000)
    .describe('how often the worker compares tickets, records, repositories and mirrors (README: Drift); 0 = only on request'),
  RECONCILE_INTERVAL_MS: int(0, 86_400_000).default(60_000).describe('how often RT is polled for missed RepoAction changes; 0 = never'),
  OUTBOX_INTERVAL_MS: int(50, 600_000).default(1_000).describe('how often undelivered ticket write-backs are retried'),
  OUTBOX_REFUSED_RETRY_MS: int(1_000, 86_400_000)
    .default(300_000)
    .describe(
      'longest wait before a write-back RT refused (RD_HELPDESK_WRITE_REFUSED, RD_HELPDESK_REFUSED) is tried again: from 30 s, doubling; ' +
        'the first write RT takes again sends the held ones at once',
    ),
  WORKER_CONCURRENCY: int(1, 64).default(4).describe('jobs processed at once per worker process'),
  WORKER_LOCK_MS: int(1_000, 600_000).default(30_000).describe("job lock; a killed worker's job is taken over within about twice this"),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Parsed = z.infer<typeof configSchema>;
export type Config = Omit<Parsed, 'NOTICE_GROUPS'> & { NOTICE_GROUPS: Partial<Record<RepoStatus, string>> };

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** All problems at once, one line per bad value, so a operator fixes the environment in one go. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input = Object.fromEntries(Object.keys(configSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = configSchema.safeParse(input);
  if (parsed.success) {
    const c = parsed.data;
    const signing = signingProblems(c.SIGNING_KEY_FILES, c.SIGNING_PASSPHRASE_FILES);
    if (signing.length > 0) throw new ConfigError(signing);
    // the hand-offs of the seed workflow follow the role groups unless set apart
    return { ...c, NOTICE_GROUPS: c.NOTICE_GROUPS ?? { Unverified: c.TECHNOLOGY_UNIT_GROUP, StageRollOut: c.ROLLOUT_GROUP } };
  }
  throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
}

/** The two lists pair up by position; passphrases without keys would be for the generated key, which has none. */
function signingProblems(keys: string[], passphrases: string[]): string[] {
  if (passphrases.length === 0) return [];
  if (keys.length === 0) return ['SIGNING_PASSPHRASE_FILES: set without SIGNING_KEY_FILES; the generated default key has no passphrase'];
  if (passphrases.length > keys.length) {
    return [
      `SIGNING_PASSPHRASE_FILES: ${passphrases.length} entries for ${keys.length} key(s) in SIGNING_KEY_FILES; give one per key, in its order`,
    ];
  }
  return [];
}
