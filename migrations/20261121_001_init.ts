import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('inbox', (t) => {
    t.bigIncrements('id');
    t.integer('ticket_id').notNullable();
    t.bigInteger('transaction_id').notNullable();
    t.string('event', 40).notNullable();
    t.string('action', 40); // RepoAction new value; null when it was cleared
    t.string('old_value', 40);
    t.string('actor_name', 200);
    t.string('source', 20).notNullable(); // webhook | reconciler
    t.jsonb('payload').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('enqueued_at', { useTz: true });
    // pending -> done | ignored | failed
    t.string('state', 20).notNullable().defaultTo('pending');
    t.string('outcome', 400);
    t.timestamp('finished_at', { useTz: true });
    t.unique(['ticket_id', 'transaction_id']);
    t.index(['state', 'ticket_id', 'transaction_id']);
  });

  await knex.schema.createTable('releases', (t) => {
    t.bigIncrements('id');
    t.integer('ticket_id').notNullable().unique();
    // RepoStatus; 'New' until the first action. The requested action is a separate column.
    t.string('status', 20).notNullable().defaultTo('New');
    t.string('requested_action', 40);
    t.bigInteger('active_inbox_id');
    t.string('product_short_name', 128);
    t.string('product_name', 200);
    t.string('version', 100);
    t.string('platform', 100);
    t.string('arch', 50);
    t.string('repo_kind', 10);
    t.jsonb('metadata');
    t.string('xml_sha256', 64);
    t.text('repo_uri');
    t.integer('revision');
    t.timestamps(true, true);
    t.index(['status', 'product_short_name']);
  });

  await knex.schema.createTable('blobs', (t) => {
    t.string('sha256', 64).primary();
    t.bigInteger('size').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('packages', (t) => {
    t.bigIncrements('id');
    t.bigInteger('release_id').notNullable().references('releases.id').onDelete('CASCADE');
    t.string('filename', 255).notNullable();
    t.string('pkgname', 200).notNullable();
    t.string('version', 100).notNullable();
    t.string('rel', 100).notNullable();
    t.string('arch', 50).notNullable();
    t.string('format', 10).notNullable();
    t.text('url');
    t.string('sha256', 64).notNullable().references('blobs.sha256');
    t.bigInteger('size').notNullable();
    t.jsonb('header');
    t.unique(['release_id', 'filename']);
  });

  await knex.schema.createTable('transitions', (t) => {
    t.bigIncrements('id');
    t.integer('ticket_id').notNullable();
    t.bigInteger('inbox_id').references('inbox.id');
    t.bigInteger('transaction_id');
    t.string('action', 40);
    t.string('actor', 200);
    t.string('from_status', 20);
    t.string('to_status', 20);
    // running | ok | failed | refused | ignored
    t.string('outcome', 20).notNullable();
    t.string('code', 40);
    t.text('reason');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.integer('duration_ms');
    t.index(['ticket_id', 'id']);
  });

  await knex.schema.createTable('outbox', (t) => {
    t.bigIncrements('id');
    t.integer('ticket_id').notNullable();
    // the operation marker: a retry or a rerun after kill -9 never writes the same thing twice
    t.string('marker', 200).notNullable().unique();
    t.string('kind', 20).notNullable(); // fields | comment
    t.jsonb('payload').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('delivered_at', { useTz: true });
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['ticket_id', 'id']);
  });
  await knex.raw('CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL');

  await knex.schema.createTable('checkpoints', (t) => {
    t.bigInteger('inbox_id').notNullable().references('inbox.id');
    t.string('step', 60).notNullable();
    t.jsonb('output').notNullable();
    t.timestamp('done_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['inbox_id', 'step']);
  });

  await knex.schema.createTable('kv', (t) => {
    t.string('key', 100).primary();
    t.text('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['kv', 'checkpoints', 'outbox', 'transitions', 'packages', 'blobs', 'releases', 'inbox']) {
    await knex.schema.dropTableIfExists(t);
  }
}
