import { ScheduleNotFoundError } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import request from 'supertest';
import { baseRecords } from '../../airtable/access';
import { chunk } from '../../airtable/records';
import { JOB_KIND, WORKSPACE_ID } from '../../temporal/search-attributes';
import { TEST_ENV } from '../support/env';
import {
  createActiveWorkspace,
  eventually,
  registerUser,
  settledJob,
  startTestPlatform,
  type TestPlatform,
} from '../support/helpers';
import { mirrorDifferences, SYNC_BASE_ID, syncSeed, type MirrorMap } from '../syncs/support';

const TOKEN = 'patSyncTestToken.0123456789abcdef';

/** A tiny deterministic random source, so a failing round can be replayed from its seed. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

describe('scheduled syncs', () => {
  let platform: TestPlatform;
  let workspaceId: string;
  let syncId: string;
  const roles: string[] = [];

  beforeAll(async () => {
    platform = await startTestPlatform({ name: 'syncs', seed: syncSeed(), tokens: [TOKEN] });
    workspaceId = await createActiveWorkspace(platform.app, platform.user.auth, {
      baseId: SYNC_BASE_ID,
      token: TOKEN,
    });
  });
  afterAll(async () => {
    for (const role of roles) await platform.ctx.pool.query(`DROP OWNED BY "${role}"`).catch(() => undefined);
    for (const role of roles)
      await platform.ctx.pool.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
    await platform.close();
  });

  const api = () => request(platform.app);
  const auth = () => platform.user.auth;

  async function getSync() {
    const res = await api().get(`/api/v1/syncs/${syncId}`).set(auth()).expect(200);
    return res.body.sync;
  }

  async function differences(sync: { postgres: { schema: string; tables: MirrorMap } }) {
    return mirrorDifferences({
      pool: platform.ctx.pool,
      emulator: platform.emulator,
      airtable: platform.ctx.airtable(platform.emulator.url),
      token: TOKEN,
      baseId: SYNC_BASE_ID,
      schemaName: sync.postgres.schema,
      tables: sync.postgres.tables,
    });
  }

  /** Starts a run now and waits for it; answers its job and the sync after it. */
  async function runNow(path: 'trigger' | 'resync' = 'trigger') {
    let res = await api().post(`/api/v1/syncs/${syncId}/${path}`).set(auth());
    if (res.status === 409 && res.body.error.code === 'sync_run_in_progress') {
      // The schedule's own run got there first (its interval came round): let it end, then ours.
      await settledJob(platform.app, auth(), res.body.error.details.job.id, 120_000);
      res = await api().post(`/api/v1/syncs/${syncId}/${path}`).set(auth());
    }
    expect(res.status).toBe(202);
    const job = await settledJob(platform.app, auth(), res.body.job.id, 120_000);
    expect(job).toMatchObject({ kind: 'sync.run', status: 'completed' });
    return { job, sync: await getSync() };
  }

  it('refuses bad input with the JSON error shape', async () => {
    for (const body of [
      { every: '15m', cron: '* * * * *' },
      { every: 'soon' },
      { every: '1s' },
      { cron: '* * *' },
      { cron: '0 * * * *', timezone: 'Mars/Olympus' },
      { tables: ['No such table'] },
      { unexpected: true },
    ]) {
      const res = await api().post(`/api/v1/workspaces/${workspaceId}/syncs`).set(auth()).send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual(
        expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
      );
    }
    await api().post(`/api/v1/workspaces/not-a-workspace/syncs`).set(auth()).send({}).expect(404);
  });

  it('creates a sync whose first run copies the base exactly', async () => {
    const res = await api()
      .post(`/api/v1/workspaces/${workspaceId}/syncs`)
      .set(auth())
      .send({ every: '6d' })
      .expect(201);
    const { sync } = res.body;
    syncId = sync.id;
    roles.push(sync.postgres.role);
    expect(sync.scheduleId).toBe(`workspace-${workspaceId}-sync-${syncId}`);
    expect(sync.status).toBe('active');

    // A second sync of the same workspace is refused.
    await api().post(`/api/v1/workspaces/${workspaceId}/syncs`).set(auth()).send({}).expect(409);

    const first = await eventually(async () => {
      const s = await getSync();
      return s.lastRuns[0]?.status === 'completed' && !s.running ? s : undefined;
    }, 60_000);
    expect(first.lastRuns[0]).toMatchObject({ mode: 'full', reason: 'first-run' });
    expect(first.lastRuns[0].counts).toMatchObject({ tables: 2, created: 29 });
    expect(first.nextRunAt).toEqual(expect.any(String));
    const job = await api().get(`/api/v1/jobs/${first.lastRuns[0].job.id}`).set(auth()).expect(200);
    expect(job.body).toMatchObject({ kind: 'sync.run', status: 'completed', workspaceId });
    expect(await differences(first)).toEqual([]);

    // The columns are typed from the field types, with snake_case names.
    const { rows } = await platform.ctx.pool.query(
      `SELECT c.table_name, c.column_name, c.data_type, c.udt_name FROM information_schema.columns c
       WHERE c.table_schema = $1 ORDER BY c.table_name, c.ordinal_position`,
      [first.postgres.schema],
    );
    const types = Object.fromEntries(rows.map((r) => [`${r.table_name}.${r.column_name}`, r.udt_name]));
    expect(types).toMatchObject({
      'projects.id': 'text',
      'projects.created_time': 'timestamptz',
      'projects.name': 'text',
      'projects.budget': 'numeric',
      'projects.active': 'bool',
      'projects.start': 'date',
      'projects.kick_off': 'timestamptz',
      'projects.stage': 'text',
      'projects.tags': '_text',
      'projects.files': 'jsonb',
      'projects.label': 'text',
      'projects.double_budget': 'numeric',
      'tasks.project': '_text',
      'tasks.hours': 'numeric',
    });
    // The list answers the same sync.
    const list = await api().get(`/api/v1/workspaces/${workspaceId}/syncs`).set(auth()).expect(200);
    expect(list.body.syncs.map((s: { id: string }) => s.id)).toEqual([syncId]);
  });

  it('an incremental run over an unchanged base applies nothing with one request', async () => {
    const since = Date.now();
    const { job, sync } = await runNow();
    expect(job.result).toMatchObject({
      mode: 'incremental',
      created: 0,
      updated: 0,
      deleted: 0,
      payloads: 0,
    });
    const log = (await (await fetch(`${platform.emulator.url}/__emulator/log?since=${since}`)).json()) as {
      entries: Array<{ path: string; status: number }>;
    };
    const hits = log.entries.filter((e) => e.path.startsWith(`/v0/`) && !e.path.includes('whoami'));
    expect(hits.length).toBeLessThanOrEqual(2);
    expect(await differences(sync)).toEqual([]);
  });

  it('stays exact round after round of random creates, updates, deletes, new and renamed fields', async () => {
    const rnd = random(20261129);
    const records = baseRecords(platform.ctx.airtable(platform.emulator.url), {
      baseId: SYNC_BASE_ID,
      token: TOKEN,
    });
    const stages = ['Idea', 'Doing', 'Done'];
    const tags = ['web', 'ops', 'urgent'];
    const extraFields: string[] = [];
    const totals = { created: 0, updated: 0, deleted: 0, payloads: 0 };
    for (let round = 1; round <= 6; round++) {
      const projects = platform.emulator.listRecords(SYNC_BASE_ID, 'Projects');
      const tasks = platform.emulator.listRecords(SYNC_BASE_ID, 'Tasks');
      const projectFields = () => ({
        Name: `Project ${round}-${rnd.int(0, 9999)}`,
        Budget: Math.round(rnd.next() * 1e6) / 100,
        Active: rnd.next() < 0.5,
        Start: `2027-0${rnd.int(1, 9)}-1${rnd.int(0, 9)}`,
        'Kick-off': new Date(
          Date.UTC(2027, rnd.int(0, 11), rnd.int(1, 28), rnd.int(0, 23), rnd.int(0, 59)),
        ).toISOString(),
        Stage: rnd.pick(stages),
        Tags: tags.filter(() => rnd.next() < 0.5),
        Notes: rnd.next() < 0.3 ? '' : `Round ${round} note ${rnd.int(0, 99)}`,
      });
      // Through the Web API (paced with the worker), some as a UI user would, in one action.
      const creates = Array.from({ length: rnd.int(1, 12) }, () => ({ fields: projectFields() }));
      for (const batch of chunk(creates)) await records.create('Projects', batch, true);
      const updates = projects
        .filter(() => rnd.next() < 0.4)
        .map((p) => ({
          id: p.id,
          fields: Object.fromEntries(Object.entries(projectFields()).filter(() => rnd.next() < 0.5)),
        }))
        .filter((u) => Object.keys(u.fields).length > 0);
      for (const batch of chunk(updates)) await records.update('Projects', batch, { typecast: true });
      const doomed = tasks.filter(() => rnd.next() < 0.15).map((t) => t.id);
      for (const batch of chunk(doomed)) await records.destroy('Tasks', batch);
      const gone = projects.filter(() => rnd.next() < 0.1).map((p) => p.id);
      if (gone.length) platform.emulator.uiEdit(SYNC_BASE_ID, 'Projects', { deletes: gone });
      const projectIds = platform.emulator.listRecords(SYNC_BASE_ID, 'Projects').map((p) => p.id);
      platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
        creates: Array.from({ length: rnd.int(1, 20) }, (_, i) => ({
          fields: {
            Title: `UI task ${round}.${i}`,
            Hours: rnd.int(0, 80) / 2,
            Project: [rnd.pick(projectIds)],
          },
        })),
        updates: tasks
          .filter((t) => !doomed.includes(t.id) && rnd.next() < 0.3)
          .map((t) => ({
            id: t.id,
            fields: { Done: rnd.next() < 0.5, Due: `2027-01-${String(rnd.int(1, 28)).padStart(2, '0')}` },
          })),
      });
      // Schema: a new field every other round, a rename in the others.
      if (round % 2 === 1) {
        const name = `Extra ${round}`;
        platform.emulator.uiCreateField(SYNC_BASE_ID, 'Tasks', {
          name,
          type: round % 4 === 1 ? 'number' : 'singleLineText',
          ...(round % 4 === 1 ? { options: { precision: 0 } } : {}),
        });
        extraFields.push(name);
        const some = platform.emulator.listRecords(SYNC_BASE_ID, 'Tasks').slice(0, 5);
        platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
          updates: some.map((t, i) => ({
            id: t.id,
            fields: { [name]: round % 4 === 1 ? i * 10 : `value ${i}` },
          })),
        });
      } else {
        const from = extraFields.pop() ?? 'Notes';
        const to = `${from} renamed ${round}`;
        platform.emulator.uiUpdateField(SYNC_BASE_ID, from === 'Notes' ? 'Projects' : 'Tasks', from, {
          name: to,
        });
        extraFields.push(to);
      }

      const { job, sync } = await runNow();
      expect(job.result.mode).toBe('incremental');
      for (const key of ['created', 'updated', 'deleted', 'payloads'] as const)
        totals[key] += job.result[key];
      const problems = await differences(sync);
      if (problems.length) throw new Error(`round ${round}:\n${problems.slice(0, 20).join('\n')}`);
    }
    // Every kind of change went through the webhook.
    expect(totals.created).toBeGreaterThan(10);
    expect(totals.updated).toBeGreaterThan(10);
    expect(totals.deleted).toBeGreaterThan(2);
    expect(totals.payloads).toBeGreaterThan(6);
  }, 240_000);

  it('renamed columns keep their rows and a renamed field keeps its values', async () => {
    const sync = await getSync();
    const tasks = Object.values(sync.postgres.tables as MirrorMap).find((t) => t.table === 'tasks')!;
    expect(Object.values(tasks.columns)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^extra_\d+/)]),
    );
  });

  it('pause, resume and trigger act on the real schedule', async () => {
    const sync = await getSync();
    const schedule = platform.ctx.client.schedule.getHandle(sync.scheduleId);
    await api().post(`/api/v1/syncs/${syncId}/pause`).set(auth()).expect(202);
    expect((await schedule.describe()).state.paused).toBe(true);
    expect((await getSync()).status).toBe('paused');
    expect((await getSync()).nextRunAt).toBeNull();
    await api().post(`/api/v1/syncs/${syncId}/resume`).set(auth()).expect(202);
    expect((await schedule.describe()).state.paused).toBe(false);
    const before = (await schedule.describe()).info.numActionsTaken;
    const { job } = await runNow();
    const after = await schedule.describe();
    expect(after.info.numActionsTaken).toBe(before + 1);
    expect(after.info.recentActions.map((a) => a.action.workflow.workflowId)).toContain(job.id);
    // The run is tagged for the Web UI and `temporal workflow list`.
    const run = await platform.ctx.client.workflow.getHandle(job.id).describe();
    expect(run.typedSearchAttributes.get(JOB_KIND)).toBe('sync.run');
    expect(run.typedSearchAttributes.get(WORKSPACE_ID)).toBe(workspaceId);
  });

  it('a resync copies everything and ends exact', async () => {
    const { job, sync } = await runNow('resync');
    expect(job.result).toMatchObject({ mode: 'full', reason: 'resync-requested' });
    expect(sync.resyncRequested).toBe(false);
    expect(await differences(sync)).toEqual([]);
  });

  it("answers 404 for another user's sync, exactly as for a missing one", async () => {
    const other = await registerUser(platform.app, 'Other');
    const theirs = await api().get(`/api/v1/syncs/${syncId}`).set(other.auth);
    const missing = await api().get(`/api/v1/syncs/00000000-0000-4000-8000-000000000000`).set(other.auth);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toEqual(missing.body);
    for (const action of ['pause', 'resume', 'trigger', 'resync'])
      await api().post(`/api/v1/syncs/${syncId}/${action}`).set(other.auth).expect(404);
    await api().delete(`/api/v1/syncs/${syncId}`).set(other.auth).expect(404);
    await api().get(`/api/v1/workspaces/${workspaceId}/syncs`).set(other.auth).expect(404);
  });

  it("the workspace's role reads its mirror and nothing else", async () => {
    const sync = await getSync();
    const creds = await api()
      .post(`/api/v1/workspaces/${workspaceId}/mirror/credentials`)
      .set(auth())
      .expect(200);
    expect(creds.body.postgres).toMatchObject({ user: sync.postgres.role, schema: sync.postgres.schema });
    // Another workspace with its own mirror.
    const otherWorkspace = await createActiveWorkspace(
      platform.app,
      auth(),
      { baseId: SYNC_BASE_ID, token: TOKEN },
      'Other',
    );
    const other = await api()
      .post(`/api/v1/workspaces/${otherWorkspace}/syncs`)
      .set(auth())
      .send({ tables: ['Tasks'], every: '6d' })
      .expect(201);
    roles.push(other.body.sync.postgres.role);
    const otherSync = await eventually(async () => {
      const res = await api().get(`/api/v1/syncs/${other.body.sync.id}`).set(auth()).expect(200);
      return res.body.sync.lastRuns[0]?.status === 'completed' ? res.body.sync : undefined;
    }, 60_000);
    expect(Object.keys(otherSync.postgres.tables)).toHaveLength(1);

    const url = new URL(process.env[TEST_ENV.databaseUrl]!);
    url.username = creds.body.postgres.user;
    url.password = creds.body.postgres.password;
    const analyst = new PgClient({ connectionString: url.toString() });
    await analyst.connect();
    try {
      const own = await analyst.query('SELECT count(*)::int AS n FROM projects');
      expect(own.rows[0].n).toBeGreaterThan(0);
      await expect(analyst.query(`SELECT * FROM "${otherSync.postgres.schema}".tasks`)).rejects.toThrow(
        /permission denied/,
      );
      await expect(analyst.query('SELECT * FROM public.workspaces')).rejects.toThrow(/permission denied/);
      await expect(analyst.query('SELECT * FROM public.airtable_connections')).rejects.toThrow(
        /permission denied/,
      );
      await expect(analyst.query('CREATE TABLE projects_copy (id int)')).rejects.toThrow(/permission denied/);
      await expect(analyst.query(`DELETE FROM projects`)).rejects.toThrow(/permission denied/);
    } finally {
      await analyst.end();
    }

    // Deprovisioning the other workspace removes its sync, schedule, mirror schema and role.
    const removed = await api().delete(`/api/v1/workspaces/${otherWorkspace}`).set(auth()).expect(202);
    const done = await settledJob(platform.app, auth(), removed.body.job.id, 120_000);
    expect(done.status).toBe('completed');
    await expect(
      platform.ctx.client.schedule.getHandle(otherSync.scheduleId).describe(),
    ).rejects.toBeInstanceOf(ScheduleNotFoundError);
    const left = await platform.ctx.pool.query(
      `SELECT (SELECT count(*)::int FROM pg_namespace WHERE nspname = $1) AS schemas,
              (SELECT count(*)::int FROM pg_roles WHERE rolname = $2) AS roles,
              (SELECT count(*)::int FROM syncs WHERE workspace_id = $3) AS syncs`,
      [otherSync.postgres.schema, otherSync.postgres.role, otherWorkspace],
    );
    expect(left.rows[0]).toEqual({ schemas: 0, roles: 0, syncs: 0 });
    expect(platform.emulator.webhooks(SYNC_BASE_ID).map((h) => h.id)).toHaveLength(1);
  }, 180_000);

  it('delete removes the schedule, the sync and its mirror tables', async () => {
    const sync = await getSync();
    await api().delete(`/api/v1/syncs/${syncId}`).set(auth()).expect(202);
    await expect(platform.ctx.client.schedule.getHandle(sync.scheduleId).describe()).rejects.toBeInstanceOf(
      ScheduleNotFoundError,
    );
    await api().get(`/api/v1/syncs/${syncId}`).set(auth()).expect(404);
    const { rows } = await platform.ctx.pool.query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1`,
      [sync.postgres.schema],
    );
    expect(rows[0].n).toBe(0);
    expect(platform.emulator.webhooks(SYNC_BASE_ID)).toHaveLength(0);
  });
});
