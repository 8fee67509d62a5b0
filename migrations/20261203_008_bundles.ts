import type { Knex } from 'knex';

/**
 * Bundles between desks: the release.xml as it was frozen (an export carries it byte for byte), and where an
 * imported release came from (the status of its ticket here is carried back to that desk and ticket).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('releases', (t) => {
    t.binary('xml');
  });
  await knex.schema.createTable('bundle_imports', (t) => {
    t.integer('release_id').primary().references('releases.id').onDelete('CASCADE');
    t.text('source_desk').notNullable();
    t.text('source_url').notNullable();
    t.integer('source_ticket').notNullable();
    t.text('bundle_sha256').notNullable();
    t.text('signed_by').notNullable();
    t.jsonb('manifest').notNullable();
    t.timestamp('imported_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('bundle_imports');
  await knex.schema.alterTable('releases', (t) => {
    t.dropColumn('xml');
  });
}
