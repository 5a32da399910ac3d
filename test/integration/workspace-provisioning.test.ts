import { execFileSync } from 'node:child_process';
import request from 'supertest';
import type { Express } from 'express';
import type { Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createJobService } from '../../domain/jobs/service';
import { createLogger } from '../../core/logger';
import { insertJob } from '../../domain/jobs/store';
import { insertWorkspaceWithConnection } from '../../domain/workspaces/store';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from '../support/env';
import {
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  uniqueTaskQueue,
  withWorker,
  type TestContext,
} from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

// API → real dev server → worker → Airtable emulator → Postgres, for success and for failure.

const TOKEN = 'patIntegrationToken.0123456789abcdef';
const OTHER_BASE_TOKEN = 'patOtherBaseOnly.0123456789abcdef';

describe('workspace provisioning, end to end', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let app: Express;
  const taskQueue = uniqueTaskQueue('provisioning');
  let stopWorker: () => void;
  let workerDone: Promise<void>;

  beforeAll(async () => {
    ctx = await createTestContext();
    emulator = await startAirtableEmulator({
      seed: smallSeed(),
      tokens: [TOKEN, { token: OTHER_BASE_TOKEN, bases: ['appNOTTHISBASE001'] }],
    });
    app = createTestApi(ctx, taskQueue);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    stopWorker = release;
    let started!: (w: Worker) => void;
    const ready = new Promise<Worker>((r) => (started = r));
    workerDone = withWorker(ctx, { taskQueue, airtableUrl: emulator.url }, async (w) => {
      started(w);
      await held;
    });
    await ready;
  });
  afterAll(async () => {
    stopWorker();
    await workerDone;
    await emulator.close();
    await ctx.close();
  });

  /** `POST /api/v1/workspaces` for the small test base, expecting 202. */
  function createWorkspace(auth: Record<string, string>, name: string, token: string) {
    return request(app)
      .post('/api/v1/workspaces')
      .set(auth)
      .send({ name, airtable: { baseId: SMALL_BASE_ID, token } })
      .expect(202);
  }

  async function settled(auth: Record<string, string>, workspaceId: string) {
    return eventually(async () => {
      const res = await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(auth).expect(200);
      return res.body.status === 'provisioning' ? undefined : res.body;
    });
  }

  async function jobOf(auth: Record<string, string>, jobId: string) {
    return eventually(async () => {
      const res = await request(app).get(`/api/v1/jobs/${jobId}`).set(auth).expect(200);
      return ['running', 'pending'].includes(res.body.status) ? undefined : res.body;
    });
  }

  it('makes a workspace with a valid token active, with its schema kept and its token sealed', async () => {
    const schemaReads = () =>
      emulator.requestLog.filter((e) => e.path === `/v0/meta/bases/${SMALL_BASE_ID}/tables`).length;
    const readsBefore = schemaReads();
    const user = await registerUser(app);
    const created = await createWorkspace(user.auth, 'Operations', TOKEN);
    expect(created.body).toEqual({
      workspace: { id: expect.any(String), name: 'Operations', status: 'provisioning' },
      job: { id: expect.stringMatching(/^workspace-provision-/) },
    });
    const workspaceId = created.body.workspace.id;
    const jobId = created.body.job.id;

    const workspace = await settled(user.auth, workspaceId);
    expect(workspace).toMatchObject({
      id: workspaceId,
      status: 'active',
      airtable: { baseId: SMALL_BASE_ID },
    });
    expect(JSON.stringify(workspace)).not.toContain(TOKEN);

    const job = await jobOf(user.auth, jobId);
    expect(job).toMatchObject({
      id: jobId,
      kind: 'workspace.provision',
      status: 'completed',
      result: { status: 'active', tableCount: 2 },
    });

    const schema = await ctx.pool.query('SELECT tables FROM workspace_schemas WHERE workspace_id = $1', [
      workspaceId,
    ]);
    expect(schema.rows[0].tables.map((t: { name: string }) => t.name)).toEqual(['Projects', 'Tasks']);
    // Verification and snapshot share one read of the schema, paced like every Airtable request.
    expect(schemaReads()).toBe(readsBefore + 1);
    const paced = await ctx.pool.query(`SELECT 1 FROM airtable_pacing WHERE key = $1`, [
      `base:${SMALL_BASE_ID}`,
    ]);
    expect(paced.rows).toHaveLength(1);
    const secret = await ctx.pool.query(
      'SELECT token_ciphertext, verified_at FROM airtable_connections WHERE workspace_id = $1',
      [workspaceId],
    );
    expect(secret.rows).toHaveLength(1);
    expect(secret.rows[0].token_ciphertext).not.toContain(TOKEN);
    expect(secret.rows[0].verified_at).not.toBeNull();

    const list = await request(app).get('/api/v1/workspaces').set(user.auth).expect(200);
    expect(list.body.workspaces.map((w: { id: string }) => w.id)).toEqual([workspaceId]);

    // What the Web UI and the CLI show: the job is found by its workspace, and carries no token.
    const cli = process.env[TEST_ENV.temporalCli]!;
    const listed = execFileSync(
      cli,
      [
        'workflow',
        'list',
        '--address',
        ctx.address,
        '--query',
        `WorkspaceId="${workspaceId}"`,
        '--output',
        'json',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(listed).toContain(jobId);
    const history = execFileSync(
      cli,
      ['workflow', 'show', '--address', ctx.address, '--workflow-id', jobId, '--output', 'json'],
      {
        encoding: 'utf8',
      },
    );
    expect(history).toContain('snapshotBaseSchema');
    expect(history).not.toContain(TOKEN);
    expect(history).not.toContain(Buffer.from(TOKEN).toString('base64'));
    const described = await ctx.client.workflow.getHandle(jobId).describe();
    expect(described.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
      expect.arrayContaining([
        ['WorkspaceId', workspaceId],
        ['UserId', user.userId],
        ['JobKind', 'workspace.provision'],
      ]),
    );
  });

  it.each([
    ['a wrong token', 'patWrongToken.000000000000000000', /refused/],
    ['a token without access to the base', OTHER_BASE_TOKEN, /cannot access base/],
  ])('fails with %s, with a reason, and keeps no secret', async (_case, token, reason) => {
    const user = await registerUser(app);
    const created = await createWorkspace(user.auth, 'Broken', token);
    const workspace = await settled(user.auth, created.body.workspace.id);
    expect(workspace.status).toBe('failed');
    expect(workspace.error).toMatch(reason);
    const job = await jobOf(user.auth, created.body.job.id);
    expect(job.status).toBe('failed');
    expect(job.error.message).toMatch(reason);

    const secrets = await ctx.pool.query('SELECT 1 FROM airtable_connections WHERE workspace_id = $1', [
      created.body.workspace.id,
    ]);
    expect(secrets.rowCount).toBe(0);
    const snapshots = await ctx.pool.query('SELECT 1 FROM workspace_schemas WHERE workspace_id = $1', [
      created.body.workspace.id,
    ]);
    expect(snapshots.rowCount).toBe(0);
    // A non-retryable Airtable answer is not retried: one meta call, not eight.
    const calls = emulator.requestLog.filter(
      (e) => e.path.includes(SMALL_BASE_ID) && e.status >= 400 && e.status < 500,
    );
    expect(calls.length).toBeGreaterThanOrEqual(1);
  });

  it("hides one user's workspace and job from another (404, as if missing)", async () => {
    const owner = await registerUser(app);
    const stranger = await registerUser(app);
    const created = await createWorkspace(owner.auth, 'Private', TOKEN);
    const { workspace, job } = created.body;
    const missing = await request(app)
      .get(`/api/v1/workspaces/00000000-0000-4000-8000-000000000000`)
      .set(stranger.auth)
      .expect(404);
    const foreign = await request(app)
      .get(`/api/v1/workspaces/${workspace.id}`)
      .set(stranger.auth)
      .expect(404);
    expect(foreign.body).toEqual(missing.body);
    await request(app).get(`/api/v1/jobs/${job.id}`).set(stranger.auth).expect(404);
    await request(app).post(`/api/v1/jobs/${job.id}/cancel`).set(stranger.auth).expect(404);
    await request(app).delete(`/api/v1/workspaces/${workspace.id}`).set(stranger.auth).expect(404);
    expect(
      (await request(app).get('/api/v1/workspaces').set(stranger.auth).expect(200)).body.workspaces,
    ).toEqual([]);
    await settled(owner.auth, workspace.id);
  });

  /** A job recorded five minutes ago and never started (its API died), then the API's sweep. */
  async function recordedFiveMinutesAgoThenSwept(job: Parameters<typeof insertJob>[1]) {
    await insertJob(ctx.pool, job);
    await ctx.pool.query(`UPDATE jobs SET created_at = now() - interval '5 minutes' WHERE id = $1`, [job.id]);
    const jobs = createJobService({
      pool: ctx.pool,
      temporal: { client: ctx.client, taskQueue },
      logger: createLogger({ level: 'silent' }),
    });
    expect(await jobs.abandonStalePending(60)).toBeGreaterThanOrEqual(1);
    return jobs;
  }

  it('abandons, never starts, a job the API recorded but never started (crash between commit and start)', async () => {
    const user = await registerUser(app);
    const workspaceId = randomUUID();
    const jobId = `workspace-provision-${randomUUID()}`;
    await insertWorkspaceWithConnection(ctx.pool, {
      id: workspaceId,
      ownerId: user.userId,
      name: 'Orphaned',
      baseId: SMALL_BASE_ID,
      token: TOKEN,
      encryptionKey: ctx.encryptionKey,
    });
    const jobs = await recordedFiveMinutesAgoThenSwept({
      id: jobId,
      kind: 'workspace.provision',
      workspaceId,
      userId: user.userId,
    });
    // Its caller got no answer and may have retried: the orphan must never run.
    const workspace = await settled(user.auth, workspaceId);
    expect(workspace).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('could not be started'),
    });
    expect(await jobOf(user.auth, jobId)).toMatchObject({
      status: 'failed',
      error: { type: 'JobAbandoned' },
    });
    await expect(ctx.client.workflow.getHandle(jobId).describe()).rejects.toThrow(WorkflowNotFoundError);
    const { rowCount } = await ctx.pool.query(`SELECT 1 FROM airtable_connections WHERE workspace_id = $1`, [
      workspaceId,
    ]);
    expect(rowCount).toBe(0);
    expect(await jobs.abandonStalePending(60)).toBe(0);
  });

  it('fails, never starts, a removal the API recorded but never started; a repeated DELETE removes it', async () => {
    const user = await registerUser(app);
    const created = await createWorkspace(user.auth, 'Half-removed', TOKEN);
    const workspaceId = created.body.workspace.id as string;
    expect((await settled(user.auth, workspaceId)).status).toBe('active');
    // As DELETE leaves it when the process dies between its commit and the start.
    const jobId = `workspace-deprovision-${workspaceId}`;
    await ctx.pool.query(`UPDATE workspaces SET status = 'deprovisioning' WHERE id = $1`, [workspaceId]);
    await recordedFiveMinutesAgoThenSwept({
      id: jobId,
      kind: 'workspace.deprovision',
      workspaceId,
      userId: user.userId,
    });
    const workspace = await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(200);
    expect(workspace.body).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('delete it again'),
    });
    await expect(ctx.client.workflow.getHandle(jobId).describe()).rejects.toThrow(WorkflowNotFoundError);

    const again = await request(app).delete(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(202);
    expect(again.body.job.id).toBe(jobId);
    expect(await jobOf(user.auth, jobId)).toMatchObject({ status: 'completed' });
    await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(404);
  });

  /** A new user's active workspace, and the API on a task queue no worker polls (its jobs run no step). */
  async function activeWorkspaceAndIdleApi(name: string) {
    const user = await registerUser(app);
    const created = await createWorkspace(user.auth, name, TOKEN);
    const workspaceId = created.body.workspace.id as string;
    expect((await settled(user.auth, workspaceId)).status).toBe('active');
    return { user, workspaceId, idle: createTestApi(ctx, uniqueTaskQueue('unpolled')) };
  }

  it('marks the workspace as going before DELETE answers: no new job is accepted, even before the workflow runs', async () => {
    // The deprovisioning workflow cannot have run any step yet.
    const { user, workspaceId, idle } = await activeWorkspaceAndIdleApi('Going');
    const deleted = await request(idle)
      .delete(`/api/v1/workspaces/${workspaceId}`)
      .set(user.auth)
      .expect(202);
    try {
      const workspace = await request(idle)
        .get(`/api/v1/workspaces/${workspaceId}`)
        .set(user.auth)
        .expect(200);
      expect(workspace.body.status).toBe('deprovisioning');
      const refused = await request(idle)
        .post(`/api/v1/workspaces/${workspaceId}/changes`)
        .set(user.auth)
        .send({ steps: [{ table: 'Projects', action: 'create', records: [{ fields: { Name: 'Late' } }] }] })
        .expect(409);
      expect(refused.body.error.code).toBe('workspace_not_active');
      const again = await request(idle)
        .delete(`/api/v1/workspaces/${workspaceId}`)
        .set(user.auth)
        .expect(202);
      expect(again.body.job.id).toBe(deleted.body.job.id);
    } finally {
      await ctx.client.workflow.getHandle(deleted.body.job.id).terminate('test over');
    }
  });

  it('refuses a conversation whose workspace is marked for removal while it is being recorded', async () => {
    const { user, workspaceId, idle } = await activeWorkspaceAndIdleApi('Racing');
    // A DELETE's marking, caught between its update and its commit.
    const marking = await ctx.pool.connect();
    try {
      await marking.query('BEGIN');
      await marking.query(`UPDATE workspaces SET status = 'deprovisioning' WHERE id = $1`, [workspaceId]);
      let answered = false;
      const creating = request(idle)
        .post(`/api/v1/workspaces/${workspaceId}/conversations`)
        .set(user.auth)
        .send({})
        .then((res) => {
          answered = true;
          return res;
        });
      // The request has read the workspace as active; it either waits for the row or (unguarded) answers.
      await eventually(async () => {
        if (answered) return true;
        const { rowCount } = await ctx.pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FROM workspaces%FOR SHARE%'`,
        );
        return rowCount ? true : undefined;
      });
      await marking.query('COMMIT');
      const res = await creating;
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('workspace_not_active');
      const { rowCount } = await ctx.pool.query(`SELECT 1 FROM conversations WHERE workspace_id = $1`, [
        workspaceId,
      ]);
      expect(rowCount).toBe(0);
    } finally {
      await marking.query('ROLLBACK').catch(() => undefined);
      marking.release();
    }
  });

  it('deprovisions: the secret is erased and the rows are gone', async () => {
    const user = await registerUser(app);
    const created = await createWorkspace(user.auth, 'Short-lived', TOKEN);
    const workspaceId = created.body.workspace.id;
    expect((await settled(user.auth, workspaceId)).status).toBe('active');

    const deleted = await request(app).delete(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(202);
    const again = await request(app).delete(`/api/v1/workspaces/${workspaceId}`).set(user.auth);
    if (again.status === 202) expect(again.body.job.id).toBe(deleted.body.job.id);
    const job = await jobOf(user.auth, deleted.body.job.id);
    expect(job).toMatchObject({ kind: 'workspace.deprovision', status: 'completed' });

    await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(404);
    for (const table of ['workspaces', 'airtable_connections', 'workspace_schemas']) {
      const column = table === 'workspaces' ? 'id' : 'workspace_id';
      const { rowCount } = await ctx.pool.query(`SELECT 1 FROM ${table} WHERE ${column} = $1`, [workspaceId]);
      expect({ table, rowCount }).toEqual({ table, rowCount: 0 });
    }
  });
});
