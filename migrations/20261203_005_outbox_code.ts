import type { Knex } from 'knex';

/** The code of a write-back's last failure: a refusal by RT holds the write-back and shows in /healthz. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.string('last_code', 60);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('last_code');
  });
}
