import type { Knex } from 'knex';

/**
 * Mirror sync state (services/mirror): per target, the last attempt and the last success with the view's
 * fingerprint it made true; per file put there, the digest behind the tag its listing shows, so a killed
 * sync resumes without sending again what is there, and a file changed behind our back is seen.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mirror_targets', (t) => {
    t.text('name').primary();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('fingerprint');
    t.timestamp('last_attempt_at', { useTz: true });
    t.timestamp('last_success_at', { useTz: true });
    t.text('last_error_code');
    t.text('last_error');
    t.integer('failures').notNullable().defaultTo(0);
    t.integer('files').notNullable().defaultTo(0);
    t.bigInteger('bytes').notNullable().defaultTo(0);
    t.integer('uploaded').notNullable().defaultTo(0);
    t.integer('deleted').notNullable().defaultTo(0);
    t.bigInteger('uploaded_bytes').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('mirror_objects', (t) => {
    t.text('target').notNullable();
    t.text('path').notNullable();
    t.text('sha256').notNullable();
    t.bigInteger('size').notNullable();
    t.text('tag').notNullable();
    t.primary(['target', 'path']);
  });
  await knex.schema.createTable('mirror_notices', (t) => {
    t.text('target').notNullable();
    t.bigInteger('transition_id').notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['target', 'transition_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('mirror_notices');
  await knex.schema.dropTable('mirror_objects');
  await knex.schema.dropTable('mirror_targets');
}
