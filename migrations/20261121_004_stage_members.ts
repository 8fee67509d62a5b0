import type { Knex } from 'knex';

/**
 * Which releases a stage's repository shows, as its own state. Deriving it from the workflow status left a
 * release that was mid-action (Processing) out of any rebuild another ticket of its product made meanwhile.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('stage_members', (t) => {
    t.bigInteger('release_id').notNullable().references('releases.id').onDelete('CASCADE');
    t.string('stage', 20).notNullable();
    t.primary(['release_id', 'stage']);
  });
  await knex.raw(`
    INSERT INTO stage_members (release_id, stage)
    SELECT id, CASE status WHEN 'Unverified' THEN 'unverified' WHEN 'StageRollOut' THEN 'stage-rollout' ELSE 'production' END
      FROM releases WHERE status IN ('Unverified', 'StageRollOut', 'Production')`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('stage_members');
}
