/**
 * The release workflow as data (see DESIGN.md). Pure: no I/O, no logging.
 * RepoAction (what people ask for) and RepoStatus (where the release is) are separate things.
 */
export const REPO_ACTIONS = ['MoveToUnverified', 'MoveToStageRollOut', 'MoveToProduction', 'Reject', 'Deprecate'] as const;
export type RepoAction = (typeof REPO_ACTIONS)[number];

export const REPO_STATUSES = [
  'New', 'Processing', 'Unverified', 'StageRollOut', 'Production', 'Incomplete', 'Rejected', 'Deprecated', 'Failed',
] as const;
export type RepoStatus = (typeof REPO_STATUSES)[number];

export const ROLES = ['provider', 'technologyUnit', 'rolloutCoordinator'] as const;
export type Role = (typeof ROLES)[number];

export interface Transition {
  from: readonly RepoStatus[];
  roles: readonly Role[];
  running: RepoStatus;
  success: RepoStatus;
  /** where a permanent failure leaves the release */
  failure: RepoStatus;
  /** false until the action's job steps exist; refused with a comment meanwhile */
  available: boolean;
}

export const transitions: Record<RepoAction, Transition> = {
  MoveToUnverified: {
    from: ['New', 'Failed', 'Rejected'], roles: ['provider'],
    running: 'Processing', success: 'Unverified', failure: 'Failed', available: true,
  },
  MoveToStageRollOut: {
    from: ['Unverified'], roles: ['technologyUnit'],
    running: 'Processing', success: 'StageRollOut', failure: 'Unverified', available: false,
  },
  MoveToProduction: {
    from: ['StageRollOut', 'Deprecated'], roles: ['rolloutCoordinator'],
    running: 'Processing', success: 'Production', failure: 'StageRollOut', available: false,
  },
  Reject: {
    from: ['Unverified', 'StageRollOut', 'Incomplete'], roles: ['technologyUnit'],
    running: 'Processing', success: 'Rejected', failure: 'Failed', available: false,
  },
  Deprecate: {
    from: ['Production'], roles: ['technologyUnit', 'rolloutCoordinator'],
    running: 'Processing', success: 'Deprecated', failure: 'Production', available: false,
  },
};

export type Decision =
  | { ok: true; action: RepoAction; transition: Transition }
  | { ok: false; code: 'RD_ROLE_FORBIDDEN'; action: RepoAction; allowedRoles: readonly Role[] }
  | { ok: false; code: 'RD_ACTION_NOT_ALLOWED'; action: RepoAction; status: RepoStatus; validNow: RepoAction[] }
  | { ok: false; code: 'RD_ACTION_NOT_AVAILABLE'; action: RepoAction };

export const isRepoAction = (v: unknown): v is RepoAction => REPO_ACTIONS.includes(v as RepoAction);

/** Actions that the given roles could take from `status` right now. */
export function validActions(status: RepoStatus, roles?: readonly Role[]): RepoAction[] {
  return REPO_ACTIONS.filter((a) => {
    const t = transitions[a];
    return t.available && t.from.includes(status) && (!roles || t.roles.some((r) => roles.includes(r)));
  });
}

export function decide(status: RepoStatus, action: RepoAction, roles: readonly Role[]): Decision {
  const t = transitions[action];
  if (!t.roles.some((r) => roles.includes(r))) return { ok: false, code: 'RD_ROLE_FORBIDDEN', action, allowedRoles: t.roles };
  if (!t.from.includes(status)) return { ok: false, code: 'RD_ACTION_NOT_ALLOWED', action, status, validNow: validActions(status) };
  if (!t.available) return { ok: false, code: 'RD_ACTION_NOT_AVAILABLE', action };
  return { ok: true, action, transition: t };
}
