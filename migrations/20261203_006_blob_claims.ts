import type { Knex } from 'knex';

/**
 * A blob an action relies on before its release is recorded: another action's undo must not delete it.
 * Recorded packages protect their blobs from then on (packages.sha256).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('blob_claims', (t) => {
    t.bigInteger('inbox_id').notNullable();
    t.string('sha256', 64).notNullable();
    t.primary(['inbox_id', 'sha256']);
    t.index(['sha256']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('blob_claims');
}
