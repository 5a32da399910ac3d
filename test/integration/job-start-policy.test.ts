import { Client, type WorkflowClientInterceptor } from '@temporalio/client';
import type { Express } from 'express';
import request from 'supertest';
import type { AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { FailureType } from '../../core/failures';
import { dataConverter } from '../../temporal/data-converter';
import {
  createActiveWorkspace,
  createTestApi,
  eventually,
  settledJob,
  startWorker,
  uniqueTaskQueue,
  startTestPlatform,
  type TestContext,
  type TestPlatform,
} from '../support/helpers';
import { opsSeed } from '../support/seeds';

// One policy for a failed workflow start: either the request answers 202 and the job runs once, or
// it answers 503 and the job never runs, whatever moment the start call fails at.

const TOKEN = 'patStartPolicyTests.0123456789abcdef';
const BASES = Array.from({ length: 5 }, (_, i) => `appSTARTpolicy${String(i).padStart(3, '0')}`);

describe('a job whose workflow start fails', () => {
  let platform: TestPlatform;
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let app: Express;
  let user: TestPlatform['user'];
  let taskQueue: string;
  let nextBase = 0;

  beforeAll(async () => {
    platform = await startTestPlatform({
      name: 'start-policy',
      seed: opsSeed({ baseIds: BASES }),
      tokens: [TOKEN],
    });
    ({ ctx, emulator, app, user, taskQueue } = platform);
  });
  afterAll(() => platform.close());

  async function freshWorkspace() {
    const baseId = BASES[nextBase++]!;
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId, token: TOKEN });
    return { baseId, workspaceId, clients: () => emulator.listRecords(baseId, 'Clients').length };
  }

  /** The API on `queue`, with a client of the same server whose workflow starts fail at the chosen moment. */
  function apiWhoseStartsFail(
    failure: WorkflowClientInterceptor['startWithDetails'],
    queue = taskQueue,
  ): Express {
    const client = new Client({
      connection: ctx.client.connection,
      dataConverter,
      interceptors: { workflow: [{ startWithDetails: failure }] },
    });
    return createTestApi(ctx, queue, { airtableUrl: emulator.url, client });
  }

  /** Refused before it reaches Temporal. */
  const refused = () => Promise.reject(new Error('connection refused'));

  const changeSet = {
    steps: [
      {
        table: 'Clients',
        action: 'create',
        records: [
          { fields: { Name: 'Umbrella' } },
          { fields: { Name: 'Hooli' } },
          { fields: { Name: 'Vehement' } },
        ],
      },
    ],
  };

  /** Submits {@link changeSet} through `api` and expects `status`. */
  function submit(api: Express, workspaceId: string, status: number, idempotencyKey?: string) {
    const req = request(api).post(`/api/v1/workspaces/${workspaceId}/changes`).set(user.auth);
    if (idempotencyKey) req.set('Idempotency-Key', idempotencyKey);
    return req.send(changeSet).expect(status);
  }

  async function latestChangeSetJob(workspaceId: string) {
    const { rows } = await ctx.pool.query<{ id: string; status: string }>(
      `SELECT id, status FROM jobs WHERE workspace_id = $1 AND kind = 'changeset.apply' ORDER BY created_at DESC LIMIT 1`,
      [workspaceId],
    );
    return rows[0]!;
  }

  it('answers 503 and never runs it when the start never reached Temporal', async () => {
    const { workspaceId, clients } = await freshWorkspace();
    const before = clients();
    const broken = apiWhoseStartsFail(refused);
    const res = await submit(broken, workspaceId, 503);
    expect(res.body.error.code).toBe('temporal_unavailable');
    const job = await latestChangeSetJob(workspaceId);
    expect(job.status).toBe('abandoned');
    await expect(ctx.client.workflow.getHandle(job.id).describe()).rejects.toThrow(/not found/i);
    expect(clients()).toBe(before);
  });

  it('answers 503 to a DELETE whose start never reached Temporal, and leaves the workspace as it was', async () => {
    const { workspaceId } = await freshWorkspace();
    const broken = apiWhoseStartsFail(refused);
    const res = await request(broken).delete(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(503);
    expect(res.body.error.code).toBe('temporal_unavailable');
    const workspace = await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(200);
    expect(workspace.body.status).toBe('active');
    expect(workspace.body.error ?? null).toBeNull();
    const { rows } = await ctx.pool.query<{ status: string }>(`SELECT status FROM jobs WHERE id = $1`, [
      `workspace-deprovision-${workspaceId}`,
    ]);
    expect(rows[0]?.status).toBe('abandoned');
    // Still in use: a change set is accepted and applied.
    const submitted = await submit(app, workspaceId, 202);
    expect(await settledJob(app, user.auth, submitted.body.job.id)).toMatchObject({ status: 'completed' });
  });

  it('answers 503 and the job never runs when the start landed but its answer was lost; a retry with the same key runs it once', async () => {
    const { workspaceId, clients } = await freshWorkspace();
    const before = clients();
    // A queue no worker polls yet: the workflow cannot claim its job before the API gives it up.
    const idleQueue = uniqueTaskQueue('start-policy-idle');
    const broken = apiWhoseStartsFail(async (input, next) => {
      await next(input);
      throw new Error('deadline exceeded');
    }, idleQueue);
    const key = `start-policy-${Date.now()}`;
    await submit(broken, workspaceId, 503, key);
    const job = await latestChangeSetJob(workspaceId);
    expect(job.status).toBe('abandoned');

    // The workflow did start; once a worker picks it up it ends at its claim without writing.
    const late = await startWorker(ctx, { taskQueue: idleQueue, airtableUrl: emulator.url });
    try {
      const failure = await ctx.client.workflow
        .getHandle(job.id)
        .result()
        .catch((err: { cause?: { type?: string } }) => err);
      expect((failure as { cause?: { type?: string } }).cause?.type).toBe(FailureType.jobAbandoned);
    } finally {
      await late.stop();
    }
    expect(clients()).toBe(before);

    // The client retries with its key against a healthy API: the same job starts now, and runs once.
    const retried = await submit(app, workspaceId, 202, key);
    expect(retried.body.job.id).toBe(job.id);
    expect(await settledJob(app, user.auth, job.id)).toMatchObject({ status: 'completed' });
    expect(clients()).toBe(before + 3);
  });

  it('answers 202 and runs it once when the workflow claimed its job before the failure came back', async () => {
    const { workspaceId, clients } = await freshWorkspace();
    const before = clients();
    const broken = apiWhoseStartsFail(async (input, next) => {
      await next(input);
      // The running worker claims the job; only then does the start call "fail".
      await eventually(async () =>
        (await latestChangeSetJob(workspaceId)).status === 'running' ? true : undefined,
      );
      throw new Error('deadline exceeded');
    });
    const res = await submit(broken, workspaceId, 202);
    expect(await settledJob(app, user.auth, res.body.job.id)).toMatchObject({ status: 'completed' });
    expect(clients()).toBe(before + 3);
  });
});
