import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { taskQueues } from '../../temporal/task-queues';
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
import { mirrorDifferences, SYNC_BASE_ID, syncSeed, type MirrorMap } from '../syncs/support';
import type { Payload } from '@temporalio/common';
import { payloadCodec } from '../../temporal/codec';

const TOKEN = 'patSyncCrashToken.0123456789abcdef';
const TASKS = 8_000;

describe('a worker killed in the middle of a sync run', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  const workers: ChildProcess[] = [];
  let role: string | undefined;

  beforeAll(async () => {
    ctx = await createTestContext();
    // Some latency keeps the copy busy long enough to kill the worker in the middle of a table.
    emulator = await startAirtableEmulator({
      seed: syncSeed({ tasks: TASKS }),
      tokens: [TOKEN],
      latencyMs: 150,
    });
  });
  afterAll(async () => {
    for (const w of workers) w.kill('SIGKILL');
    if (role) {
      await ctx.pool.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
      await ctx.pool.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
    }
    await emulator.close();
    await ctx.close();
  });

  it('resumes the copy from its last page on another worker and ends exact', async () => {
    const prefix = `sync-crash-${Date.now()}-`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sync-crash-'));
    const app = createTestApi(ctx, taskQueues(prefix).platform, { airtableUrl: emulator.url });
    const user = await registerUser(app);
    const spawn = () => {
      const worker = spawnWorkerProcess(ctx, { taskQueuePrefix: prefix, dataDir, airtableUrl: emulator.url });
      workers.push(worker);
      return worker;
    };
    const first = spawn();
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: SYNC_BASE_ID, token: TOKEN });
    const created = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/syncs`)
      .set(user.auth)
      .send({ every: '6d' })
      .expect(201);
    const syncId = created.body.sync.id as string;
    role = created.body.sync.postgres.role;

    // Wait until the Tasks copy has checkpointed a good part of the table, then kill the worker.
    const jobId = await eventually(async () => {
      const res = await request(app).get(`/api/v1/syncs/${syncId}`).set(user.auth).expect(200);
      return res.body.sync.running?.job.id as string | undefined;
    }, 60_000);
    const handle = ctx.client.workflow.getHandle(jobId);
    await eventually(
      async () => {
        const { raw } = await handle.describe();
        const copy = raw.pendingActivities?.find((a) => a.activityType?.name === 'copySyncTable');
        const sealed = copy?.heartbeatDetails?.payloads?.[0];
        if (!sealed?.data) return undefined;
        // Payloads are encrypted in Temporal (temporal/codec.ts): open it as the platform does.
        const details = payloadCodec.decrypt(sealed as Payload).data!;
        // One checkpoint per part of the table the copy reads at once.
        const checkpoint = JSON.parse(Buffer.from(details).toString('utf8')) as {
          parts: Array<{ delivered: number }>;
        };
        const delivered = checkpoint.parts.reduce((sum, part) => sum + part.delivered, 0);
        return delivered >= 1_000 ? true : undefined;
      },
      90_000,
      100,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killedAt = Date.now();
    spawn();

    const job = await settledJob(app, user.auth, jobId, 120_000);
    expect(job).toMatchObject({ kind: 'sync.run', status: 'completed' });
    expect(job.result).toMatchObject({ mode: 'full', created: TASKS + 4 });

    // The copy resumed: the second attempt did not read the table from its first page again.
    const history = await handle.fetchHistory();
    const retried = history.events?.filter(
      (e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1,
    );
    expect(retried?.length).toBeGreaterThanOrEqual(1);
    const log = (await (await fetch(`${emulator.url}/__emulator/log?since=${killedAt}`)).json()) as {
      entries: Array<{ method: string; path: string }>;
    };
    const pagesAfterKill = log.entries.filter((e) => e.path.endsWith('/listRecords')).length;
    expect(pagesAfterKill).toBeLessThan(TASKS / 100 - 8);

    const sync = (await request(app).get(`/api/v1/syncs/${syncId}`).set(user.auth).expect(200)).body.sync;
    const problems = await mirrorDifferences({
      pool: ctx.pool,
      emulator,
      airtable: ctx.airtable(emulator.url),
      token: TOKEN,
      baseId: SYNC_BASE_ID,
      schemaName: sync.postgres.schema,
      tables: sync.postgres.tables as MirrorMap,
    });
    expect(problems).toEqual([]);
    // Nothing of the run is left in staging.
    const staged = await ctx.pool.query(
      `SELECT count(*)::int AS n FROM synced_records WHERE workspace_id = $1`,
      [workspaceId],
    );
    expect(staged.rows[0].n).toBe(0);
  }, 240_000);
});
