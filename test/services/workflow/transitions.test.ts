import { describe, expect, it } from 'vitest';
import {
  PROMOTION_TARGETS,
  REPO_ACTIONS,
  REPO_STATUSES,
  ROLES,
  STAGE_OF_STATUS,
  decide,
  factsOf,
  targetOf,
  transitions,
  validActions,
  waitsToEnter,
  type Facts,
  type RepoAction,
  type RepoStatus,
  type Role,
} from '../../../services/workflow/transitions.ts';

// Every subset of roles, so that "no role" and "several roles" are covered too.
const roleSets: Role[][] = [[], ...ROLES.map((r) => [r]), [...ROLES]];
const noFacts: Facts = { emergency: false, waitsForStage: false, waitsForProduction: false };
const factSets: Array<[string, Facts]> = [
  ['no facts', noFacts],
  ['emergency', { ...noFacts, emergency: true }],
  ['waits for stage', { ...noFacts, waitsForStage: true }],
  ['waits for production', { ...noFacts, waitsForProduction: true }],
];

/**
 * The workflow of the issue, written out by hand (not derived from the table under test): who may ask for
 * what, and from which status (with which fact) it starts. ok = starts; published = refused as immutable.
 */
const WHO: Record<RepoAction, Role[]> = {
  MoveToUnverified: ['provider'],
  MoveToStageRollOut: ['technologyUnit'],
  MoveToProduction: ['rolloutCoordinator'],
  Reject: ['technologyUnit'],
  Deprecate: ['technologyUnit', 'rolloutCoordinator'],
};
function expected(action: RepoAction, status: RepoStatus, f: Facts): 'ok' | 'published' | 'not now' {
  switch (action) {
    case 'MoveToUnverified':
      return ['New', 'Failed', 'Rejected'].includes(status)
        ? 'ok'
        : ['Production', 'Deprecated'].includes(status)
          ? 'published'
          : 'not now';
    case 'MoveToStageRollOut':
      return status === 'Unverified' || (status === 'Incomplete' && f.waitsForStage) ? 'ok' : 'not now';
    case 'MoveToProduction':
      return status === 'StageRollOut' ||
        status === 'Deprecated' ||
        (status === 'Unverified' && f.emergency) ||
        (status === 'Incomplete' && f.waitsForProduction)
        ? 'ok'
        : 'not now';
    case 'Reject':
      return ['Unverified', 'StageRollOut', 'Incomplete'].includes(status) ? 'ok' : 'not now';
    case 'Deprecate':
      return status === 'Production' ? 'ok' : 'not now';
  }
}

describe('decide(): every action x status x role set x facts, against the workflow written out by hand', () => {
  for (const action of REPO_ACTIONS) {
    for (const status of REPO_STATUSES) {
      for (const roles of roleSets) {
        it(`${action} from ${status} by [${roles.join(',')}]`, () => {
          for (const [, facts] of factSets) {
            const d = decide(status, action, roles, facts);
            if (!WHO[action].some((r) => roles.includes(r))) {
              expect(d).toEqual({ ok: false, code: 'RD_ROLE_FORBIDDEN', action, allowedRoles: WHO[action] });
              continue;
            }
            const want = expected(action, status, facts);
            if (want === 'ok') expect(d).toEqual({ ok: true, action, transition: transitions[action] });
            else if (want === 'published') expect(d).toEqual({ ok: false, code: 'RD_RELEASE_PUBLISHED', action, status });
            else {
              expect(d).toMatchObject({ ok: false, code: 'RD_ACTION_NOT_ALLOWED', action, status });
              const validNow = REPO_ACTIONS.filter((a) => expected(a, status, facts) === 'ok');
              expect(d.ok === false && 'validNow' in d && d.validNow).toEqual(validNow);
            }
          }
        });
      }
    }
  }
});

describe('factsOf: what an Incomplete release waits for', () => {
  it('comes from the action that found it unmet', () => {
    expect(factsOf('Incomplete', 'MoveToStageRollOut', false)).toEqual({
      emergency: false,
      waitsForStage: true,
      waitsForProduction: false,
    });
    expect(factsOf('Incomplete', 'MoveToProduction', true)).toEqual({ emergency: true, waitsForStage: false, waitsForProduction: true });
    expect(factsOf('StageRollOut', 'MoveToStageRollOut', false)).toEqual(noFacts);
  });
  it('a release waiting to enter Stage-Rollout cannot be sent to Production past it', () => {
    const facts = factsOf('Incomplete', 'MoveToStageRollOut', false);
    expect(decide('Incomplete', 'MoveToProduction', ['rolloutCoordinator'], facts)).toMatchObject({
      code: 'RD_ACTION_NOT_ALLOWED',
      validNow: ['MoveToStageRollOut', 'Reject'],
    });
    expect(decide('Incomplete', 'MoveToStageRollOut', ['technologyUnit'], facts).ok).toBe(true);
  });
});

describe('the table itself', () => {
  it('a provider starts from New, Failed and Rejected only; a published release never changes again', () => {
    expect(decide('New', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Failed', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Rejected', 'MoveToUnverified', ['provider']).ok).toBe(true);
    expect(decide('Production', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_RELEASE_PUBLISHED' });
    expect(decide('Deprecated', 'MoveToUnverified', ['provider'])).toMatchObject({ code: 'RD_RELEASE_PUBLISHED' });
    expect(decide('StageRollOut', 'MoveToUnverified', ['provider'])).toMatchObject({
      code: 'RD_ACTION_NOT_ALLOWED',
      validNow: ['MoveToProduction', 'Reject'],
    });
  });
  it('lets an emergency release skip Stage-Rollout only when the fact holds', () => {
    expect(decide('Unverified', 'MoveToProduction', ['rolloutCoordinator'])).toMatchObject({ code: 'RD_ACTION_NOT_ALLOWED' });
    expect(decide('Unverified', 'MoveToProduction', ['rolloutCoordinator'], { ...noFacts, emergency: true }).ok).toBe(true);
    expect(validActions('Unverified', ['rolloutCoordinator'], { ...noFacts, emergency: true })).toEqual(['MoveToProduction']);
  });
  it('restores a Deprecated release to Production, by a rollout coordinator only', () => {
    expect(decide('Deprecated', 'MoveToProduction', ['rolloutCoordinator']).ok).toBe(true);
    expect(decide('Deprecated', 'MoveToProduction', ['technologyUnit'])).toMatchObject({ code: 'RD_ROLE_FORBIDDEN' });
  });
  it('a failed promotion leaves the release where it was; a failed submission ends Failed', () => {
    expect(transitions.MoveToUnverified.failure).toBe('Failed');
    for (const a of ['MoveToStageRollOut', 'MoveToProduction', 'Reject', 'Deprecate'] as const)
      expect(transitions[a].failure).toBe('unchanged');
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

describe('what is derived from the table: the stages', () => {
  it('each status a repository shows, and which', () => {
    expect(STAGE_OF_STATUS).toEqual({ Unverified: 'unverified', StageRollOut: 'stage-rollout', Production: 'production' });
  });
  it('the stage each action puts the release in; none for Reject and Deprecate', () => {
    expect([targetOf('MoveToUnverified'), targetOf('MoveToStageRollOut'), targetOf('MoveToProduction')]).toEqual([
      'unverified',
      'stage-rollout',
      'production',
    ]);
    expect(() => targetOf('Reject')).toThrow();
    expect(() => targetOf('Deprecate')).toThrow();
  });
  it('the stages a release may wait to enter, and which one an Incomplete release waits for', () => {
    expect(PROMOTION_TARGETS).toEqual(['stage-rollout', 'production']);
    expect(waitsToEnter('MoveToStageRollOut')).toBe('stage-rollout');
    expect(waitsToEnter('MoveToProduction')).toBe('production');
    for (const a of ['MoveToUnverified', 'Reject', 'Deprecate', null] as const) expect(waitsToEnter(a)).toBeUndefined();
  });
});
