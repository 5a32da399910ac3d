import request from 'supertest';
import { metaOptions } from '../../airtable/access';
import { refreshWebhook } from '../../airtable/webhooks';
import {
  createActiveWorkspace,
  eventually,
  settledJob,
  startTestPlatform,
  type TestPlatform,
} from '../support/helpers';
import { mirrorDifferences, SYNC_BASE_ID, syncSeed, type MirrorMap } from '../syncs/support';

const TOKEN = 'patSyncRecoveryToken.0123456789abcdef';
const DAY = 24 * 3600 * 1000;

describe('sync runs recover from schema changes and from lost or broken webhooks', () => {
  let platform: TestPlatform;
  let workspaceId: string;
  let syncId: string;
  let role: string | undefined;

  beforeAll(async () => {
    platform = await startTestPlatform({
      name: 'sync-recovery',
      seed: syncSeed({ tasks: 40 }),
      tokens: [TOKEN],
    });
    workspaceId = await createActiveWorkspace(platform.app, platform.user.auth, {
      baseId: SYNC_BASE_ID,
      token: TOKEN,
    });
    const res = await request(platform.app)
      .post(`/api/v1/workspaces/${workspaceId}/syncs`)
      .set(platform.user.auth)
      .send({ every: '6d' })
      .expect(201);
    syncId = res.body.sync.id;
    role = res.body.sync.postgres.role;
    await eventually(async () => {
      const s = await getSync();
      return s.lastRuns[0]?.status === 'completed' && !s.running ? s : undefined;
    }, 60_000);
  });
  afterAll(async () => {
    // Deprovisioning drops the mirror and its role (and is itself under test here).
    const removed = await request(platform.app)
      .delete(`/api/v1/workspaces/${workspaceId}`)
      .set(platform.user.auth);
    if (removed.status === 202)
      await settledJob(platform.app, platform.user.auth, removed.body.job.id, 120_000);
    if (role) await platform.ctx.pool.query(`DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
    await platform.close();
  });

  async function getSync() {
    const res = await request(platform.app)
      .get(`/api/v1/syncs/${syncId}`)
      .set(platform.user.auth)
      .expect(200);
    return res.body.sync;
  }

  async function runNow(path: 'trigger' | 'resync' = 'trigger') {
    let res = await request(platform.app).post(`/api/v1/syncs/${syncId}/${path}`).set(platform.user.auth);
    if (res.status === 409 && res.body.error.code === 'sync_run_in_progress') {
      // The schedule's own run got there first (its interval came round): let it end, then ours.
      await settledJob(platform.app, platform.user.auth, res.body.error.details.job.id, 120_000);
      res = await request(platform.app).post(`/api/v1/syncs/${syncId}/${path}`).set(platform.user.auth);
    }
    expect(res.status).toBe(202);
    const job = await settledJob(platform.app, platform.user.auth, res.body.job.id, 120_000);
    expect(job).toMatchObject({ kind: 'sync.run', status: 'completed' });
    const sync = await getSync();
    const problems = await mirrorDifferences({
      pool: platform.ctx.pool,
      emulator: platform.emulator,
      airtable: platform.ctx.airtable(platform.emulator.url),
      token: TOKEN,
      baseId: SYNC_BASE_ID,
      schemaName: sync.postgres.schema,
      tables: sync.postgres.tables as MirrorMap,
    });
    expect({ result: job.result, problems }).toEqual({ result: job.result, problems: [] });
    return { result: job.result, sync };
  }

  function hooks() {
    return platform.emulator.webhooks(SYNC_BASE_ID);
  }

  function someTasks(n: number) {
    return platform.emulator.listRecords(SYNC_BASE_ID, 'Tasks').slice(0, n);
  }

  it('migrates retyped, deleted and new fields and tables in an incremental run', async () => {
    platform.emulator.uiUpdateField(SYNC_BASE_ID, 'Tasks', 'Hours', { type: 'singleLineText' });
    platform.emulator.uiDeleteField(SYNC_BASE_ID, 'Projects', 'Notes');
    platform.emulator.uiUpdateTable(SYNC_BASE_ID, 'Projects', { name: 'Client Projects' });
    const table = platform.emulator.uiCreateTable(SYNC_BASE_ID, {
      name: 'Invoices',
      fields: [
        { name: 'Number', type: 'singleLineText' },
        { name: 'Amount', type: 'number', options: { precision: 2 } },
        { name: 'Paid', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
      ],
    }) as { id: string };
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Invoices', {
      creates: [1, 2, 3].map((i) => ({ fields: { Number: `INV-${i}`, Amount: i * 99.5, Paid: i === 2 } })),
    });
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
      updates: someTasks(3).map((t, i) => ({ id: t.id, fields: { Hours: `about ${i}` } })),
    });
    const { result, sync } = await runNow();
    expect(result.mode).toBe('incremental');
    const tables = sync.postgres.tables as MirrorMap;
    expect(tables[table.id]?.table).toBe('invoices');
    expect(
      Object.values(tables)
        .map((t) => t.table)
        .sort(),
    ).toEqual(['client_projects', 'invoices', 'tasks']);
    const hours = await platform.ctx.pool.query(
      `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tasks' AND column_name = 'hours'`,
      [sync.postgres.schema],
    );
    expect(hours.rows[0].data_type).toBe('text');

    platform.emulator.uiDeleteTable(SYNC_BASE_ID, 'Invoices');
    const after = await runNow();
    expect(Object.keys(after.sync.postgres.tables)).not.toContain(table.id);
    const left = await platform.ctx.pool.query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'invoices'`,
      [sync.postgres.schema],
    );
    expect(left.rows[0].n).toBe(0);
  });

  it('a lost cursor falls back to a full reconcile that also deletes vanished records', async () => {
    await platform.ctx.pool.query(`DELETE FROM sync_cursors WHERE sync_id = $1`, [syncId]);
    const doomed = someTasks(4).map((t) => t.id);
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
      deletes: doomed,
      creates: [{ fields: { Title: 'After the cursor was lost' } }],
    });
    const { result } = await runNow();
    expect(result).toMatchObject({ mode: 'full', reason: 'cursor-lost', deleted: 4, created: 1 });
    expect(hooks()).toHaveLength(1);
    // And the next run is incremental again.
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', { creates: [{ fields: { Title: 'Back to payloads' } }] });
    const next = await runNow();
    expect(next.result).toMatchObject({ mode: 'incremental', created: 1 });
  });

  it('a disabled hook (an error payload) is replaced through a full reconcile', async () => {
    const [hook] = hooks();
    platform.emulator.injectWebhookError(SYNC_BASE_ID, hook!.id, 'INVALID_HOOK');
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
      updates: someTasks(2).map((t) => ({ id: t.id, fields: { Title: 'Changed while broken' } })),
    });
    const { result } = await runNow();
    expect(result).toMatchObject({ mode: 'full', reason: 'hook-disabled' });
    expect(hooks().map((h) => h.id)).not.toContain(hook!.id);
    expect(hooks()).toHaveLength(1);

    const [fresh] = hooks();
    platform.emulator.injectWebhookError(SYNC_BASE_ID, fresh!.id, 'INTERNAL_ERROR', { disable: false });
    const second = await runNow();
    expect(second.result).toMatchObject({ mode: 'full', reason: 'hook-error' });
    expect(hooks().map((h) => h.id)).not.toContain(fresh!.id);
  });

  it('pruned payloads fall back to a full reconcile', async () => {
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', { creates: [{ fields: { Title: 'Soon pruned' } }] });
    platform.emulator.advanceTime(6 * DAY);
    // Someone keeps the hook alive, but nobody reads its payloads for more than 7 days.
    const [hook] = hooks();
    await refreshWebhook(
      metaOptions(platform.ctx.airtable(platform.emulator.url), TOKEN),
      SYNC_BASE_ID,
      hook!.id,
    );
    platform.emulator.advanceTime(1.5 * DAY);
    const { result } = await runNow();
    expect(result).toMatchObject({ mode: 'full', reason: 'payloads-pruned' });
  });

  it('an expired hook falls back to a full reconcile with a new hook', async () => {
    const [hook] = hooks();
    platform.emulator.advanceTime(8 * DAY);
    expect(hooks().find((h) => h.id === hook!.id)?.isHookEnabled).toBe(false);
    platform.emulator.uiEdit(SYNC_BASE_ID, 'Tasks', {
      creates: [{ fields: { Title: 'Made while the hook was expired' } }],
      deletes: someTasks(1).map((t) => t.id),
    });
    const { result } = await runNow();
    expect(result.mode).toBe('full');
    expect(['hook-expired', 'hook-disabled']).toContain(result.reason);
    expect(hooks().filter((h) => h.isHookEnabled)).toHaveLength(1);
    expect(hooks().map((h) => h.id)).not.toContain(hook!.id);
  });
});
