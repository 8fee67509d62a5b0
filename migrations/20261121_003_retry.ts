import type { Knex } from 'knex';

/** A retry is a new event for the same RT transaction; only first deliveries are unique per transaction. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('inbox', (t) => {
    t.bigInteger('retry_of').references('inbox.id');
  });
  await knex.raw('ALTER TABLE inbox DROP CONSTRAINT inbox_ticket_id_transaction_id_unique');
  await knex.raw('CREATE UNIQUE INDEX inbox_first_delivery ON inbox (ticket_id, transaction_id) WHERE retry_of IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS inbox_first_delivery');
  await knex.schema.alterTable('inbox', (t) => {
    t.dropColumn('retry_of');
    t.unique(['ticket_id', 'transaction_id']);
  });
}
