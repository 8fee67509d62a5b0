import { catalog, isRdError } from '../errors.ts';
import type { Decision, Role } from '../workflow/transitions.ts';

/**
 * The one place that turns errors into ticket comments: `[CODE] what failed` and what to do next.
 * Unknown errors become a reference; the stack stays in the log.
 */
export function errorComment(err: unknown, action: string, ref: string): { code: string; text: string } {
  const { code, detail } = describe(err, ref);
  return { code, text: `${action} failed.\n\n${detail}` };
}

/**
 * Said once, at an action's first transient failure: the ticket would otherwise show Processing and nothing
 * else for as long as the retries last, and the cause may be the provider's to fix (a download host down).
 */
export function retryComment(err: unknown, action: string, ref: string, retryWindowMs: number): string {
  const minutes = Math.round(retryWindowMs / 60_000);
  return (
    `${action} has not succeeded yet; releasedesk tries again by itself for about ${minutes} minutes.\n\n${describe(err, ref).detail}\n\n` +
    'If it still fails then, RepoStatus and a comment here say so.'
  );
}

function describe(err: unknown, ref: string): { code: string; detail: string } {
  if (isRdError(err)) return { code: err.code, detail: `[${err.code}] ${err.message}\n\nWhat to do: ${catalog[err.code].next}` };
  return { code: 'RD_INTERNAL', detail: `[RD_INTERNAL] internal error, reference ${ref}\n\nWhat to do: ${catalog.RD_INTERNAL.next}` };
}

export function refusalComment(
  d: Extract<Decision, { ok: false }>,
  actor: string,
  groupOf: Record<Exclude<Role, 'provider'>, string>,
): string {
  switch (d.code) {
    case 'RD_ROLE_FORBIDDEN': {
      const who = d.allowedRoles.map((r) => (r === 'provider' ? 'the ticket requestor (software provider)' : `group ${groupOf[r]}`));
      return `[RD_ROLE_FORBIDDEN] ${actor} may not ${d.action}; allowed: ${who.join(' or ')}. Nothing was changed.`;
    }
    case 'RD_ACTION_NOT_ALLOWED': {
      const now = d.validNow.length ? d.validNow.join(', ') : 'none';
      return `[RD_ACTION_NOT_ALLOWED] ${d.action} is not valid while RepoStatus is ${d.status}; actions valid now: ${now}. Nothing was changed.`;
    }
    case 'RD_RELEASE_PUBLISHED':
      return `[RD_RELEASE_PUBLISHED] ${d.action} is refused: this release reached Production and can no longer change. ${catalog.RD_RELEASE_PUBLISHED.next} Nothing was changed.`;
  }
}

const PEER_STATUS_WORDS = { accepted: 'accepted it (Unverified)', applied: 'applied it (Production)', rejected: 'rejected it' } as const;

/** Said on the source ticket when a desk that imported its release moves it (REPORTED_TO_SOURCE). */
export function peerStatusComment(p: {
  desk: string;
  url: string;
  ticket: number;
  status: string;
  word: keyof typeof PEER_STATUS_WORDS;
}): string {
  return (
    `The release desk "${p.desk}" (${p.url}) ${PEER_STATUS_WORDS[p.word]}: its ticket ${p.ticket} is now ${p.status}.\n\n` +
    'That desk runs its own review and repositories; this ticket is not changed by it.'
  );
}

/**
 * Said once per release and mirror, when a mirror could not be brought to the Production this release
 * changed: sites that read that mirror still see the state before it.
 */
export function mirrorFailedComment(p: { action: string; mirror: string; where: string; err: unknown; ref: string }): string {
  return (
    `${p.action} is done here, but mirror "${p.mirror}" (${p.where}) does not show it yet: sites that install from that mirror ` +
    `still see the previous state.\n\n${describe(p.err, p.ref).detail}\n\n` +
    'releasedesk syncs the mirror again by itself; `releasedesk sync status` shows where it stands. Nothing is needed on this ticket.'
  );
}

/** Said once per stay in a status when the release passes its deadline there (SLA_DEADLINES). */
export function overdueComment(p: { status: string; days: number; deadlineDays: number; group: string | null; next: string }): string {
  return (
    `[RD_SLA_OVERDUE] This release has been ${p.status} for ${p.days} days; the deadline there is ${p.deadlineDays} days (SLA_DEADLINES).\n\n` +
    (p.group ? `It waits for group ${p.group}: ${p.next}` : `It waits for: ${p.next}`)
  );
}
