import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    webhooks: new Counter({
      name: 'releasedesk_webhooks_total',
      help: 'Webhook deliveries by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'releasedesk_jobs_total',
      help: 'Actions processed by action and outcome',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: 'releasedesk_job_duration_seconds',
      help: 'Time from job start to final status',
      labelNames: ['action', 'outcome'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    outboxPending: new Gauge({ name: 'releasedesk_outbox_pending', help: 'Ticket write-backs not yet delivered', registers: [registry] }),
    mirrorSyncs: new Counter({
      name: 'releasedesk_mirror_syncs_total',
      help: 'Mirror syncs by target and outcome',
      labelNames: ['target', 'outcome'],
      registers: [registry],
    }),
    mirrorUploadedBytes: new Counter({
      name: 'releasedesk_mirror_uploaded_bytes_total',
      help: 'Bytes sent to mirror targets (server-side copies not counted)',
      labelNames: ['target'],
      registers: [registry],
    }),
    mirrorFailures: new Gauge({
      name: 'releasedesk_mirror_failures',
      help: 'Failed syncs in a row per mirror target (0 = the last one succeeded)',
      labelNames: ['target'],
      registers: [registry],
    }),
    mirrorLagSeconds: new Gauge({
      name: 'releasedesk_mirror_lag_seconds',
      help: 'Seconds a mirror target has been behind Production (0 = in step)',
      labelNames: ['target'],
      registers: [registry],
    }),
    driftItems: new Gauge({
      name: 'releasedesk_drift_items',
      help: 'Differences the last drift check found, by kind (ticket-fields are repaired as they are found)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    slaNotices: new Counter({
      name: 'releasedesk_sla_overdue_total',
      help: 'Releases that passed their deadline in a status (one per stay), by status',
      labelNames: ['status'],
      registers: [registry],
    }),
    slaOverdue: new Gauge({
      name: 'releasedesk_sla_overdue',
      help: 'Releases past their deadline now, by status',
      labelNames: ['status'],
      registers: [registry],
    }),
    downloadedBytes: new Counter({
      name: 'releasedesk_downloaded_bytes_total',
      help: 'Bytes downloaded from providers',
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
