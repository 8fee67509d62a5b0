import { conflictsIn, type Conflict } from '../../services/db/distributions.ts';
import { releaseById } from '../../services/db/releases.ts';
import { RdError } from '../../services/errors.ts';
import { STAGE_TITLES, type Stage } from '../../services/storage/repo-ref.ts';
import type { Step } from '../engine/step.ts';

const short = (sha: string) => `${sha.slice(0, 12)}…`;

function describe(c: Conflict, stage: Stage): string {
  const id = `${c.pkgname} ${c.version}${c.rel ? `-${c.rel}` : ''} (${c.arch})`;
  return `${c.filename}: ${id} is in ${STAGE_TITLES[stage]} already from ticket #${c.otherTicket} (${c.otherFilename}) with other content: sha256 ${short(c.otherSha256)} there, ${short(c.sha256)} here`;
}

/**
 * Before the release enters `stage`: no package of it may have the name, version and arch of a package
 * another release of the stage's distribution ships with other bytes (RD_PACKAGE_CONFLICT, permanent,
 * naming both tickets). dnf and apt would pick either one, and sites could not tell which they got.
 */
export function checkConflicts(stage: Stage): Step<{ stage: Stage }> {
  return {
    id: `check-conflicts-${stage}`,
    async run(ctx) {
      const { db } = ctx.deps;
      const found = await ctx.timings.time('db', async () => {
        const r = await releaseById(db, ctx.releaseId);
        return conflictsIn(db, ctx.releaseId, { stage, kind: r.repo_kind!, platform: r.platform!, arch: r.arch! });
      });
      if (found.length === 0) return { stage };
      const tickets = [...new Set(found.map((c) => c.otherTicket))].map((t) => `#${t}`).join(', ');
      throw new RdError(
        'RD_PACKAGE_CONFLICT',
        `ticket #${ctx.ticketId} conflicts with ticket ${tickets} in the ${STAGE_TITLES[stage]} distribution:\n${found.map((c) => `  ${describe(c, stage)}`).join('\n')}`,
        { filenames: found.map((c) => c.filename), tickets: found.map((c) => c.otherTicket) },
      );
    },
  };
}
