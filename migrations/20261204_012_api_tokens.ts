import type { Knex } from 'knex';

/**
 * Personal API tokens (services/api/identity.ts): a person signed in with their RT account issues one for the
 * CLI and scripts; it acts as that person, with their RT groups. Only its sha256 is kept.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.bigIncrements('id');
    t.text('user_name').notNullable();
    t.text('label').notNullable();
    t.string('token_sha256', 64).notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['user_name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_tokens');
}
