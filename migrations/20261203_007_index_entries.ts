import type { Knex } from 'knex';

/**
 * What each package contributes to a distribution index (services/storage/index-entries.ts), made once by
 * createrepo_c or apt-ftparchive: a distribution index is built from these rows, never by reading packages.
 * Keyed by content and name, as the pool path is; shared by every release that ships the same file.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('index_entries', (t) => {
    t.string('sha256', 64).notNullable();
    t.string('filename', 255).notNullable();
    t.string('kind', 10).notNullable();
    // gzip members: yum primary, filelists, other; apt the Packages stanza (part1, part2 null). Plain bytea
    // columns, not bytea[]: pg reads bytea with Buffer.from(hex), an array through a character parser,
    // 30 times slower for a distribution of 10,000
    t.binary('part0').notNullable();
    t.binary('part1');
    t.binary('part2');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['sha256', 'filename']);
  });
  // a distribution is (stage, repo_kind, platform, arch): its releases are found by these
  await knex.raw('CREATE INDEX releases_distribution ON releases (repo_kind, platform, arch)');
  // the conflict check at the gate looks packages up by what they are (services/db/distributions.ts conflictsIn)
  await knex.raw('CREATE INDEX packages_identity ON packages (pkgname, version, rel, arch)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS packages_identity');
  await knex.raw('DROP INDEX IF EXISTS releases_distribution');
  await knex.schema.dropTableIfExists('index_entries');
}
