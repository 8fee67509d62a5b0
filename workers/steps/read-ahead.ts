import { saveEntries } from '../../services/db/index-entries.ts';
import { poolHref } from '../../services/storage/dist-ref.ts';
import { entryOf, type IndexEntry } from '../../services/storage/index-entries.ts';
import { type PackageHeader, rpmHeaderOf } from '../../services/storage/package-header.ts';
import { readRpm, type RpmRead } from '../../services/storage/rpm-reader.ts';
import type { StepContext } from '../engine/step.ts';

/**
 * The RPMs of a bundle read while the rest of it arrives: each one's header and index entry is asked of the
 * RPM reader as soon as it is sealed (read-only, durable, its digest known), on the core the download
 * leaves free, so check-headers finds them done. Best effort: whatever is not read here (a package the
 * reader cannot read, the reader gone, a rerun) check-headers reads itself, with the errors it always gave.
 */
export class ReadAhead {
  private readonly asked = new Map<string, Promise<RpmRead | undefined>>();

  /** `rel` is the file's path in the bundle, as sealed at `path`; `filename` its name in release.xml. */
  ask(rel: string, path: string, sha256: string, filename: string): void {
    this.asked.set(
      rel,
      readRpm(path, poolHref(sha256, filename)).catch(() => undefined),
    );
  }

  /**
   * Waits for every answer (the reader must be done with the staged files before they are adopted), then
   * records the entries of `packages` and returns the headers read, by file name.
   */
  async finish(
    ctx: StepContext,
    packages: Array<{ rel: string; filename: string; sha256: string }>,
  ): Promise<Record<string, PackageHeader>> {
    const answers = await ctx.timings.time(
      'header',
      async () => new Map(await Promise.all([...this.asked].map(async ([rel, a]) => [rel, await a] as const))),
    );
    const headers: Record<string, PackageHeader> = {};
    const entries: IndexEntry[] = [];
    for (const p of packages) {
      const read = answers.get(p.rel);
      if (read?.parts) entries.push(await entryOf(p, 'yum', read.parts));
      if (read?.header === undefined) continue;
      try {
        headers[p.filename] = rpmHeaderOf(read.header, p.filename);
      } catch {
        // a header without a field it needs: check-headers reads it again and refuses it, naming the field
      }
    }
    // an entry describes bytes, not a release: one kept for a release that fails later is still right
    if (entries.length) await ctx.timings.time('db', () => saveEntries(ctx.deps.db, entries));
    return headers;
  }

  /** Waits for the reader to be done with the staged files (a failed download removes them). */
  async drop(): Promise<void> {
    await Promise.all(this.asked.values());
  }
}
