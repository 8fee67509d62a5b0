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
            expect(d.ok).toBe(false);
            expect(d.ok === false && d.code).toBe('RD_ACTION_NOT_ALLOWED');
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
  it('only MoveToUnverified is available until the promotion steps exist', () => {
    expect(REPO_ACTIONS.filter((a) => transitions[a].available)).toEqual(['MoveToUnverified']);
  });
  it('a provider starts from New, Failed and Rejected only', () => {
    expect(decide('New', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Failed', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Rejected', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Production', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_ACTION_NOT_ALLOWED', validNow: [] });
  });
  it('never lets an action start from Processing (a job is running)', () => {
    for (const a of REPO_ACTIONS) expect(transitions[a].from).not.toContain('Processing');
  });
  it('lists the actions valid now, for anyone or for given roles', () => {
    expect(validActions('New')).toEqual(['MoveToUnverified']);
    expect(validActions('New', ['technologyUnit'])).toEqual([]);
    expect(validActions('Unverified')).toEqual([]);
  });
  it('every running/success/failure status is a known status', () => {
    for (const a of REPO_ACTIONS) {
      const t = transitions[a];
      for (const s of [t.running, t.success, t.failure, ...t.from]) expect(REPO_STATUSES).toContain(s);
    }
  });
});
