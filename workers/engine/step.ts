/**
 * The contract between the engine and the job steps: what a step is given, what it returns, and what an
 * action is made of (its steps and its write-back).
 */
import type { Config } from '../../config/index.ts';
import type { Db } from '../../services/db/knex.ts';
import type { ReleaseRow } from '../../services/db/releases.ts';
import type { Helpdesk, TicketHistory } from '../../services/helpdesk/port.ts';
import type { Logger } from '../../services/log.ts';
import type { Metrics } from '../../services/metrics.ts';
import type { Signer } from '../../services/signing/signer.ts';
import type { RepoAction, RepoStatus } from '../../services/workflow/transitions.ts';
import type { Timings } from './timings.ts';

export interface StepDeps {
  db: Db;
  rt: Helpdesk;
  config: Config;
  metrics: Metrics;
  /** signs every repository index before it goes live */
  signer: Pick<Signer, 'signRepository' | 'trusted' | 'signFile' | 'fingerprints'>;
}

export interface StepContext {
  deps: StepDeps;
  log: Logger;
  ticketId: number;
  inboxId: number;
  /** the RT transaction that asked for this action, and its author */
  transactionId: number;
  actor: string;
  /** the ticket's history as RT had it when this job started */
  history: TicketHistory;
  releaseId: number;
  /** the RepoStatus the release had when this action started */
  fromStatus: RepoStatus;
  /** scratch space of this action, under STORAGE_DIR/tmp, removed when the action ends */
  workDir: string;
  /** outputs of the steps before this one, by step id (restored from checkpoints on a rerun) */
  outputs: Record<string, unknown>;
  /** where this action's time goes (download, header, db...): logged with "action done", never checkpointed */
  timings: Timings;
  progress(p: Record<string, unknown>): Promise<void>;
}

/**
 * A job step: `run` returns its output (checkpointed, JSON) and what `undo` needs to take it back. `early`
 * is an RT read the step needs, which the engine starts when the job starts, beside its own read of the
 * ticket, and hands to `run` (a promise: its failure is the step's); `run` reads RT itself when it is not
 * given one (a later event of the job, a rerun).
 */
export interface Step<O = unknown, E = unknown> {
  id: string;
  early?(rt: Helpdesk, ticketId: number): Promise<E>;
  run(ctx: StepContext, early?: Promise<E>): Promise<O>;
  undo?(ctx: StepContext, output: O): Promise<void>;
}

export const outputOf = <O>(ctx: StepContext, step: Step<O>): O => {
  if (!(step.id in ctx.outputs)) throw new Error(`step ${step.id} has not run`);
  return ctx.outputs[step.id] as O;
};

/** What an action does: its steps, and the ticket write-back once they all succeeded. */
export interface ActionPlan {
  steps: readonly Step[];
  summary(
    ctx: StepContext,
    elapsedMs: number,
  ): { repoUri?: string; comment: string; release?: Partial<ReleaseRow>; waits?: boolean; attachments?: AttachmentFile[] };
}

/** A file the summary comment carries to the ticket (the evidence receipt). */
export interface AttachmentFile {
  name: string;
  type: string;
  file: string;
}

/** What the engine is given: the steps' dependencies, a logger and the plan of every action. */
export interface EngineDeps extends StepDeps {
  log: Logger;
  plans: Record<RepoAction, ActionPlan>;
  /** told when ticket write-backs were queued, so they go out now rather than at the next outbox round */
  writeBacksQueued?: () => void;
}
