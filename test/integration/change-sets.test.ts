import request from 'supertest';
import type { Express } from 'express';
import { type AirtableEmulator, type EmulatorFaultRule } from '@airtable-ops/airtable-emulator';
import { readBase, renameRecords } from '../support/base-state';
import {
  createActiveWorkspace,
  eventually,
  registerUser,
  settledJob,
  startTestPlatform,
  type TestContext,
  type TestPlatform,
} from '../support/helpers';
import { opsSeed } from '../support/seeds';

// API → dev server → worker → emulator (real limits) → Postgres journal, for every way a change set ends.

const TOKEN = 'patChangeSetTests.0123456789abcdef';
const TABLES = ['Clients', 'Projects', 'Tasks'];
const BASES = Array.from({ length: 14 }, (_, i) => `appOPSchangeSet${String(i).padStart(2, '0')}`);

describe('change sets, end to end', () => {
  let platform: TestPlatform;
  let ctx: TestContext;
  let emulator: AirtableEmulator;
  let app: Express;
  let user: TestPlatform['user'];
  let nextBase = 0;

  beforeAll(async () => {
    platform = await startTestPlatform({
      name: 'change-sets',
      seed: opsSeed({ baseIds: BASES }),
      tokens: [TOKEN],
    });
    ({ ctx, emulator, app, user } = platform);
  });
  afterAll(() => platform.close());

  /** A fresh copy of the ops base behind its own active workspace. */
  async function freshWorkspace() {
    const baseId = BASES[nextBase++]!;
    const workspaceId = await createActiveWorkspace(app, user.auth, { baseId, token: TOKEN });
    return { baseId, workspaceId, ids: idsByName(baseId) };
  }

  function idsByName(baseId: string) {
    const ids: Record<string, string> = {};
    for (const table of TABLES)
      for (const r of emulator.listRecords(baseId, table))
        ids[String(r.fields.Name ?? r.fields.Title)] = r.id;
    return ids;
  }

  /** Steps 1–4: create projects, update tasks, upsert clients, delete tasks; 12 records each (two requests). */
  function fourSteps(ids: Record<string, string>) {
    const task = (n: number) => ids[`Task ${String(n).padStart(3, '0')}`]!;
    return [
      {
        table: 'Projects',
        action: 'create',
        records: Array.from({ length: 12 }, (_, i) => ({
          fields: {
            Name: `New project ${i + 1}`,
            Status: 'Active',
            Budget: (i + 1) * 100,
            Client: [ids.Acme],
          },
        })),
      },
      {
        table: 'Tasks',
        action: 'update',
        records: Array.from({ length: 12 }, (_, i) => ({
          id: task(i + 1),
          fields: { Done: true, Notes: `Updated ${i + 1}`, Estimate: 9 },
        })),
      },
      {
        table: 'Clients',
        action: 'upsert',
        fieldsToMergeOn: ['Name'],
        records: [
          { fields: { Name: 'Acme', Tier: 'Silver' } },
          { fields: { Name: 'Globex', Tier: 'Gold', Since: '2025-05-05' } },
          ...Array.from({ length: 10 }, (_, i) => ({ fields: { Name: `Client ${i + 1}`, Tier: 'Silver' } })),
        ],
      },
      {
        table: 'Tasks',
        action: 'delete',
        records: Array.from({ length: 12 }, (_, i) => ({ id: task(i + 13) })),
      },
    ];
  }

  /**
   * Submits the four steps with 300 creates in the first, and waits until at least `applied` of
   * them (and not all) are in: a change set caught in the middle.
   */
  async function bulkSetUnderWay(workspaceId: string, ids: Record<string, string>, applied: number) {
    const steps = fourSteps(ids);
    steps[0]!.records = Array.from({ length: 300 }, (_, i) => ({
      fields: { Name: `Bulk ${i}`, Status: 'Done', Budget: i, Client: [ids.Globex] },
    }));
    const jobId = (await submit(workspaceId, steps).expect(202)).body.job.id as string;
    await eventually(
      async () => {
        const res = await request(app).get(`/api/v1/jobs/${jobId}`).set(user.auth).expect(200);
        const done = res.body.progress?.recordsApplied ?? 0;
        return done >= applied && done < 300 ? res.body : undefined;
      },
      120_000,
      100,
    );
    return jobId;
  }

  function submit(workspaceId: string, steps: unknown, headers: Record<string, string> = {}) {
    return request(app)
      .post(`/api/v1/workspaces/${workspaceId}/changes`)
      .set(user.auth)
      .set(headers)
      .send({ steps });
  }

  it('applies four steps exactly, reporting progress and a completed job', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const before = readBase(emulator, baseId, TABLES);
    const submitted = await submit(workspaceId, fourSteps(ids)).expect(202);
    const jobId = submitted.body.job.id as string;
    expect(jobId).toMatch(/^changeset-/);

    const job = await settledJob(app, user.auth, jobId);
    expect(job).toMatchObject({
      kind: 'changeset.apply',
      status: 'completed',
      result: { status: 'completed', recordsApplied: 48, recordsTotal: 48 },
    });
    const after = readBase(emulator, baseId, TABLES);

    // Step 1: exactly twelve new projects, each once, linked to Acme both ways.
    const created = after.Projects!.filter((p) => !before.Projects!.some((b) => b.id === p.id));
    expect(created.map((p) => p.fields.Name).sort()).toEqual(
      Array.from({ length: 12 }, (_, i) => `New project ${i + 1}`).sort(),
    );
    for (const p of created) {
      const n = Number(String(p.fields.Name).split(' ').pop());
      expect(p.fields).toEqual({
        Name: `New project ${n}`,
        Status: 'Active',
        Budget: n * 100,
        Client: [ids.Acme],
        Label: `New project ${n} (Active)`,
      });
    }
    // Step 2: the twelve tasks hold the new values and kept everything else.
    const tasksAfter = new Map(after.Tasks!.map((t) => [t.id, t.fields]));
    for (let i = 1; i <= 12; i++) {
      const id = ids[`Task ${String(i).padStart(3, '0')}`]!;
      const old = before.Tasks!.find((t) => t.id === id)!.fields;
      expect(tasksAfter.get(id)).toEqual({ ...old, Done: true, Notes: `Updated ${i}`, Estimate: 9 });
    }
    // Step 3: two clients updated in place, ten created.
    const clients = new Map(after.Clients!.map((c) => [c.fields.Name, c]));
    expect(after.Clients).toHaveLength(13);
    expect(clients.get('Acme')).toMatchObject({
      id: ids.Acme,
      fields: { Tier: 'Silver', Since: '2024-01-15' },
    });
    expect(clients.get('Globex')).toMatchObject({
      id: ids.Globex,
      fields: { Tier: 'Gold', Since: '2025-05-05' },
    });
    expect((clients.get('Acme')!.fields.Projects as string[]).length).toBe(15);
    // Step 4: the twelve deleted tasks are gone, and so are the links to them.
    expect(after.Tasks).toHaveLength(before.Tasks!.length - 12);
    const deleted = new Set(
      Array.from({ length: 12 }, (_, i) => ids[`Task ${String(i + 13).padStart(3, '0')}`]),
    );
    for (const p of after.Projects!)
      for (const t of (p.fields.Tasks as string[]) ?? []) expect(deleted.has(t)).toBe(false);

    // The history holds counts only: no record values, and a handful of events for 48 records.
    const history = await ctx.client.workflow.getHandle(jobId).fetchHistory();
    expect(JSON.stringify(history)).not.toContain('New project');
    expect(history.events!.length).toBeLessThan(60);
  }, 120_000);

  it.each([1, 2, 3, 4])(
    'leaves the base as it was when step %i fails half-way, and reports the step',
    async (k) => {
      const { baseId, workspaceId, ids } = await freshWorkspace();
      const steps = fourSteps(ids);
      const failing = steps[k - 1]!;
      // The step's first request lands; its second is refused as Airtable refuses a bad value.
      const rule: EmulatorFaultRule = {
        operation: failing.action as EmulatorFaultRule['operation'],
        table: failing.table,
        skip: 1,
        status: 422,
        message: `Injected refusal at step ${k}`,
      };
      const before = readBase(emulator, baseId, TABLES);
      emulator.setFaults({ rules: [rule] });
      try {
        const submitted = await submit(workspaceId, steps).expect(202);
        const job = await settledJob(app, user.auth, submitted.body.job.id);
        expect(job.status).toBe('compensated');
        expect(job.result).toMatchObject({
          status: 'compensated',
          error: { step: k - 1, message: expect.stringContaining(`Injected refusal at step ${k}`) },
        });
        // The step's two requests are in flight together: either may be the one that lands.
        const landed = job.result.recordsApplied - (k - 1) * 12;
        expect([10, 2]).toContain(landed);
        const idMap = (job.result.idMap ?? {}) as Record<string, string>;
        // Only deletes are undone by recreating: what step 4 deleted, nothing otherwise.
        expect(Object.keys(idMap)).toHaveLength(k === 4 ? landed : 0);
        expect(readBase(emulator, baseId, TABLES)).toEqual(renameRecords(before, idMap));
      } finally {
        emulator.setFaults({});
      }
    },
    120_000,
  );

  it('undoes what it applied when cancelled mid-way, and ends cancelled', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const before = readBase(emulator, baseId, TABLES);
    // Cancel once some records are in, well before the end.
    const jobId = await bulkSetUnderWay(workspaceId, ids, 10);
    await request(app).post(`/api/v1/jobs/${jobId}/cancel`).set(user.auth).expect(202);

    const job = await settledJob(app, user.auth, jobId);
    // Whole, so a failure shows how it ended instead.
    expect(job).toMatchObject({ status: 'cancelled', result: { status: 'cancelled' } });
    expect(readBase(emulator, baseId, TABLES)).toEqual(renameRecords(before, job.result.idMap ?? {}));
  }, 120_000);

  it('ends failed, saying what remains, when Airtable keeps refusing the compensation', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const steps = fourSteps(ids).slice(0, 2);
    emulator.setFaults({
      rules: [
        { operation: 'update', table: 'Tasks', status: 422, message: 'Refused update' },
        { operation: 'delete', table: 'Projects', times: 1_000, status: 403, type: 'INVALID_PERMISSIONS' },
      ],
    });
    try {
      const submitted = await submit(workspaceId, steps).expect(202);
      const job = await settledJob(app, user.auth, submitted.body.job.id);
      expect(job.status).toBe('failed');
      expect(job.error).toMatchObject({
        type: 'ChangeSetCompensationIncomplete',
        message: expect.stringContaining('could not undo 12 record(s) in 2 request(s)'),
      });
      expect(job.result).toMatchObject({
        status: 'failed',
        undone: [
          { step: 0, chunk: 0, records: 10, error: expect.stringContaining('403') },
          { step: 0, chunk: 1, records: 2, error: expect.stringContaining('403') },
        ],
      });
    } finally {
      emulator.setFaults({});
    }
    // What could not be undone is still there, as reported.
    expect(
      emulator.listRecords(baseId, 'Projects').filter((p) => String(p.fields.Name).startsWith('New project')),
    ).toHaveLength(12);
  }, 120_000);

  it('reconciles a create whose answer was lost instead of creating it twice', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const before = readBase(emulator, baseId, TABLES);
    emulator.setFaults({ rules: [{ operation: 'create', table: 'Projects', effect: 'drop' }] });
    emulator.clearRequestLog();
    try {
      const submitted = await submit(workspaceId, [fourSteps(ids)[0]]).expect(202);
      const job = await settledJob(app, user.auth, submitted.body.job.id);
      expect(job.status).toBe('completed');
    } finally {
      emulator.setFaults({});
    }
    const projects = readBase(emulator, baseId, TABLES).Projects!;
    expect(projects).toHaveLength(before.Projects!.length + 12);
    expect(new Set(projects.map((p) => p.fields.Name)).size).toBe(projects.length);
    // Two create requests for two chunks: the dropped one was found, not sent again.
    const creates = emulator.requestLog.filter(
      (e) => e.baseId === baseId && e.method === 'POST' && !e.path.includes('listRecords'),
    );
    expect(creates.map((e) => e.status).sort()).toEqual([0, 200]);
  }, 120_000);

  it('answers a repeated request with the same Idempotency-Key with the first job', async () => {
    const { workspaceId, ids } = await freshWorkspace();
    const steps = [fourSteps(ids)[1]];
    const first = await submit(workspaceId, steps, { 'Idempotency-Key': 'nightly-2026-11-23' }).expect(202);
    const again = await submit(workspaceId, steps, { 'Idempotency-Key': 'nightly-2026-11-23' }).expect(200);
    expect(again.body.job.id).toBe(first.body.job.id);
    await settledJob(app, user.auth, first.body.job.id);
  }, 60_000);

  it('refuses the same Idempotency-Key with another change set (422), applying only the first', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const key = 'weekly-2026-11-29';
    const first = await submit(workspaceId, [fourSteps(ids)[1]], { 'Idempotency-Key': key }).expect(202);
    const other = await submit(workspaceId, [fourSteps(ids)[0]], { 'Idempotency-Key': key }).expect(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    // The same set with its keys in another order is the same request.
    const { table, action, records } = fourSteps(ids)[1] as {
      table: string;
      action: string;
      records: object[];
    };
    const reordered = [
      { records: records.map((r) => Object.fromEntries(Object.entries(r).reverse())), action, table },
    ];
    await submit(workspaceId, reordered, { 'Idempotency-Key': key }).expect(200);
    await settledJob(app, user.auth, first.body.job.id);
    expect(
      emulator.listRecords(baseId, 'Projects').filter((p) => String(p.fields.Name).startsWith('New project')),
    ).toHaveLength(0);
  }, 60_000);

  it('retries a validation read Airtable answered 503, and accepts the set', async () => {
    const { workspaceId, ids } = await freshWorkspace();
    emulator.setFaults({ rules: [{ operation: 'list', table: 'Tasks', times: 2, status: 503 }] });
    try {
      const submitted = await submit(workspaceId, [fourSteps(ids)[1]]).expect(202);
      expect(await settledJob(app, user.auth, submitted.body.job.id)).toMatchObject({ status: 'completed' });
    } finally {
      emulator.setFaults({});
    }
  }, 60_000);

  it('deleting the workspace mid-way undoes the change set first: the base ends as before', async () => {
    const { baseId, workspaceId, ids } = await freshWorkspace();
    const before = readBase(emulator, baseId, TABLES);
    const jobId = await bulkSetUnderWay(workspaceId, ids, 30);
    const deleted = await request(app).delete(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(202);
    // No new change set is accepted while the workspace goes.
    await submit(workspaceId, [fourSteps(ids)[1]]).expect((res) => expect([404, 409]).toContain(res.status));

    expect(await settledJob(app, user.auth, deleted.body.job.id, 120_000)).toMatchObject({
      status: 'completed',
    });
    expect((await settledJob(app, user.auth, jobId)).status).toBe('cancelled');
    expect(readBase(emulator, baseId, TABLES)).toEqual(before);
    await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(user.auth).expect(404);
  }, 180_000);

  describe('a bad change set gets 400 with details and starts nothing', () => {
    let workspaceId: string;
    let ids: Record<string, string>;
    beforeAll(async () => {
      ({ workspaceId, ids } = await freshWorkspace());
    });

    async function refused(steps: unknown) {
      const count = async () =>
        (await ctx.pool.query('SELECT count(*)::int AS n FROM jobs WHERE workspace_id = $1', [workspaceId]))
          .rows[0].n;
      const jobsBefore = await count();
      const res = await submit(workspaceId, steps).expect(400);
      expect(await count()).toBe(jobsBefore);
      return res.body.error as { code: string; message: string; details: Array<Record<string, unknown>> };
    }

    it('names unknown tables and fields, computed fields and wrong values', async () => {
      const error = await refused([
        { table: 'Nope', action: 'create', records: [{ fields: { Name: 'x' } }] },
        {
          table: 'Projects',
          action: 'create',
          records: [
            { fields: { Name: 'ok' } },
            { fields: { Nmae: 'typo', Label: 'computed', Budget: 'lots' } },
          ],
        },
      ]);
      expect(error.code).toBe('invalid_change_set');
      expect(error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ step: 0, message: 'Unknown table "Nope"' }),
          expect.objectContaining({
            step: 1,
            record: 1,
            field: 'Nmae',
            path: 'steps[1].records[1].fields.Nmae',
          }),
          expect.objectContaining({
            step: 1,
            record: 1,
            field: 'Label',
            message: expect.stringContaining('computed'),
          }),
          expect.objectContaining({
            step: 1,
            record: 1,
            field: 'Budget',
            message: expect.stringContaining('number'),
          }),
        ]),
      );
      expect(error.details).toHaveLength(4);
    });

    it('names records that do not exist, links to missing records and records deleted by an earlier step', async () => {
      const task = ids['Task 001']!;
      const error = await refused([
        { table: 'Tasks', action: 'update', records: [{ id: 'recDOESNOTEXIST01', fields: { Done: true } }] },
        {
          table: 'Tasks',
          action: 'create',
          records: [{ fields: { Title: 't', Project: ['recMISSINGPROJ001'] } }],
        },
        { table: 'Tasks', action: 'delete', records: [{ id: task }] },
        { table: 'Tasks', action: 'update', records: [{ id: task, fields: { Done: true } }] },
      ]);
      expect(error.details).toEqual([
        expect.objectContaining({
          step: 3,
          record: 0,
          recordId: task,
          message: 'Record ' + task + ' is deleted by step 2',
        }),
      ]);
      const missing = await refused([
        { table: 'Tasks', action: 'update', records: [{ id: 'recDOESNOTEXIST01', fields: { Done: true } }] },
        {
          table: 'Tasks',
          action: 'create',
          records: [{ fields: { Title: 't', Project: ['recMISSINGPROJ001'] } }],
        },
      ]);
      expect(missing.details).toEqual([
        expect.objectContaining({ step: 0, record: 0, recordId: 'recDOESNOTEXIST01' }),
        expect.objectContaining({ step: 1, record: 0, field: 'Project', recordId: 'recMISSINGPROJ001' }),
      ]);
    });

    it('refuses empty sets, more than three merge fields, and malformed steps', async () => {
      expect((await refused([])).details[0]).toMatchObject({
        message: 'A change set needs at least one step',
      });
      const merge = await refused([
        {
          table: 'Tasks',
          action: 'upsert',
          fieldsToMergeOn: ['Title', 'Notes', 'Due', 'Estimate'],
          records: [{ fields: { Title: 'a', Notes: 'b', Due: '2026-01-01', Estimate: 1 } }],
        },
      ]);
      expect(merge.details[0]).toMatchObject({
        step: 0,
        message: expect.stringContaining('1 to 3 fieldsToMergeOn'),
      });
      const shape = await refused([{ table: 'Tasks', action: 'explode', records: [] }]);
      expect(shape.code).toBe('validation_failed');
      const noRecords = await refused([{ table: 'Tasks', action: 'create', records: [] }]);
      expect(noRecords.details[0]).toMatchObject({ step: 0, message: 'A step needs at least one record' });
    });

    it('answers 404 for another user’s workspace, exactly as for a missing one', async () => {
      const other = await registerUser(app);
      const res = await request(app)
        .post(`/api/v1/workspaces/${workspaceId}/changes`)
        .set(other.auth)
        .send({ steps: [] })
        .expect(404);
      expect(res.body.error.code).toBe('not_found');
    });
  });
});
