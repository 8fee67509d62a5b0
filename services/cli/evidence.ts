import type { Command } from 'commander';
import { isRdError } from '../errors.ts';
import { verifyEvidence } from '../evidence/verify.ts';
import { CliError, EXIT, type Globals, out, table } from './common.ts';

/** `releasedesk verify-evidence FILE`: offline, the receipt's signature and, given a repository, its packages. */
export function evidenceCommands(program: Command, g: () => Globals): void {
  program
    .command('verify-evidence')
    .argument('<file>', 'the evidence receipt (…intoto.json), as served at /releases/TICKET/evidence or attached to the ticket')
    .description('check an evidence receipt offline: its signature, and that a repository holds exactly its packages (exit 6 when not)')
    .requiredOption('--key <file...>', "the desk's public key(s): its PUBLIC_URL/keys/releasedesk.asc, saved")
    .option('--signature <file>', 'the detached signature (default: FILE.asc)')
    .option('--repo <url|dir>', 'a repository to hold the packages: a YUM repository, or an APT directory with Packages(.gz)')
    .action(async (file: string, o: { key: string[]; signature?: string; repo?: string }) => {
      let r: Awaited<ReturnType<typeof verifyEvidence>>;
      try {
        r = await verifyEvidence(file, o.signature ?? `${file}.asc`, o.key, o.repo);
      } catch (e) {
        if (!isRdError(e)) throw e;
        throw new CliError(`[${e.code}] ${e.message}\nthe receipt is not to be trusted`, EXIT.evidence);
      }
      const rel = (r.statement.predicate as { release?: Record<string, unknown> }).release ?? {};
      out(g(), r, () =>
        [
          `signature: good, by ${r.signedBy}`,
          `release: ticket ${rel.ticket}, ${rel.product} ${rel.version} revision v${rel.revision}`,
          table(
            ['PACKAGE', 'SHA256', 'IN REPOSITORY'],
            r.subjects.map((s) => [s.name, s.sha256, s.repository === 'different' ? `DIFFERENT: sha256 ${s.found}` : s.repository]),
          ),
        ].join('\n'),
      );
      if (!r.ok) throw new CliError(`${o.repo} does not hold exactly the packages of this receipt`, EXIT.evidence);
    });
}
