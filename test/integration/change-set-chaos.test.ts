import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { taskQueues } from '../../temporal/task-queues';
import { readBase } from '../support/base-state';
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
import { OPS_BASE_ID, opsSeed } from '../support/seeds';

// A 500-record change set while the worker process is SIGKILLed at 20 random moments of real work
// (mid-request, between a request and its journal entry, mid-compensation-free progress) and
// restarted each time: the end state must be exact, with not one duplicate record.

const TOKEN = 'patChaosTestToken.0123456789abcdef';
const KILLS = 20;
const TABLES = ['Clients', 'Projects', 'Tasks'];

describe('a change set under repeated worker crashes', () => {
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let current: ChildProcess | undefined;

  beforeAll(async () => {
    ctx = await createTestContext();
    // Slow answers keep requests in flight long enough for kills to land inside them, and make the
    // set outlast twenty rounds of work.
    emulator = await startAirtableEmulator({
      seed: opsSeed({ tasks: 200 }),
      tokens: [TOKEN],
      latencyMs: [1_500, 2_500],
    });
  });
  afterAll(async () => {
    current?.kill('SIGKILL');
    await emulator.close();
    await ctx.close();
  });

  it(`applies exactly once through ${KILLS} SIGKILLs`, async () => {
    const prefix = `chaos-${Date.now()}-`;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'change-set-chaos-'));
    const app = createTestApi(ctx, taskQueues(prefix).platform, { airtableUrl: emulator.url });
    const spawnWorker = () =>
      spawnWorkerProcess(ctx, { taskQueuePrefix: prefix, dataDir, airtableUrl: emulator.url });
    const user = await registerUser(app);
    current = spawnWorker();
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId: OPS_BASE_ID, token: TOKEN });

    const before = readBase(emulator, OPS_BASE_ID, TABLES);
    const tasks = before.Tasks!;
    const steps = [
      {
        table: 'Tasks',
        action: 'create',
        records: Array.from({ length: 300 }, (_, i) => ({
          fields: {
            Title: `Chaos ${i}`,
            Estimate: i,
            Due: '2027-01-15',
            Project: [before.Projects![i % 3]!.id],
          },
        })),
      },
      {
        table: 'Tasks',
        action: 'update',
        records: tasks
          .slice(0, 100)
          .map((t, i) => ({ id: t.id, fields: { Notes: `Rewritten ${i}`, Done: true } })),
      },
      {
        table: 'Clients',
        action: 'upsert',
        fieldsToMergeOn: ['Name'],
        records: [
          { fields: { Name: 'Acme', Tier: 'Silver' } },
          ...Array.from({ length: 49 }, (_, i) => ({ fields: { Name: `Chaos client ${i}`, Tier: 'Gold' } })),
        ],
      },
      { table: 'Tasks', action: 'delete', records: tasks.slice(100, 150).map((t) => ({ id: t.id })) },
    ];
    const submitted = await request(app)
      .post(`/api/v1/workspaces/${workspaceId}/changes`)
      .set(user.auth)
      .send({ steps })
      .expect(202);
    const jobId = submitted.body.job.id as string;

    // Each round: wait until the worker is sending requests for this base, let it work a random
    // moment, kill it without warning, start a new one.
    let kills = 0;
    while (kills < KILLS) {
      const seen = emulator.requestLog.filter((e) => e.baseId === OPS_BASE_ID).length;
      const running = async () =>
        (await request(app).get(`/api/v1/jobs/${jobId}`).set(user.auth).expect(200)).body.status ===
        'running';
      await eventually(
        async () =>
          emulator.requestLog.filter((e) => e.baseId === OPS_BASE_ID).length > seen || !(await running())
            ? true
            : undefined,
        60_000,
        20,
      );
      // Up to a little more than one slice of work, so kills land both inside a slice and in the next one.
      await new Promise((r) => setTimeout(r, Math.random() * 2_500));
      if (!(await running())) break;
      const dying = current;
      dying.kill('SIGKILL');
      await new Promise((r) => dying.once('exit', r));
      kills++;
      current = spawnWorker();
    }
    const job = await settledJob(app, user.auth, jobId, 300_000);
    expect(kills).toBe(KILLS);
    expect(job).toMatchObject({ status: 'completed', result: { recordsApplied: 500, recordsTotal: 500 } });

    const after = readBase(emulator, OPS_BASE_ID, TABLES);
    // Not one duplicate: every primary value occurs once per table.
    for (const table of TABLES) {
      const names = after[table]!.map((r) => String(r.fields.Name ?? r.fields.Title));
      expect(names.length - new Set(names).size).toBe(0);
    }
    // The exact end state.
    const created = after.Tasks!.filter((t) => String(t.fields.Title).startsWith('Chaos '));
    expect(created).toHaveLength(300);
    for (const t of created) {
      const i = Number(String(t.fields.Title).slice(6));
      expect(t.fields).toEqual({
        Title: `Chaos ${i}`,
        Estimate: i,
        Due: '2027-01-15',
        Project: [before.Projects![i % 3]!.id],
      });
    }
    const afterById = new Map(after.Tasks!.map((t) => [t.id, t.fields]));
    tasks
      .slice(0, 100)
      .forEach((t, i) =>
        expect(afterById.get(t.id)).toEqual({ ...t.fields, Notes: `Rewritten ${i}`, Done: true }),
      );
    for (const t of tasks.slice(100, 150)) expect(afterById.has(t.id)).toBe(false);
    for (const t of tasks.slice(150)) expect(afterById.get(t.id)).toEqual(t.fields);
    expect(after.Tasks).toHaveLength(tasks.length + 300 - 50);
    const clients = new Map(after.Clients!.map((c) => [c.fields.Name, c.fields]));
    expect(after.Clients).toHaveLength(before.Clients!.length + 49);
    expect(clients.get('Acme')).toMatchObject({ Tier: 'Silver' });
    for (let i = 0; i < 49; i++)
      expect(clients.get(`Chaos client ${i}`)).toEqual({ Name: `Chaos client ${i}`, Tier: 'Gold' });

    // The kills really interrupted work: some write slices ran more than once.
    const history = await ctx.client.workflow.getHandle(jobId).fetchHistory();
    const retried = history.events!.filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried.length).toBeGreaterThan(0);
  }, 600_000);
});
