import type { Db } from '../../services/db/knex.ts';

/**
 * Ticket 42 as the API and the CLI show it: a release in Unverified (TP.tool.el9.noarch 1.2.3, one RPM whose
 * header requires libfoo >= 2) whose MoveToStageRollOut failed with RD_CONTENT_MISSING (inbox row failed,
 * transaction 900), after a MoveToUnverified that went through.
 */
export async function seedFailedPromotion(db: Db): Promise<{ inboxId: number; releaseId: number }> {
  const [inbox] = await db('inbox')
    .insert({
      ticket_id: 42,
      transaction_id: 900,
      event: 'customfield.changed',
      action: 'MoveToStageRollOut',
      actor_name: 'tug1',
      source: 'webhook',
      payload: '{}',
      state: 'failed',
    })
    .returning('id');
  const [rel] = await db('releases')
    .insert({
      ticket_id: 42,
      status: 'Unverified',
      product_short_name: 'TP.tool.el9.noarch',
      product_name: 'tool',
      version: '1.2.3',
      platform: 'el9',
      arch: 'noarch',
      repo_kind: 'yum',
      repo_uri: 'http://127.0.0.1:8080/repos/unverified/TP.tool.el9.noarch/',
    })
    .returning('id');
  await db('blobs').insert({ sha256: 'a'.repeat(64), size: 10 });
  await db('packages').insert({
    release_id: rel.id,
    filename: 'tool-1.2.3-1.noarch.rpm',
    pkgname: 'tool',
    version: '1.2.3',
    rel: '1',
    arch: 'noarch',
    format: 'rpm',
    sha256: 'a'.repeat(64),
    size: 10,
    header: JSON.stringify({ requires: ['libfoo >= 2', '/bin/sh'], provides: ['tool = 1.2.3-1'] }),
  });
  await db('transitions').insert([
    {
      ticket_id: 42,
      action: 'MoveToUnverified',
      actor: 'provider1',
      from_status: 'New',
      to_status: 'Unverified',
      outcome: 'ok',
      // the SLA clock of Unverified starts here
      finished_at: new Date(),
      duration_ms: 1200,
    },
    {
      ticket_id: 42,
      inbox_id: inbox.id,
      transaction_id: 900,
      action: 'MoveToStageRollOut',
      actor: 'tug1',
      from_status: 'Unverified',
      to_status: 'Unverified',
      outcome: 'failed',
      code: 'RD_CONTENT_MISSING',
      finished_at: new Date(),
      duration_ms: 30,
    },
  ]);
  return { inboxId: inbox.id, releaseId: rel.id };
}
