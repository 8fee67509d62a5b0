import { collect } from './rt-pages.ts';
import type { RtSession } from './rt-session.ts';
import { num, type Ref, type RtUser } from './rt-types.ts';

export interface DirectoryGroup {
  id: number;
  Name: string;
  Members?: Ref[];
}

/**
 * Every user-defined group the service may see, with its direct members.
 *
 * Not `GET /user/NAME/groups` nor `/group/ID/members`: both need AdminGroupMembership, which would
 * let the service change who may promote a release. Instead the groups the service may see
 * (SeeGroup) are listed and each one's `Members` read: 1 + N small requests.
 */
export async function readGroups(session: RtSession): Promise<DirectoryGroup[]> {
  const list = await collect<Ref>(session, {
    path: '/groups',
    params: { query: JSON.stringify([{ field: 'Domain', value: 'UserDefined' }]) },
  });
  return Promise.all(list.map(async (g) => (await session.request<DirectoryGroup>({ method: 'GET', path: `/group/${num(g.id)}` })).data));
}

/** Names of the groups the user belongs to, directly or through a member group. */
export function memberOf(groups: DirectoryGroup[], userName: string): string[] {
  const want = userName.toLowerCase();
  const byId = new Map(groups.map((g) => [num(g.id), g]));
  const hit = new Set<number>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const g of groups) {
      const id = num(g.id);
      if (hit.has(id)) continue;
      const member = (g.Members ?? []).some((m) =>
        m.type === 'group' ? hit.has(num(m.id)) && byId.has(num(m.id)) : String(m.id).toLowerCase() === want,
      );
      if (member) {
        hit.add(id);
        changed = true;
      }
    }
  }
  return groups
    .filter((g) => hit.has(num(g.id)))
    .map((g) => g.Name)
    .sort();
}

interface WireUser {
  Name?: string;
  EmailAddress?: string;
  _hyperlinks?: { ref: string; id: number | string }[];
}

/** A privileged caller without AdminUsers sees a summary (no `id`: it is in the self link). */
export async function getUser(session: RtSession, name: string): Promise<RtUser | null> {
  let res: Awaited<ReturnType<typeof session.request<WireUser>>>;
  try {
    res = await session.request<WireUser>({
      method: 'GET',
      path: `/user/${encodeURIComponent(name)}`,
      notFound: () => new UserNotFound(),
    });
  } catch (e) {
    if (e instanceof UserNotFound) return null;
    throw e;
  }
  const self = res.data._hyperlinks?.find((l) => l.ref === 'self');
  return { id: num(self?.id), name: res.data.Name ?? name, email: res.data.EmailAddress ?? '' };
}

class UserNotFound extends Error {}
