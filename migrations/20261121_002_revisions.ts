import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // One counter per product: a revision is handed out once, even if its promotion is then undone.
  await knex.schema.createTable('product_revisions', (t) => {
    t.string('product_short_name', 128).primary();
    t.integer('last').notNullable();
  });
  await knex.schema.alterTable('releases', (t) => {
    t.timestamp('deprecated_at', { useTz: true });
    t.jsonb('tombstone');
  });
  await knex.raw('CREATE UNIQUE INDEX releases_product_revision ON releases (product_short_name, revision) WHERE revision IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS releases_product_revision');
  await knex.schema.alterTable('releases', (t) => {
    t.dropColumn('deprecated_at');
    t.dropColumn('tombstone');
  });
  await knex.schema.dropTableIfExists('product_revisions');
}
