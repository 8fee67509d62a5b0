import type { Knex } from 'knex';
import * as init from './20261121_001_init.ts';
import * as revisions from './20261121_002_revisions.ts';
import * as retry from './20261121_003_retry.ts';
import * as stageMembers from './20261121_004_stage_members.ts';
import * as outboxCode from './20261203_005_outbox_code.ts';
import * as blobClaims from './20261203_006_blob_claims.ts';
import * as indexEntries from './20261203_007_index_entries.ts';
import * as bundles from './20261203_008_bundles.ts';
import * as outboxChannel from './20261203_009_outbox_channel.ts';
import * as mirrors from './20261204_010_mirrors.ts';
import * as slaNotices from './20261204_011_sla_notices.ts';
import * as apiTokens from './20261204_012_api_tokens.ts';
import * as publishedRepos from './20261204_013_published_repos.ts';

// Static imports: the migrations are modules that tsc checks and vitest transforms, not files knex finds at run time.
const migrations: Record<string, Knex.Migration> = {
  '20261121_001_init': init,
  '20261121_002_revisions': revisions,
  '20261121_003_retry': retry,
  '20261121_004_stage_members': stageMembers,
  '20261203_005_outbox_code': outboxCode,
  '20261203_006_blob_claims': blobClaims,
  '20261203_007_index_entries': indexEntries,
  '20261203_008_bundles': bundles,
  '20261203_009_outbox_channel': outboxChannel,
  '20261204_010_mirrors': mirrors,
  '20261204_011_sla_notices': slaNotices,
  '20261204_012_api_tokens': apiTokens,
  '20261204_013_published_repos': publishedRepos,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
