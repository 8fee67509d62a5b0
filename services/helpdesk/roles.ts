/**
 * The role policy: who holds which workflow role. A provider is a requestor of the ticket; the other roles
 * are RT groups, named in the configuration.
 */
import type { Config } from '../../config/index.ts';
import type { Helpdesk, TicketInfo } from './port.ts';
import type { Role } from '../workflow/transitions.ts';

export type GroupNames = Record<Exclude<Role, 'provider'>, string>;

/** The RT group of each role that is one. */
export const groupNames = (config: Pick<Config, 'TECHNOLOGY_UNIT_GROUP' | 'ROLLOUT_GROUP'>): GroupNames => ({
  technologyUnit: config.TECHNOLOGY_UNIT_GROUP,
  rolloutCoordinator: config.ROLLOUT_GROUP,
});

/**
 * A provider is a requestor of the ticket; the other roles come from RT group membership, which may be a
 * little old unless `fresh`.
 */
export async function resolveRoles(
  rt: Pick<Helpdesk, 'getUserEmail' | 'userGroups'>,
  actor: string,
  ticket: TicketInfo,
  groups: GroupNames,
  fresh = false,
): Promise<Role[]> {
  const roles: Role[] = [];
  const [email, memberOf] = await Promise.all([rt.getUserEmail(actor), rt.userGroups(actor, { fresh })]);
  const ids = [actor.toLowerCase(), email?.toLowerCase()].filter(Boolean) as string[];
  if (ticket.requestors.some((r) => ids.includes(r.toLowerCase()))) roles.push('provider');
  if (memberOf.includes(groups.technologyUnit)) roles.push('technologyUnit');
  if (memberOf.includes(groups.rolloutCoordinator)) roles.push('rolloutCoordinator');
  return roles;
}
