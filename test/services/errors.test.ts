import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog, RdError, isRdError } from '../../services/errors.ts';
import { errorComment, retryComment } from '../../services/helpdesk/comments.ts';
import { ACTION_JOB_OPTIONS } from '../../services/queue.ts';
import { retriesLeftMs } from '../../workers/action-worker.ts';

// The codes are a public contract: tickets, HTTP answers and people's scripts quote them.
const FROZEN = [
  'RD_SIGNATURE_MISSING',
  'RD_SIGNATURE_INVALID',
  'RD_PAYLOAD_INVALID',
  'RD_PAYLOAD_TOO_LARGE',
  'RD_UNSUPPORTED_MEDIA',
  'RD_NOT_FOUND',
  'RD_ACTION_NOT_ALLOWED',
  'RD_ROLE_FORBIDDEN',
  'RD_RELEASE_PUBLISHED',
  'RD_TICKET_NOT_FOUND',
  'RD_ATTACHMENT_MISSING',
  'RD_XML_MALFORMED',
  'RD_XML_FORBIDDEN',
  'RD_XML_NAMESPACE',
  'RD_XML_INVALID',
  'RD_URL_FORBIDDEN',
  'RD_DOWNLOAD_FAILED',
  'RD_DOWNLOAD_UNAVAILABLE',
  'RD_DOWNLOAD_TOO_LARGE',
  'RD_DIGEST_MISMATCH',
  'RD_BUNDLE_UNSAFE',
  'RD_BUNDLE_LIMIT',
  'RD_BUNDLE_CORRUPT',
  'RD_PACKAGE_MISSING',
  'RD_PACKAGE_MISMATCH',
  'RD_PACKAGE_UNREADABLE',
  'RD_PUBLISH_FAILED',
  'RD_HELPDESK_UNAVAILABLE',
  'RD_HELPDESK_REFUSED',
  'RD_BUSY',
  'RD_INTERNAL',
  'RD_BASE_REPO_UNAVAILABLE',
  'RD_WEBHOOK_STALE',
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the error catalog', () => {
  it('keeps every published code (codes may be added, never renamed or removed)', () => {
    for (const code of FROZEN) expect(Object.keys(catalog)).toContain(code);
  });
  it('gives every code an HTTP status, a retry class and a next step that reads as a sentence', () => {
    for (const [code, e] of Object.entries(catalog)) {
      expect(code).toMatch(/^RD_[A-Z_]+$/);
      expect(e.http).toBeGreaterThanOrEqual(400);
      expect(e.next, code).toMatch(/^[A-Z].*\.$/);
    }
  });
  it('marks input errors permanent and infrastructure errors transient', () => {
    for (const c of ['RD_DIGEST_MISMATCH', 'RD_XML_INVALID', 'RD_ACTION_NOT_ALLOWED', 'RD_URL_FORBIDDEN'] as const)
      expect(catalog[c].permanent).toBe(true);
    for (const c of ['RD_DOWNLOAD_UNAVAILABLE', 'RD_HELPDESK_UNAVAILABLE', 'RD_BUSY', 'RD_PUBLISH_FAILED', 'RD_INTERNAL'] as const)
      expect(catalog[c].permanent).toBe(false);
  });
  it('only uses codes that exist, everywhere in the code', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const used = new Set<string>();
    for (const f of [...sources(path.join(root, 'services')), ...sources(path.join(root, 'workers'))]) {
      for (const m of readFileSync(f, 'utf8').matchAll(/RdError\('(RD_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    for (const code of used) expect(Object.keys(catalog), code).toContain(code);
  });
  it('recognises an RdError that crossed a process boundary by name and code', () => {
    const e = Object.assign(new Error('x'), { name: 'RdError', code: 'RD_DIGEST_MISMATCH' });
    expect(isRdError(e)).toBe(true);
    expect(isRdError(Object.assign(new Error('x'), { name: 'RdError', code: 'NOPE' }))).toBe(false);
  });
  it('turns errors into ticket comments with the code and the next step; unknown errors into a reference only', () => {
    const c = errorComment(new RdError('RD_DIGEST_MISMATCH', 'a.rpm: sha256 abc, expected def'), 'MoveToUnverified', 'inbox-7');
    expect(c.text).toBe(
      `MoveToUnverified failed.\n\n[RD_DIGEST_MISMATCH] a.rpm: sha256 abc, expected def\n\nWhat to do: ${catalog.RD_DIGEST_MISMATCH.next}`,
    );
    const u = errorComment(new TypeError('secret internals at /srv/x'), 'MoveToUnverified', 'inbox-7');
    expect(u).toMatchObject({ code: 'RD_INTERNAL' });
    expect(u.text).toContain('reference inbox-7');
    expect(u.text).not.toContain('secret internals');
  });
  it('says on the ticket that a transient failure is retried, for how long, and what the provider may do meanwhile', () => {
    const err = new RdError('RD_DOWNLOAD_UNAVAILABLE', 'GET http://h/a.rpm: HTTP 503');
    expect(retryComment(err, 'MoveToUnverified', 'inbox-7', 17 * 60_000)).toBe(
      'MoveToUnverified has not succeeded yet; releasedesk tries again by itself for about 17 minutes.\n\n' +
        `[RD_DOWNLOAD_UNAVAILABLE] GET http://h/a.rpm: HTTP 503\n\nWhat to do: ${catalog.RD_DOWNLOAD_UNAVAILABLE.next}\n\n` +
        'If it still fails then, RepoStatus and a comment here say so.',
    );
    expect(retryComment(new TypeError('secret internals'), 'Reject', 'inbox-8', 60_000)).not.toContain('secret internals');
  });
});

describe('the retries still ahead of a job (BullMQ exponential backoff)', () => {
  it('is every backoff after this attempt: 2 s ... 512 s, about 17 minutes after the first failure; nothing after the last', () => {
    const { attempts, backoff } = ACTION_JOB_OPTIONS;
    expect(retriesLeftMs(attempts, 0, backoff)).toBe(1_022_000);
    expect(retriesLeftMs(attempts, 8, backoff)).toBe(512_000);
    expect(retriesLeftMs(attempts, 9, backoff)).toBe(0);
    expect(retriesLeftMs(1, 0, undefined)).toBe(0);
  });
});
