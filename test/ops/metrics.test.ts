import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import type { Express } from 'express';
import request from 'supertest';
import { llmCalls, llmCost, llmTokens, registry, syncLag, syncRows, syncRuns } from '../../core/metrics';
import { meteredModel } from '../../domain/agent/metered-model';
import { freePort } from '../../temporal/dev-server';
import { observeSyncRun } from '../../workers/observability';
import {
  createActiveWorkspace,
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  settledJob,
  spawnWorkerProcess,
  type TestContext,
} from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// GET /metrics of the API and the metrics port of a real worker process (workers/main.ts): the
// platform's metrics with bounded labels, Temporal's SDK metrics on the same scrape, and a Grafana
// dashboard whose every query names a metric that really is exported.

const TOKEN = 'patMetricsTest.0123456789abcdef01';
const ROOT = path.resolve(__dirname, '../..');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** Every metric name of a scrape: the TYPE lines' names and every sample's name. */
function names(text: string): Set<string> {
  const found = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      found.add(type[1]!);
      if (type[2] === 'histogram' || type[2] === 'summary')
        for (const suffix of ['_bucket', '_sum', '_count']) found.add(`${type[1]}${suffix}`);
    } else if (line && !line.startsWith('#')) found.add(line.split(/[{ ]/)[0]!);
  }
  return found;
}

/** The value of the sample `name{labels}` (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`)))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let worker: ChildProcess;
  let workerMetrics: string;
  let app: Express;
  let user: Awaited<ReturnType<typeof registerUser>>;
  let workspaceId: string;

  beforeAll(async () => {
    ctx = await createTestContext();
    emulator = await startAirtableEmulator({ seed: smallSeed(), tokens: [TOKEN] });
    const prefix = `metrics-${Date.now()}-`;
    const port = await freePort();
    workerMetrics = `http://127.0.0.1:${port}/metrics`;
    worker = spawnWorkerProcess(ctx, {
      taskQueuePrefix: prefix,
      dataDir: mkdtempSync(path.join(os.tmpdir(), 'metrics-worker-')),
      airtableUrl: emulator.url,
      env: { WORKER_METRICS_PORT: String(port), LOG_LEVEL: 'warn' },
    });
    app = createTestApi(ctx, `${prefix}airtable-ops`, { airtableUrl: emulator.url });
    user = await registerUser(app);
    workspaceId = await createActiveWorkspace(app, user.auth, { baseId: SMALL_BASE_ID, token: TOKEN });
  }, 120_000);
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((resolve) => worker.once('exit', resolve));
    }
    await emulator?.close();
    await ctx?.close();
  });

  const scrapeWorker = async () => (await fetch(workerMetrics)).text();

  it('counts HTTP requests by route template and status, never by raw path', async () => {
    const jobId = '00000000-0000-4000-8000-000000000001';
    await request(app).get(`/api/v1/jobs/${jobId}`).set(user.auth).expect(404);
    await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(200);
    await request(app).get(`/nothing/here/${jobId}?email=someone@example.com`).expect(404);
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(
      sample(text, 'airtable_ops_http_requests_total', {
        method: 'GET',
        route: '/api/v1/jobs/:id',
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_http_requests_total', {
        method: 'GET',
        route: '/api/v1/workspaces/:id',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_http_request_duration_seconds_count', { route: '/api/v1/jobs/:id' }),
    ).toBeGreaterThanOrEqual(1);
    // Bounded labels: no id, e-mail or made-up path anywhere in the scrape.
    for (const line of text.split('\n').filter((l) => !l.startsWith('#'))) {
      expect(line).not.toMatch(UUID);
      expect(line).not.toContain('@');
      expect(line).not.toContain('/nothing');
    }
    // Job starts by kind (the provisioning of beforeAll), and its outcome once it was read.
    expect(
      sample(text, 'airtable_ops_jobs_started_total', { kind: 'workspace.provision', result: 'started' }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('airtable_ops_process_resident_memory_bytes{component="api"}');
  });

  it('serves the worker’s metrics and Temporal’s SDK metrics on one scrape', async () => {
    const submitted = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/changes`)
      .set(user.auth)
      .send({ steps: [{ table: 'Projects', action: 'create', records: [{ fields: { Name: 'Metrics' } }] }] })
      .expect(202);
    const job = await settledJob(app, user.auth, submitted.body.job.id as string);
    expect(job.status).toBe('completed');
    // Its outcome was counted once, when the API learned it.
    await request(app).get(`/api/v1/jobs/${job.id}`).set(user.auth).expect(200);
    const api = (await request(app).get('/metrics')).text;
    expect(
      sample(api, 'airtable_ops_jobs_started_total', { kind: 'changeset.apply', result: 'started' }),
    ).toBe(1);
    expect(
      sample(api, 'airtable_ops_jobs_finished_total', { kind: 'changeset.apply', outcome: 'completed' }),
    ).toBe(1);
    const text = await eventually(async () => {
      const t = await scrapeWorker();
      return sample(t, 'temporal_workflow_completed_total', {}) !== undefined &&
        sample(t, 'airtable_ops_changeset_records_total', { outcome: 'applied', action: 'create' }) !==
          undefined
        ? t
        : undefined;
    }, 30_000);
    expect(
      sample(text, 'airtable_ops_airtable_requests_total', { operation: 'read_schema', status: '2xx' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_airtable_requests_total', { operation: 'create_records', status: '2xx' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_airtable_pacing_wait_seconds_count', { operation: 'create_records' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'airtable_ops_changeset_records_total', { outcome: 'applied', action: 'create' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'temporal_workflow_completed_total', { workflow_type: 'provisionWorkspace' }),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('airtable_ops_process_resident_memory_bytes{component="worker"}');
    for (const line of text.split('\n').filter((l) => l.startsWith('airtable_ops_')))
      expect(line).not.toMatch(UUID);
  });

  it('has a Grafana dashboard whose queries name only metrics the platform exports', async () => {
    const dashboard = JSON.parse(
      readFileSync(path.join(ROOT, 'ops/grafana/dashboards/platform.json'), 'utf8'),
    ) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
    );
    expect(exprs.length).toBeGreaterThan(20);
    const exported = new Set([
      ...names(await scrapeWorker()),
      ...names((await request(app).get('/metrics')).text),
    ]);
    const referenced = exprs.flatMap(({ panel, expr }) =>
      [...expr.matchAll(/\b((?:airtable_ops|temporal)_[a-z0-9_]+)\b/g)].map((m) => ({
        panel,
        metric: m[1]!,
      })),
    );
    expect(referenced.length).toBeGreaterThanOrEqual(exprs.length);
    // Registered metrics are exported even before their first sample (HELP and TYPE lines).
    expect(referenced.filter((r) => !exported.has(r.metric))).toEqual([]);
    // Every area of the issue has a panel.
    const all = exprs.map((e) => e.expr).join('\n');
    for (const metric of [
      'airtable_ops_http_requests_total',
      'airtable_ops_airtable_rate_limited_total',
      'airtable_ops_airtable_pacing_wait_seconds_bucket',
      'airtable_ops_changeset_records_total',
      'airtable_ops_llm_tokens_total',
      'airtable_ops_llm_cost_usd_total',
      'airtable_ops_sync_lag_seconds_bucket',
      'airtable_ops_sync_rows_changed_total',
      'airtable_ops_jobs_finished_total',
    ])
      expect(all).toContain(metric);
  });

  it('counts LLM calls, tokens and cost by model, with unknown models as "other"', async () => {
    const prices = { 'gemini-test': { inputPerMillion: 1, outputPerMillion: 2 } };
    const model = meteredModel(
      {
        async generate(req) {
          if (req.model === 'broken') throw new Error('refused');
          return {
            content: { role: 'model', parts: [{ text: 'ok' }] },
            usage: { inputTokens: 1_000_000, outputTokens: 500_000, thinkingTokens: 10 },
          } as never;
        },
      },
      prices,
    );
    const request_ = { systemInstruction: '', contents: [], tools: [] };
    await model.generate({ ...request_, model: 'gemini-test' });
    await model.generate({ ...request_, model: 'made-up-by-a-user-42' });
    await expect(model.generate({ ...request_, model: 'broken' })).rejects.toThrow('refused');
    const value = async (
      metric: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> },
      labels: object,
    ) => (await metric.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value;
    expect(await value(llmCalls, { model: 'gemini-test', outcome: 'ok' })).toBe(1);
    expect(await value(llmCalls, { model: 'other', outcome: 'ok' })).toBe(1);
    expect(await value(llmCalls, { model: 'other', outcome: 'error' })).toBe(1);
    expect(await value(llmTokens, { model: 'gemini-test', type: 'input' })).toBe(1_000_000);
    expect(await value(llmTokens, { model: 'gemini-test', type: 'output' })).toBe(500_000);
    expect(await value(llmCost, { model: 'gemini-test' })).toBeCloseTo(1 + 1 + 0.00002, 4);
    const labels = (await registry.getMetricsAsJSON()).flatMap((m) =>
      m.values.map((v) => JSON.stringify(v.labels)),
    );
    expect(labels.join('\n')).not.toContain('made-up-by-a-user-42');
  });

  it('counts sync runs, their lag and the rows they changed', async () => {
    observeSyncRun(
      'applyIncrementalSyncRun',
      {},
      { status: 'applied', lagMs: 4_000, created: 2, updated: 3, deleted: 1 },
    );
    observeSyncRun(
      'applyFullSyncRun',
      {},
      { status: 'applied', lagMs: 60_000, created: 10, updated: 0, deleted: 0 },
    );
    observeSyncRun('endSyncRun', { jobId: 'x', status: 'failed' }, undefined);
    const runs = (await syncRuns.get()).values;
    expect(runs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { mode: 'incremental', status: 'completed' }, value: 1 }),
        expect.objectContaining({ labels: { mode: 'full', status: 'completed' }, value: 1 }),
        expect.objectContaining({ labels: { mode: 'unknown', status: 'failed' }, value: 1 }),
      ]),
    );
    const rows = (await syncRows.get()).values;
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { change: 'created' }, value: 12 }),
        expect.objectContaining({ labels: { change: 'deleted' }, value: 1 }),
      ]),
    );
    const lag = (await syncLag.get()).values.find(
      (v) => v.metricName === 'airtable_ops_sync_lag_seconds_sum' && v.labels.mode === 'incremental',
    );
    expect(lag?.value).toBe(4);
  });
});
