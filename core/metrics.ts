import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The platform's Prometheus metrics (prom-client), one registry per process: the API serves it at
 * `GET /metrics`, each worker on its metrics port (with Temporal's own SDK metrics appended).
 *
 * Labels stay bounded: route templates (never raw paths), operation names, status codes, job kinds,
 * models of the price table (others count as `other`); never ids, e-mails or free text.
 * `ops/grafana/dashboards/platform.json` graphs these names; `test/ops/dashboard.test.ts` checks that
 * every metric it queries is one exported here (or by Temporal's SDK).
 */
export const registry = new Registry();

const PREFIX = 'airtable_ops_';
let defaultsCollected = false;

/** Adds Node's process metrics (CPU, memory, event loop lag, GC) to the registry, once per process. */
export function collectProcessMetrics(labels: { component: 'api' | 'worker' }): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
}

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const httpRequests = new Counter({
  name: `${PREFIX}http_requests_total`,
  help: 'HTTP requests answered by the API, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: `${PREFIX}http_request_duration_seconds`,
  help: 'Time to answer an HTTP request, by method, route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const airtableRequests = new Counter({
  name: `${PREFIX}airtable_requests_total`,
  help: 'Requests sent to Airtable, by operation and status (2xx, an HTTP status, or network)',
  labelNames: ['operation', 'status'] as const,
  registers: [registry],
});

export const airtableRequestDuration = new Histogram({
  name: `${PREFIX}airtable_request_duration_seconds`,
  help: 'Time of one Airtable request once it may start (pacing excluded), by operation',
  labelNames: ['operation'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const airtableRateLimited = new Counter({
  name: `${PREFIX}airtable_rate_limited_total`,
  help: 'Airtable answers 429 (each holds the base for 30 s), by operation',
  labelNames: ['operation'] as const,
  registers: [registry],
});

export const airtablePacingWait = new Histogram({
  name: `${PREFIX}airtable_pacing_wait_seconds`,
  help: 'Time a request waited for its paced start (the per-base and per-token limits), by operation',
  labelNames: ['operation'] as const,
  buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  registers: [registry],
});

export const changeSetRecords = new Counter({
  name: `${PREFIX}changeset_records_total`,
  help: 'Records of change sets applied to Airtable, and compensated (undone), by action',
  labelNames: ['outcome', 'action'] as const,
  registers: [registry],
});

export const llmCalls = new Counter({
  name: `${PREFIX}llm_calls_total`,
  help: 'Calls to the language model, by model and outcome (ok, error)',
  labelNames: ['model', 'outcome'] as const,
  registers: [registry],
});

export const llmTokens = new Counter({
  name: `${PREFIX}llm_tokens_total`,
  help: 'Tokens of language model calls, by model and type (input, output, thinking)',
  labelNames: ['model', 'type'] as const,
  registers: [registry],
});

export const llmCost = new Counter({
  name: `${PREFIX}llm_cost_usd_total`,
  help: 'Cost of language model calls in US dollars, by model (at the configured prices)',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const llmCallDuration = new Histogram({
  name: `${PREFIX}llm_call_duration_seconds`,
  help: 'Time of one language model call, by model',
  labelNames: ['model'] as const,
  buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 40, 80],
  registers: [registry],
});

export const syncRuns = new Counter({
  name: `${PREFIX}sync_runs_total`,
  help: 'Sync runs (Airtable → Postgres) that ended, by mode (full, incremental) and status',
  labelNames: ['mode', 'status'] as const,
  registers: [registry],
});

export const syncLag = new Histogram({
  name: `${PREFIX}sync_lag_seconds`,
  help: 'How far behind Airtable the mirror was when a sync run applied its changes',
  labelNames: ['mode'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 7200],
  registers: [registry],
});

export const syncRows = new Counter({
  name: `${PREFIX}sync_rows_changed_total`,
  help: 'Rows the syncs wrote to the mirrors, by change (created, updated, deleted)',
  labelNames: ['change'] as const,
  registers: [registry],
});

export const jobsStarted = new Counter({
  name: `${PREFIX}jobs_started_total`,
  help: 'Jobs started (their workflow start confirmed), by kind; `abandoned` when the start failed',
  labelNames: ['kind', 'result'] as const,
  registers: [registry],
});

export const jobsFinished = new Counter({
  name: `${PREFIX}jobs_finished_total`,
  help: 'Jobs that ended, by kind and outcome (completed, failed, cancelled, compensated), counted once',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

/** Every metric name this module exports (histograms also expose _bucket, _sum and _count). */
export function platformMetricNames(): string[] {
  return registry.getMetricsAsArray().map((m) => m.name);
}

/** Bounds a label to `known` values: anything else counts as `other`. */
export function bounded(value: string | undefined, known: ReadonlySet<string> | readonly string[]): string {
  const set = known instanceof Set ? known : new Set(known);
  return value !== undefined && set.has(value) ? value : 'other';
}

/** The registry in the Prometheus text format. */
export async function metricsText(): Promise<string> {
  return registry.metrics();
}

export const METRICS_CONTENT_TYPE = registry.contentType;
