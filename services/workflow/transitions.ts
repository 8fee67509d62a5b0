/**
 * The release workflow as data: the transition table, decide(), and what is derived from the table. Pure:
 * no I/O, no logging. RepoAction (what people ask for) and RepoStatus (where the release is) are separate.
 */
import type { Stage } from '../storage/repo-ref.ts';

export const REPO_ACTIONS = ['MoveToUnverified', 'MoveToStageRollOut', 'MoveToProduction', 'Reject', 'Deprecate'] as const;
export type RepoAction = (typeof REPO_ACTIONS)[number];

export const REPO_STATUSES = [
  'New',
  'Processing',
  'Unverified',
  'StageRollOut',
  'Production',
  'Incomplete',
  'Rejected',
  'Deprecated',
  'Failed',
] as const;
export type RepoStatus = (typeof REPO_STATUSES)[number];

export const ROLES = ['provider', 'technologyUnit', 'rolloutCoordinator'] as const;
export type Role = (typeof ROLES)[number];

/** What the workflow knows about a release besides its status (read from its release.xml and config). */
export interface Facts {
  /** release.xml says emergency=true and the configuration allows emergencies */
  emergency: boolean;
  /** the release is Incomplete waiting to enter Stage-Rollout (it has not been there) */
  waitsForStage: boolean;
  /** the release is Incomplete waiting to enter Production (it passed Stage-Rollout, or is an emergency) */
  waitsForProduction: boolean;
}

export interface Transition {
  from: readonly RepoStatus[];
  /** further statuses it may start from when a fact holds */
  fromIf?: Partial<Record<RepoStatus, keyof Facts>>;
  roles: readonly Role[];
  running: RepoStatus;
  success: RepoStatus;
  /** the stage (repository) whose index the action puts the release in; it shows the release while in `success` */
  target?: Stage;
  /** where it ends instead when the target cannot take it yet (unmet dependencies): it waits there */
  waits?: RepoStatus;
  /** where a permanent failure leaves the release: a status, or back where it was */
  failure: RepoStatus | 'unchanged';
}

export const transitions: Record<RepoAction, Transition> = {
  MoveToUnverified: {
    from: ['New', 'Failed', 'Rejected'],
    roles: ['provider'],
    running: 'Processing',
    success: 'Unverified',
    target: 'unverified',
    failure: 'Failed',
  },
  MoveToStageRollOut: {
    from: ['Unverified'],
    fromIf: { Incomplete: 'waitsForStage' },
    roles: ['technologyUnit'],
    running: 'Processing',
    success: 'StageRollOut',
    target: 'stage-rollout',
    waits: 'Incomplete',
    failure: 'unchanged',
  },
  MoveToProduction: {
    from: ['StageRollOut', 'Deprecated'],
    fromIf: { Unverified: 'emergency', Incomplete: 'waitsForProduction' },
    roles: ['rolloutCoordinator'],
    running: 'Processing',
    success: 'Production',
    target: 'production',
    waits: 'Incomplete',
    failure: 'unchanged',
  },
  Reject: {
    from: ['Unverified', 'StageRollOut', 'Incomplete'],
    roles: ['technologyUnit'],
    running: 'Processing',
    success: 'Rejected',
    failure: 'unchanged',
  },
  Deprecate: {
    from: ['Production'],
    roles: ['technologyUnit', 'rolloutCoordinator'],
    running: 'Processing',
    success: 'Deprecated',
    failure: 'unchanged',
  },
};

/** The stage an action puts the release in; a programming error for an action that has none. */
export function targetOf(action: RepoAction): Stage {
  const stage = transitions[action].target;
  if (!stage) throw new Error(`${action} puts the release in no stage`);
  return stage;
}

/** The statuses a repository shows, and the stage that shows each: where the action that ends in it put the release. */
export const STAGE_OF_STATUS: Partial<Record<RepoStatus, Stage>> = Object.fromEntries(
  REPO_ACTIONS.flatMap((a) => (transitions[a].target ? [[transitions[a].success, transitions[a].target]] : [])),
);

/**
 * The statuses of an imported release that the desk it came from hears of (its ticket gets a comment), as
 * the seeds' secure-promote shows ACCEPTED, APPLIED/PROMOTED and REJECTED.
 */
export const REPORTED_TO_SOURCE: Partial<Record<RepoStatus, 'accepted' | 'applied' | 'rejected'>> = {
  Unverified: 'accepted',
  Production: 'applied',
  Rejected: 'rejected',
};

/**
 * Whose turn it is while a release is in `status`: the roles of the actions that move it forward into a stage
 * (MoveToStageRollOut from Unverified, MoveToProduction from StageRollOut). None for Incomplete (it waits for
 * another release, not for people), nor for statuses no one moves on from.
 */
export function turnOf(status: RepoStatus): Role[] {
  if (status === 'Incomplete') return [];
  const forward = REPO_ACTIONS.filter((a) => transitions[a].target && transitions[a].from.includes(status));
  return [...new Set(forward.flatMap((a) => transitions[a].roles))].filter((r) => r !== 'provider');
}

/** The stages a release may wait to enter (Incomplete): their requirements are checked before it goes in. */
export const PROMOTION_TARGETS: readonly Stage[] = REPO_ACTIONS.flatMap((a) => (transitions[a].waits ? [targetOf(a)] : []));

/** The stage an Incomplete release waits to enter: the target of the action that left it waiting. */
export function waitsToEnter(requestedAction: RepoAction | null): Stage | undefined {
  const t = requestedAction ? transitions[requestedAction] : undefined;
  return t?.waits ? t.target : undefined;
}

export type Decision =
  | { ok: true; action: RepoAction; transition: Transition }
  | { ok: false; code: 'RD_ROLE_FORBIDDEN'; action: RepoAction; allowedRoles: readonly Role[] }
  | { ok: false; code: 'RD_ACTION_NOT_ALLOWED'; action: RepoAction; status: RepoStatus; validNow: RepoAction[] }
  | { ok: false; code: 'RD_RELEASE_PUBLISHED'; action: RepoAction; status: RepoStatus };

/** A release that reached Production is immutable: its content never changes again. */
const PUBLISHED: readonly RepoStatus[] = ['Production', 'Deprecated'];

export const isRepoAction = (v: unknown): v is RepoAction => REPO_ACTIONS.includes(v as RepoAction);

const NO_FACTS: Facts = { emergency: false, waitsForStage: false, waitsForProduction: false };

/** An Incomplete release waits to enter the target of the action that found it unmet: only that action (or Reject) moves it on. */
export function factsOf(status: RepoStatus, requestedAction: RepoAction | null, emergency: boolean): Facts {
  const incomplete = status === 'Incomplete';
  return {
    emergency,
    waitsForStage: incomplete && requestedAction === 'MoveToStageRollOut',
    waitsForProduction: incomplete && requestedAction === 'MoveToProduction',
  };
}

const startsFrom = (t: Transition, status: RepoStatus, facts: Facts) => {
  const fact = t.fromIf?.[status];
  return t.from.includes(status) || (fact !== undefined && facts[fact]);
};

/** Actions that the given roles could take from `status` right now. */
export function validActions(status: RepoStatus, roles?: readonly Role[], facts: Facts = NO_FACTS): RepoAction[] {
  return REPO_ACTIONS.filter((a) => {
    const t = transitions[a];
    return startsFrom(t, status, facts) && (!roles || t.roles.some((r) => roles.includes(r)));
  });
}

export function decide(status: RepoStatus, action: RepoAction, roles: readonly Role[], facts: Facts = NO_FACTS): Decision {
  const t = transitions[action];
  if (!t.roles.some((r) => roles.includes(r))) return { ok: false, code: 'RD_ROLE_FORBIDDEN', action, allowedRoles: t.roles };
  if (!startsFrom(t, status, facts)) {
    if (action === 'MoveToUnverified' && PUBLISHED.includes(status)) return { ok: false, code: 'RD_RELEASE_PUBLISHED', action, status };
    return { ok: false, code: 'RD_ACTION_NOT_ALLOWED', action, status, validNow: validActions(status, undefined, facts) };
  }
  return { ok: true, action, transition: t };
}

/** SLA clocks: when a release that entered a status is due, and whether it is overdue now. */
export interface SlaState {
  status: RepoStatus;
  enteredAt: string;
  deadlineAt: string;
  overdue: boolean;
}

/** The clock of a release that entered `status` at `enteredAt`; undefined when that status has no deadline. */
export function slaState(
  status: RepoStatus,
  enteredAt: Date,
  deadlines: Partial<Record<RepoStatus, number>>,
  now: Date,
): SlaState | undefined {
  const ms = deadlines[status];
  if (ms === undefined) return undefined;
  const due = new Date(enteredAt.getTime() + ms);
  return { status, enteredAt: enteredAt.toISOString(), deadlineAt: due.toISOString(), overdue: now >= due };
}
