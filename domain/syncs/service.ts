import { createHash, createHmac, pbkdf2Sync, randomBytes, randomUUID } from 'node:crypto';
import {
  ScheduleNotFoundError,
  WorkflowNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleSpec,
} from '@temporalio/client';
import { escapeIdentifier, escapeLiteral, type Pool } from 'pg';
import { metaOptions, type AirtableAccess } from '../../airtable/access';
import { getBaseSchema, type AirtableTableSchema } from '../../airtable/meta';
import { deleteWebhook } from '../../airtable/webhooks';
import { ServiceError } from '../../core/errors';
import type { Logger } from '../../core/logger';
import { withTransaction } from '../../db/pool';
import { JOB_KIND, USER_ID, WORKSPACE_ID } from '../../temporal/search-attributes';
import { syncRun } from '../../workflows/sync-runs';
import { dropMirrorTables, ensureMirrorSchema, mirrorNames } from '../sync-runs/mirror';
import type { MirrorTables, SyncRunInput } from '../sync-runs/model';
import * as runs from '../sync-runs/store';
import { readWorkspaceConnection } from '../workspaces/connection';
import { getSchemaSnapshot, holdActiveWorkspace, type Workspace } from '../workspaces/store';
import { parseDuration, SYNC_LIMITS, syncRunWorkflowId, syncScheduleId, type SyncSchedule } from './model';
import * as store from './store';

/** What the sync service needs. */
export interface SyncServiceDeps {
  pool: Pool;
  temporal: { client: Client; taskQueue: string };
  airtable: AirtableAccess;
  encryptionKey: Buffer;
  logger: Logger;
  /** How long trigger/resync wait for the schedule to start the run. @default 10000 */
  triggerWaitMs?: number;
}

/** What `POST /api/v1/workspaces/:id/syncs` takes (validated shapes; the service checks meaning). */
export interface CreateSyncInput {
  tables?: string[];
  every?: string;
  cron?: string;
  timezone?: string;
  fullReconcileEvery?: string;
}

/** A sync as the API answers it. */
export interface SyncView {
  id: string;
  workspaceId: string;
  status: 'active' | 'paused' | 'schedule_missing';
  scheduleId: string;
  schedule: SyncSchedule;
  tables: string[] | null;
  fullReconcileEvery: string;
  nextRunAt: Date | null;
  running: { job: { id: string } } | null;
  resyncRequested: boolean;
  /** The start of the last run that completed: the mirror shows the base as it was then, or later. */
  mirrorAsOf: Date | null;
  lastRuns: Array<{
    job: { id: string };
    status: runs.SyncRunRecord['status'];
    mode: runs.SyncRunRecord['mode'];
    reason: string | null;
    startedAt: Date;
    finishedAt: Date | null;
    counts: { tables: number; created: number; updated: number; deleted: number; payloads: number };
    lagMs: number | null;
    error?: string;
  }>;
  postgres: {
    schema: string;
    role: string;
    tables: Record<string, { table: string; columns: Record<string, string> }>;
  };
  createdAt: Date;
}

const bad = (code: string, message: string, details?: unknown) =>
  new ServiceError(400, code, message, details);

/** Validates the schedule: one of `every` (default 15m) or `cron` (with an optional IANA time zone). */
export function scheduleOf(input: CreateSyncInput): SyncSchedule {
  if (input.every !== undefined && input.cron !== undefined)
    throw bad('invalid_schedule', 'Give either every or cron, not both');
  if (input.timezone !== undefined && input.cron === undefined)
    throw bad('invalid_schedule', 'timezone applies to cron schedules only');
  if (input.cron !== undefined) {
    const cron = input.cron.trim();
    const fields = cron.split(/\s+/);
    if (
      !/^@(yearly|annually|monthly|weekly|daily|hourly)$/.test(cron) &&
      (fields.length < 5 || fields.length > 7)
    )
      throw bad('invalid_schedule', 'cron must have 5 fields (minute hour day-of-month month day-of-week)');
    const timezone = input.timezone ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw bad('invalid_schedule', `Unknown time zone ${JSON.stringify(timezone)}`);
    }
    return { cron, timezone };
  }
  const every = input.every ?? '15m';
  const seconds = parseDuration(every);
  if (seconds === undefined || seconds < SYNC_LIMITS.minEverySeconds || seconds > SYNC_LIMITS.maxEverySeconds)
    throw bad(
      'invalid_schedule',
      `every must be a duration such as 90s, 15m, 2h or 1d, from ${SYNC_LIMITS.minEverySeconds}s to ${SYNC_LIMITS.maxEverySeconds / 86400}d`,
    );
  return { every };
}

function scheduleSpec(schedule: SyncSchedule): ScheduleSpec {
  if ('every' in schedule) return { intervals: [{ every: parseDuration(schedule.every)! * 1000 }] };
  return { cronExpressions: [schedule.cron], timezone: schedule.timezone };
}

function durationText(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** A SCRAM-SHA-256 verifier, so a password never travels to Postgres (or its logs) in clear text. */
function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const iterations = 4096;
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Scheduled syncs: each is a Temporal Schedule (`workspace-<id>-sync-<id>`, overlap skip) whose
 * runs are jobs of kind `sync.run`. Pause, resume, trigger, resync and delete act on the schedule.
 */
export function createSyncService(deps: SyncServiceDeps) {
  const { pool, logger } = deps;
  const { client, taskQueue } = deps.temporal;
  const triggerWaitMs = deps.triggerWaitMs ?? 10_000;

  /** Resolves table names or ids against the base's schema (the snapshot, then Airtable if it is stale). */
  async function resolveTables(workspace: Workspace, wanted: string[]): Promise<string[]> {
    const find = (schema: AirtableTableSchema[], t: string) =>
      schema.find((s) => s.id === t) ?? schema.find((s) => s.name.toLowerCase() === t.toLowerCase());
    let schema = (await getSchemaSnapshot(pool, workspace.id))?.tables ?? [];
    if (wanted.some((t) => !find(schema, t))) {
      const connection = await readWorkspaceConnection(deps, workspace.id).catch(() => undefined);
      if (connection)
        schema = await getBaseSchema(metaOptions(deps.airtable, connection.token), connection.baseId).catch(
          () => schema,
        );
    }
    const unknown = wanted.filter((t) => !find(schema, t));
    if (unknown.length > 0)
      throw bad(
        'unknown_table',
        `No table ${unknown.map((t) => JSON.stringify(t)).join(', ')} in the base`,
        unknown.map((t) => ({ path: 'tables', message: `unknown table ${t}` })),
      );
    return [...new Set(wanted.map((t) => find(schema, t)!.id))];
  }

  async function describeSchedule(scheduleId: string): Promise<ScheduleDescription | undefined> {
    try {
      return await client.schedule.getHandle(scheduleId).describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The sync's run in progress: the latest run recorded as running whose workflow still runs (the
   * schedule's own list of running actions is refreshed lazily). A run that ended without saying so
   * (terminated) is recorded as failed.
   */
  async function runningJob(sync: store.SyncRecord): Promise<string | undefined> {
    const jobId = await runs.latestRunningRun(pool, sync.id);
    if (!jobId) return undefined;
    const status = await client.workflow
      .getHandle(jobId)
      .describe()
      .then(
        (d) => d.status.name,
        (err: unknown) => {
          if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
          throw err;
        },
      );
    if (status === 'RUNNING') return jobId;
    if (status !== 'COMPLETED')
      await runs.finishRun(pool, jobId, { status: 'failed', error: `The run ended ${status.toLowerCase()}` });
    return undefined;
  }

  async function view(sync: store.SyncRecord, description?: ScheduleDescription | null): Promise<SyncView> {
    const [schedule, running] = await Promise.all([
      description === undefined
        ? describeSchedule(sync.scheduleId)
        : Promise.resolve(description ?? undefined),
      runningJob(sync),
    ]);
    const [recent, mirror] = await Promise.all([
      runs.listRecentRuns(pool, sync.id),
      runs.getMirrorTables(pool, sync.workspaceId),
    ]);
    const names = mirrorNames(sync.workspaceId);
    const paused = schedule?.state.paused ?? false;
    const lastCompleted = recent.find((r) => r.status === 'completed');
    return {
      id: sync.id,
      workspaceId: sync.workspaceId,
      status: !schedule ? 'schedule_missing' : paused ? 'paused' : 'active',
      scheduleId: sync.scheduleId,
      schedule: sync.schedule,
      tables: sync.tableIds,
      fullReconcileEvery: durationText(sync.fullReconcileSeconds),
      nextRunAt: paused ? null : (schedule?.info.nextActionTimes[0] ?? null),
      running: running ? { job: { id: running } } : null,
      resyncRequested: sync.resyncRequestedAt !== null,
      mirrorAsOf: lastCompleted?.startedAt ?? null,
      lastRuns: recent.map((r) => ({
        job: { id: r.jobId },
        status: r.status,
        mode: r.mode,
        reason: r.reason,
        startedAt: r.startedAt,
        finishedAt: r.finishedAt,
        counts: {
          tables: r.tables,
          created: r.created,
          updated: r.updated,
          deleted: r.deleted,
          payloads: r.payloads,
        },
        lagMs: r.lagMs,
        ...(r.error ? { error: r.error } : {}),
      })),
      postgres: { schema: names.schema, role: names.role, tables: presentMirror(mirror ?? {}) },
      createdAt: sync.createdAt,
    };
  }

  /**
   * Triggers the schedule and answers the run it started: the first action (workflow id and run id:
   * the schedule names runs by the second they start in) that was not there before the trigger. A
   * run in progress answers 409 with that run: with overlap skip, a trigger then starts nothing.
   */
  async function triggerRun(sync: store.SyncRecord, whenBusy: string): Promise<{ jobId: string }> {
    const handle = client.schedule.getHandle(sync.scheduleId);
    const before = await describeSchedule(sync.scheduleId);
    if (!before)
      throw new ServiceError(
        409,
        'schedule_missing',
        'The sync has no schedule; delete it and create it again',
      );
    const refuse = (jobId: string) =>
      new ServiceError(409, 'sync_run_in_progress', whenBusy, { job: { id: jobId } });
    const busy = await runningJob(sync);
    if (busy) throw refuse(busy);
    const key = (a: { workflowId: string; firstExecutionRunId: string }) =>
      `${a.workflowId}/${a.firstExecutionRunId}`;
    const seen = new Set(before.info.recentActions.map((a) => key(a.action.workflow)));
    // A run started in the same second as the last one would get its workflow id: wait for the next second.
    const last = before.info.recentActions.at(-1)?.takenAt.getTime() ?? 0;
    const wait = Math.floor(last / 1000) * 1000 + 1_100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await handle.trigger(ScheduleOverlapPolicy.SKIP);
    const deadline = Date.now() + triggerWaitMs;
    while (Date.now() < deadline) {
      const now = await describeSchedule(sync.scheduleId);
      const started = now?.info.recentActions.map((a) => a.action.workflow).find((w) => !seen.has(key(w)));
      if (started) return { jobId: started.workflowId };
      // A scheduled run began just before the trigger, which it then skipped.
      const other = await runs.latestRunningRun(pool, sync.id);
      if (other) throw refuse(other);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new ServiceError(
      503,
      'temporal_unavailable',
      'The schedule did not start the run in time; try again',
    );
  }

  return {
    /** Records the sync, creates its mirror schema and role, then its schedule (whose first run starts at once). */
    async create(workspace: Workspace, userId: string, input: CreateSyncInput): Promise<SyncView> {
      const schedule = scheduleOf(input);
      let fullReconcileSeconds: number = SYNC_LIMITS.defaultFullReconcileSeconds;
      if (input.fullReconcileEvery !== undefined) {
        const seconds = parseDuration(input.fullReconcileEvery);
        if (seconds === undefined || seconds < SYNC_LIMITS.minFullReconcileSeconds)
          throw bad(
            'invalid_full_reconcile',
            `fullReconcileEvery must be a duration such as 6h or 1d, at least ${SYNC_LIMITS.minFullReconcileSeconds}s`,
          );
        fullReconcileSeconds = seconds;
      }
      if (workspace.status !== 'active')
        throw new ServiceError(
          409,
          'workspace_not_active',
          `The workspace is ${workspace.status}, not active`,
        );
      const tableIds = input.tables?.length ? await resolveTables(workspace, input.tables) : null;
      const id = randomUUID();
      const scheduleId = syncScheduleId(workspace.id, id);
      await withTransaction(pool, async (tx) => {
        await holdActiveWorkspace(tx, workspace.id);
        const inserted = await store.insertSync(tx, {
          id,
          workspaceId: workspace.id,
          userId,
          scheduleId,
          tableIds,
          schedule,
          fullReconcileSeconds,
        });
        if (!inserted) {
          const existing = (await store.listWorkspaceSyncs(tx, workspace.id))[0];
          throw new ServiceError(409, 'sync_exists', 'The workspace already has a sync', {
            sync: { id: existing?.id },
          });
        }
        await ensureMirrorSchema(tx, workspace.id);
      });
      const args: SyncRunInput = { syncId: id, workspaceId: workspace.id, userId };
      const tags = [
        { key: WORKSPACE_ID, value: workspace.id },
        { key: USER_ID, value: userId },
        { key: JOB_KIND, value: 'sync.run' as const },
      ];
      try {
        await client.schedule.create({
          scheduleId,
          spec: scheduleSpec(schedule),
          action: {
            type: 'startWorkflow',
            workflowType: syncRun,
            workflowId: syncRunWorkflowId(id),
            taskQueue,
            args: [args],
            typedSearchAttributes: tags,
          },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
          state: { triggerImmediately: true, note: `Sync ${id} of workspace ${workspace.id}` },
          typedSearchAttributes: tags,
          memo: { syncId: id, workspaceId: workspace.id },
        });
      } catch (err) {
        logger.error({ err, syncId: id }, 'could not create the schedule of a sync; removed the sync');
        await store.deleteSync(pool, id);
        throw new ServiceError(
          503,
          'temporal_unavailable',
          'The workflow service is unavailable; nothing was created. Try again shortly',
        );
      }
      return view((await store.getSync(pool, id))!);
    },

    async list(workspace: Workspace): Promise<SyncView[]> {
      return Promise.all((await store.listWorkspaceSyncs(pool, workspace.id)).map((s) => view(s)));
    },

    /** The caller's sync, or a 404 identical to a missing one. */
    async owned(id: string, userId: string): Promise<store.SyncRecord> {
      const sync = /^[0-9a-f-]{36}$/i.test(id) ? await store.getOwnedSync(pool, id, userId) : undefined;
      if (!sync) throw new ServiceError(404, 'not_found', 'Sync not found');
      return sync;
    },

    view: (sync: store.SyncRecord) => view(sync),

    async pause(sync: store.SyncRecord): Promise<void> {
      await client.schedule.getHandle(sync.scheduleId).pause('Paused through the API').catch(scheduleMissing);
    },

    async resume(sync: store.SyncRecord): Promise<void> {
      await client.schedule
        .getHandle(sync.scheduleId)
        .unpause('Resumed through the API')
        .catch(scheduleMissing);
    },

    /** Starts a run now; answers its job id. */
    async trigger(sync: store.SyncRecord): Promise<{ jobId: string }> {
      return triggerRun(sync, 'A run of this sync is in progress; its changes will be in the next run');
    },

    /** The next run (started now) copies everything; answers its job id. */
    async resync(sync: store.SyncRecord): Promise<{ jobId: string }> {
      await store.requestResync(pool, sync.id);
      return triggerRun(sync, 'A run of this sync is in progress; the next run will copy everything');
    },

    /**
     * Deletes the schedule, cancels a run in progress, then (waiting for a run's transaction) drops
     * the mirror's tables and the sync; its webhook is deleted in Airtable, best effort. The schema
     * and the reader role stay with the workspace.
     */
    async remove(sync: store.SyncRecord): Promise<void> {
      const handle = client.schedule.getHandle(sync.scheduleId);
      await handle.delete().catch((err: unknown) => {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      });
      const running = await runningJob(sync);
      if (running)
        await client.workflow
          .getHandle(running)
          .cancel()
          .catch(() => undefined);
      const webhookId = await withTransaction(pool, async (tx) => {
        await tx.query(`SET LOCAL lock_timeout = '30s'`);
        const locked = await store.lockSync(tx, sync.id);
        if (!locked) return null;
        await dropMirrorTables(tx, sync.workspaceId);
        await tx.query(`DELETE FROM synced_records WHERE workspace_id = $1`, [sync.workspaceId]);
        await store.deleteSync(tx, sync.id);
        return locked.webhookId;
      });
      if (webhookId) {
        try {
          const connection = await readWorkspaceConnection(deps, sync.workspaceId);
          await deleteWebhook(metaOptions(deps.airtable, connection.token), connection.baseId, webhookId);
        } catch (err) {
          logger.warn(
            { err, syncId: sync.id },
            'could not delete the webhook of a deleted sync; it expires within 7 days',
          );
        }
      }
    },

    /**
     * A new password for the workspace's read-only role, shown once (Postgres keeps only a SCRAM
     * verifier): what psql or a BI tool needs to connect.
     */
    async credentials(workspace: Workspace): Promise<{
      host: string;
      port: number;
      database: string;
      user: string;
      password: string;
      schema: string;
      url: string;
    }> {
      if (workspace.status !== 'active')
        throw new ServiceError(
          409,
          'workspace_not_active',
          `The workspace is ${workspace.status}, not active`,
        );
      const { schema, role } = mirrorNames(workspace.id);
      const password = randomBytes(24).toString('base64url');
      await withTransaction(pool, async (tx) => {
        await ensureMirrorSchema(tx, workspace.id);
        await tx.query(
          `ALTER ROLE ${escapeIdentifier(role)} PASSWORD ${escapeLiteral(scramVerifier(password))}`,
        );
      });
      const target = connectionTarget(pool);
      const url = new URL(
        `postgresql://${target.host}:${target.port}/${encodeURIComponent(target.database)}`,
      );
      url.username = role;
      url.password = password;
      return { ...target, user: role, password, schema, url: url.toString() };
    },
  };
}

export type SyncService = ReturnType<typeof createSyncService>;

function scheduleMissing(err: unknown): never {
  if (err instanceof ScheduleNotFoundError)
    throw new ServiceError(
      409,
      'schedule_missing',
      'The sync has no schedule; delete it and create it again',
    );
  throw err;
}

/** The mirror's names as the API shows them: `{tableId: {table, columns: {fieldId: column}}}`. */
export function presentMirror(tables: MirrorTables): SyncView['postgres']['tables'] {
  return Object.fromEntries(
    Object.entries(tables).map(([tableId, t]) => [
      tableId,
      {
        table: t.table,
        columns: Object.fromEntries(Object.entries(t.columns).map(([fieldId, c]) => [fieldId, c.column])),
      },
    ]),
  );
}

/** Where analysts reach the platform's database (from the pool's own settings). */
function connectionTarget(pool: Pool): { host: string; port: number; database: string } {
  const options = pool.options as {
    connectionString?: string;
    host?: string;
    port?: number;
    database?: string;
  };
  if (options.connectionString) {
    const url = new URL(options.connectionString);
    return {
      host: url.hostname || 'localhost',
      port: Number(url.port) || 5432,
      database: decodeURIComponent(url.pathname.slice(1)) || 'postgres',
    };
  }
  return {
    host: options.host ?? 'localhost',
    port: options.port ?? 5432,
    database: options.database ?? 'postgres',
  };
}
