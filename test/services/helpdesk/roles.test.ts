/** The role policy, against an in-memory Helpdesk (the real RT's answers are tested by the e2e suites). */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { groupNames, resolveRoles } from '../../../services/helpdesk/roles.ts';
import { MemoryHelpdesk } from '../../support/memory-helpdesk.ts';

const config = loadConfig({
  RT_TOKEN: 'test-token-0123456789abcdef',
  WEBHOOK_SECRET: 'test-webhook-secret-0123456789',
  TECHNOLOGY_UNIT_GROUP: 'TU-Reviewers',
  ROLLOUT_GROUP: 'RC-Publishers',
});
const groups = groupNames(config);

function helpdesk() {
  return new MemoryHelpdesk()
    .ticket(1, ['prov@example.org', 'provider2'])
    .user('provider1', 'Prov@Example.ORG')
    .user('provider2', undefined)
    .user('stranger', 'stranger@example.org')
    .user('tu1', 'tu1@example.org', ['Everyone', 'TU-Reviewers'])
    .user('rc1', 'rc1@example.org', ['RC-Publishers'])
    .user('both', 'prov@example.org', ['RC-Publishers', 'TU-Reviewers'])
    .user('default-named', 'dn@example.org', ['TechnologyUnit', 'RolloutCoordinators']);
}

describe('resolveRoles', () => {
  it('the groups of the roles are the configured ones', () => {
    expect(groups).toEqual({ technologyUnit: 'TU-Reviewers', rolloutCoordinator: 'RC-Publishers' });
  });

  it('a requestor by e-mail, compared case-blind, is the provider', async () => {
    const rt = helpdesk();
    const ticket = await rt.getTicket(1);
    expect(await resolveRoles(rt, 'provider1', ticket, groups)).toEqual(['provider']);
  });

  it('a requestor by user name, compared case-blind, is the provider, with no e-mail known', async () => {
    const rt = helpdesk();
    const ticket = await rt.getTicket(1);
    expect(await resolveRoles(rt, 'provider2', ticket, groups)).toEqual(['provider']);
    rt.user('Provider2', undefined);
    expect(await resolveRoles(rt, 'Provider2', ticket, groups)).toEqual(['provider']);
  });

  it('someone who is neither requestor nor in a role group has no role', async () => {
    const rt = helpdesk();
    expect(await resolveRoles(rt, 'stranger', await rt.getTicket(1), groups)).toEqual([]);
    expect(await resolveRoles(rt, 'nobody-known', await rt.getTicket(1), groups)).toEqual([]);
  });

  it('membership of the configured groups gives technologyUnit and rolloutCoordinator; the default group names do not', async () => {
    const rt = helpdesk();
    const ticket = await rt.getTicket(1);
    expect(await resolveRoles(rt, 'tu1', ticket, groups)).toEqual(['technologyUnit']);
    expect(await resolveRoles(rt, 'rc1', ticket, groups)).toEqual(['rolloutCoordinator']);
    expect(await resolveRoles(rt, 'both', ticket, groups)).toEqual(['provider', 'technologyUnit', 'rolloutCoordinator']);
    expect(await resolveRoles(rt, 'default-named', ticket, groups)).toEqual([]);
  });

  it('passes `fresh` through to the group read (default: a read that may be a little old)', async () => {
    const rt = helpdesk();
    const ticket = await rt.getTicket(1);
    rt.cachedGroups.tu1 = []; // the copy predates tu1's membership
    expect(await resolveRoles(rt, 'tu1', ticket, groups)).toEqual([]);
    expect(await resolveRoles(rt, 'tu1', ticket, groups, true)).toEqual(['technologyUnit']);
    expect(rt.groupReads).toEqual([
      { name: 'tu1', fresh: false },
      { name: 'tu1', fresh: true },
    ]);
  });
});
