import type { Knex } from 'knex';

/**
 * SLA notices (workers/sla.ts): one per release, status and stay in it (entered_at), so a restart never says
 * it twice and a new stay in the same status gets its own.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sla_notices', (t) => {
    t.bigInteger('release_id').notNullable().references('releases.id').onDelete('CASCADE');
    t.string('status', 20).notNullable();
    t.timestamp('entered_at', { useTz: true }).notNullable();
    t.timestamp('notified_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['release_id', 'status', 'entered_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sla_notices');
}
