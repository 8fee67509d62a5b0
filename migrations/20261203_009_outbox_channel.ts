import type { Knex } from 'knex';

/**
 * Write-backs go to more than RT: the status of an imported release goes to the desk it came from. Order is
 * kept per ticket and channel, so a peer that is away holds up only what goes to it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.text('channel').notNullable().defaultTo('rt');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('outbox', (t) => {
    t.dropColumn('channel');
  });
}
