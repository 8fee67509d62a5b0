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
    downloadedBytes: new Counter({
      name: 'releasedesk_downloaded_bytes_total',
      help: 'Bytes downloaded from providers',
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
