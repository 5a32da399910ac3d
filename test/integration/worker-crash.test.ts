import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { taskQueues } from '../../temporal/task-queues';
import {
  createTestApi,
  createTestContext,
  eventually,
  registerUser,
  spawnWorkerProcess,
  type TestContext,
} from '../support/helpers';
import { SMALL_BASE_ID, smallSeed } from '../support/seeds';

const TOKEN = 'patCrashTestToken.0123456789abcdef';
describe('a worker killed mid-provisioning', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    ctx = await createTestContext();
    // Slow answers keep the provisioning inside an Airtable call long enough to kill the worker there.
    emulator = await startAirtableEmulator({ seed: smallSeed(), tokens: [TOKEN], latencyMs: 3_000 });
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    await emulator.close();
    await ctx.close();
  });

  it('finishes after a restart with one workspace row and one stored secret', async () => {
    const prefix = `crash-${Date.now()}-`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'worker-crash-'));
    const app = createTestApi(ctx, taskQueues(prefix).platform);
    const user = await registerUser(app);

    const first = spawnWorkerProcess(ctx, { taskQueuePrefix: prefix, dataDir, airtableUrl: emulator.url });
    workers.push(first);
    const created = await request(app)
      .post('/api/v1/workspaces')
      .set(user.auth)
      .send({ name: 'Survives crashes', airtable: { baseId: SMALL_BASE_ID, token: TOKEN } })
      .expect(202);
    const { workspace, job } = created.body;

    // Wait until an Airtable call is in flight on the first worker, then kill it without warning.
    const handle = ctx.client.workflow.getHandle(job.id);
    await eventually(async () => {
      const { raw } = await handle.describe();
      const started = raw.pendingActivities?.some(
        (a) => a.activityType?.name === 'verifyAirtableAccess' && a.lastStartedTime,
      );
      return started ? true : undefined;
    }, 60_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    workers.push(spawnWorkerProcess(ctx, { taskQueuePrefix: prefix, dataDir, airtableUrl: emulator.url }));
    const settled = await eventually(async () => {
      const res = await request(app).get(`/api/v1/workspaces/${workspace.id}`).set(user.auth).expect(200);
      return res.body.status === 'provisioning' ? undefined : res.body;
    }, 90_000);
    expect(settled.status).toBe('active');

    const rows = await ctx.pool.query('SELECT count(*)::int AS n FROM workspaces WHERE owner_id = $1', [
      user.userId,
    ]);
    expect(rows.rows[0].n).toBe(1);
    const secrets = await ctx.pool.query(
      'SELECT count(*)::int AS n FROM airtable_connections WHERE workspace_id = $1',
      [workspace.id],
    );
    expect(secrets.rows[0].n).toBe(1);
    // The workspace turns active in the workflow's last activity; the workflow (and so the job) ends
    // a workflow task later.
    await handle.result();
    const jobRes = await request(app).get(`/api/v1/jobs/${job.id}`).set(user.auth).expect(200);
    expect(jobRes.body.status).toBe('completed');
    // The kill really interrupted an attempt: verification ran more than once.
    const history = await handle.fetchHistory();
    const attempts = history.events?.filter(
      (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt! > 1,
    );
    expect(attempts?.length).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
