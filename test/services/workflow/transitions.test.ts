import { describe, expect, it } from 'vitest';
import {
  REPO_ACTIONS, REPO_STATUSES, ROLES, decide, transitions, validActions, type Role,
} from '../../../services/workflow/transitions.ts';

// Every subset of roles, so that "no role" and "several roles" are covered too.
const roleSets: Role[][] = [[], ...ROLES.map((r) => [r]), [...ROLES]];

describe('decide(): every action x status x role set', () => {
  for (const action of REPO_ACTIONS) {
    for (const status of REPO_STATUSES) {
      for (const roles of roleSets) {
        it(`${action} from ${status} by [${roles.join(',')}]`, () => {
          const t = transitions[action];
          const d = decide(status, action, roles);
          const hasRole = t.roles.some((r) => roles.includes(r));
          if (!hasRole) {
            expect(d).toEqual({ ok: false, code: 'RD_ROLE_FORBIDDEN', action, allowedRoles: t.roles });
          } else if (!t.from.includes(status)) {
            const published = action === 'MoveToUnverified' && (status === 'Production' || status === 'Deprecated');
            expect(d.ok).toBe(false);
            expect(d.ok === false && d.code).toBe(published ? 'RD_RELEASE_PUBLISHED' : 'RD_ACTION_NOT_ALLOWED');
          } else if (!t.available) {
            expect(d).toEqual({ ok: false, code: 'RD_ACTION_NOT_AVAILABLE', action });
          } else {
            expect(d).toEqual({ ok: true, action, transition: t });
          }
        });
      }
    }
  }
});

describe('the table itself', () => {
  it('has every action available', () => {
    expect(REPO_ACTIONS.filter((a) => transitions[a].available)).toEqual([...REPO_ACTIONS]);
  });
  it('a provider starts from New, Failed and Rejected only; a published release never changes again', () => {
    expect(decide('New', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Failed', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Rejected', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Production', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_RELEASE_PUBLISHED' });
    expect(decide('Deprecated', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_RELEASE_PUBLISHED' });
    expect(decide('StageRollOut', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_ACTION_NOT_ALLOWED', validNow: ['MoveToProduction', 'Reject'] });
  });
  it('lets an emergency release skip Stage-Rollout only when the fact holds', () => {
    expect(decide('Unverified', 'MoveToProduction', ['rolloutCoordinator'])).toMatchObject({ code: 'RD_ACTION_NOT_ALLOWED' });
    expect(decide('Unverified', 'MoveToProduction', ['rolloutCoordinator'], { emergency: true }).ok).toBe(true);
    expect(validActions('Unverified', ['rolloutCoordinator'], { emergency: true })).toEqual(['MoveToProduction']);
  });
  it('restores a Deprecated release to Production, by a rollout coordinator only', () => {
    expect(decide('Deprecated', 'MoveToProduction', ['rolloutCoordinator']).ok).toBe(true);
    expect(decide('Deprecated', 'MoveToProduction', ['technologyUnit'])).toMatchObject({ code: 'RD_ROLE_FORBIDDEN' });
  });
  it('a failed promotion leaves the release where it was; a failed submission ends Failed', () => {
    expect(transitions.MoveToUnverified.failure).toBe('Failed');
    for (const a of ['MoveToStageRollOut', 'MoveToProduction', 'Reject', 'Deprecate'] as const) expect(transitions[a].failure).toBe('unchanged');
  });
  it('never lets an action start from Processing (a job is running)', () => {
    for (const a of REPO_ACTIONS) expect(transitions[a].from).not.toContain('Processing');
  });
  it('lists the actions valid now, for anyone or for given roles', () => {
    expect(validActions('New')).toEqual(['MoveToUnverified']);
    expect(validActions('New', ['technologyUnit'])).toEqual([]);
    expect(validActions('Unverified')).toEqual(['MoveToStageRollOut', 'Reject']);
    expect(validActions('Production', ['technologyUnit'])).toEqual(['Deprecate']);
  });
  it('every running/success/failure status is a known status', () => {
    for (const a of REPO_ACTIONS) {
      const t = transitions[a];
      for (const s of [t.running, t.success, ...t.from]) expect(REPO_STATUSES).toContain(s);
      if (t.failure !== 'unchanged') expect(REPO_STATUSES).toContain(t.failure);
    }
  });
});
