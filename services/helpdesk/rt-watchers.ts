import { RdError } from '../errors.ts';
import { getUser } from './rt-directory.ts';
import { collect } from './rt-pages.ts';
import { rtMessage, type RtSession } from './rt-session.ts';
import { notFound, num, type Page, type Ref, type WireTransaction } from './rt-types.ts';

/**
 * Ticket watchers (AdminCc) in RT 5.0.3 REST2, as they really behave:
 *
 * - The only way to change them is `PUT /ticket/:id {"AdminCc": [...]}`, and the list REPLACES the
 *   role's members (RT::REST2::Util::update_role_members adds what is new and deletes what is
 *   missing). There is no "AddAdminCc" (unknown keys are ignored silently), and 5.0.3 has no
 *   watcher endpoint. So adding one = read the members, PUT them plus the new one.
 * - A list item is a principal id (digits), `group:<name>`, a user name or an email address. An
 *   item RT cannot resolve (unknown group or user, unknown id) makes RT die: HTTP 500, which would
 *   look transient. Hence the group is looked up first (`GET /groups`, needs SeeGroup) and only
 *   principal ids are sent.
 * - Adding someone else as a watcher needs ModifyTicket on the ticket (WatchAsAdminCc only lets a
 *   user add themselves); without it RT answers 200 `["Permission denied"]`.
 * - `GET /ticket/:id` lists the role's direct members in "AdminCc": a group as
 *   `{type: "group", id: "<group id>"}`, a user as `{type: "user", id: "<user name>"}`.
 *
 * A member added or removed by someone else between the read and the PUT would be undone by the
 * PUT: RT then reports more changes than asked for, and they are repaired from the ticket history
 * (the ETag of the read is the newest transaction id then).
 */

interface WireWatchers {
  Queue?: Ref;
  Status?: string;
  AdminCc?: Ref[];
}

const MAX_ATTEMPTS = 3;

/** Id of the user-defined group (RT names are case-insensitive), or null when RT has none the service may see. */
export async function groupId(session: RtSession, name: string): Promise<number | null> {
  const res = await session.request<Page<Ref>>({
    method: 'GET',
    path: '/groups',
    params: {
      query: JSON.stringify([
        { field: 'Name', value: name },
        { field: 'Domain', value: 'UserDefined' },
      ]),
    },
  });
  const id = num(res.data?.items?.[0]?.id);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/**
 * Makes the user-defined group an AdminCc (watcher) of the ticket, keeping every other watcher.
 * Idempotent: a group that already is one changes nothing. Proven by re-reading the ticket.
 * RD_HELPDESK_REFUSED when the group is unknown (or not visible) or RT does not add it.
 */
export async function addAdminCcGroup(
  session: RtSession,
  ticketId: number,
  groupName: string,
  queue: { id: number; name: string },
  knownGroupId?: number,
): Promise<void> {
  const gid = knownGroupId ?? (await groupId(session, groupName));
  if (gid === null) {
    throw new RdError(
      'RD_HELPDESK_REFUSED',
      `RT has no group ${groupName} to add as AdminCc of ticket ${ticketId} (or the service may not see it: SeeGroup)`,
      { ticketId, group: groupName },
    );
  }
  const path = `/ticket/${ticketId}`;
  const users = new Map<string, number>(); // user name -> principal id, for this call
  // repairs after a concurrent change: members our PUT removed (restore them) or brought back (remove again)
  const restore = new Set<number>();
  const remove = new Set<number>();
  let last: { messages: string[]; raced: boolean } | undefined;

  for (let attempt = 1; ; attempt++) {
    const res = await session.request<WireWatchers>({ method: 'GET', path, notFound: () => notFound(ticketId) });
    if (num(res.data?.Queue?.id) !== queue.id) throw notFound(ticketId, `ticket ${ticketId} is not in queue ${queue.name}`);
    if (res.data.Status === 'deleted') throw notFound(ticketId, `ticket ${ticketId} is deleted`);
    const etag = Number(/^(?:W\/)?"?(\d+)"?$/.exec(String(res.headers?.etag ?? ''))?.[1] ?? 0); // newest transaction id
    const have = await principalIds(session, res.data.AdminCc ?? [], users, ticketId);

    const adds = [gid, ...restore].filter((p) => !have.has(p));
    const dels = [...remove].filter((p) => have.has(p));
    if (!adds.length && !dels.length) return;
    if (last && (!last.raced || attempt > MAX_ATTEMPTS)) {
      throw new RdError(
        'RD_HELPDESK_REFUSED',
        `RT did not add group ${groupName} as AdminCc of ticket ${ticketId}: ${last.messages.join('; ') || 'no message'}`,
        { ticketId, group: groupName, messages: last.messages },
      );
    }

    const want = [...have, ...adds].filter((p) => !dels.includes(p));
    const put = await session.request<unknown>({ method: 'PUT', path, body: { AdminCc: want }, notFound: () => notFound(ticketId) });
    const messages = Array.isArray(put.data) ? put.data.map(String) : [rtMessage(put.data)];
    // one message per change: more means the members changed between our read and our write
    last = { messages, raced: messages.length > adds.length + dels.length };
    if (last.raced && etag > 0) await repair(session, ticketId, etag, new Set(adds), new Set(dels), restore, remove);
  }
}

/** Principal ids of role members as GET /ticket/:id shows them (groups by id, users by name). */
async function principalIds(session: RtSession, members: Ref[], users: Map<string, number>, ticketId: number): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const m of members) {
    let id = NaN;
    if (m.type === 'group') id = num(m.id);
    else if (m.type === 'user') {
      const name = String(m.id);
      if (!users.has(name)) users.set(name, (await getUser(session, name))?.id ?? NaN);
      id = users.get(name)!;
    }
    // a member left out of the PUT would be removed
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new RdError(
        'RD_HELPDESK_REFUSED',
        `ticket ${ticketId} has an AdminCc the service cannot resolve (${m.type} ${m.id}); its watchers are left as they are`,
        {
          ticketId,
          member: m,
        },
      );
    }
    ids.add(id);
  }
  return ids;
}

/**
 * After a PUT that changed more than asked: the AdminCc transactions of that PUT (newer than the
 * read, by the same creator as our own change) that were not ours to make are undone next round.
 */
async function repair(
  session: RtSession,
  ticketId: number,
  afterId: number,
  adds: Set<number>,
  dels: Set<number>,
  restore: Set<number>,
  remove: Set<number>,
): Promise<void> {
  const txns = await collect<WireTransaction>(session, {
    path: '/transactions',
    params: {
      query:
        `ObjectType = 'RT::Ticket' AND ObjectId = ${ticketId} AND id > ${afterId}` +
        ` AND Field = 'AdminCc' AND (Type = 'AddWatcher' OR Type = 'DelWatcher')`,
      fields: 'Type,Field,OldValue,NewValue,Creator',
      orderby: 'id',
      order: 'ASC',
    },
  });
  const principal = (t: WireTransaction) => num(t.Type === 'AddWatcher' ? t.NewValue : t.OldValue);
  const mine = txns.find((t) => (t.Type === 'AddWatcher' ? adds : dels).has(principal(t)));
  if (!mine) return;
  const us = String(mine.Creator?.id ?? '');
  for (const t of txns) {
    if (String(t.Creator?.id ?? '') !== us) continue;
    const p = principal(t);
    if (t.Type === 'DelWatcher' && !dels.has(p)) {
      restore.add(p);
      remove.delete(p);
    }
    if (t.Type === 'AddWatcher' && !adds.has(p)) {
      remove.add(p);
      restore.delete(p);
    }
  }
}
