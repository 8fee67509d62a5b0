import type { Knex } from 'knex';

/**
 * What the object store holds of each live repository (services/storage/objects/published.ts): with workers on
 * several machines no one disk is the truth, so mirror syncs, drift checks and re-signing read the live
 * repositories from here and their files from the store. Written under the repository's lock, once its files
 * are in the store.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('published_repos', (t) => {
    t.text('path').primary();
    t.text('stage').notNullable();
    t.text('kind').notNullable();
    t.text('archive').notNullable();
    /** [{ name, sha256, size }] of the index and signed files, below path */
    t.jsonb('files').notNullable();
    /** sha256 of the files list: changes exactly when the repository does */
    t.string('stamp', 64).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['stage']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('published_repos');
}
