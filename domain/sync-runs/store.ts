import type { Pool, PoolClient } from 'pg';
import type { AirtableTableSchema } from '../../airtable/meta';
import type { AirtableRecord } from '../../airtable/records';
import type { MirrorTables, SyncRunCounts, SyncRunMode } from './model';

type Queryable = Pool | PoolClient;

/** Writes one page of a table's records; a page written twice (a resumed copy) changes nothing. */
export async function upsertSyncedRecords(
  db: Queryable,
  target: { workspaceId: string; tableId: string; syncRunId: string },
  records: AirtableRecord[],
): Promise<void> {
  if (records.length === 0) return;
  await db.query(
    `INSERT INTO synced_records (workspace_id, table_id, record_id, fields, created_time, sync_run_id)
     SELECT $1, $2, r.id, r.fields, r."createdTime", $3
     FROM jsonb_to_recordset($4::jsonb) AS r(id text, fields jsonb, "createdTime" timestamptz)
     ON CONFLICT (workspace_id, table_id, record_id)
     DO UPDATE SET fields = EXCLUDED.fields, sync_run_id = EXCLUDED.sync_run_id, synced_at = now()`,
    [target.workspaceId, target.tableId, target.syncRunId, JSON.stringify(records)],
  );
}

export async function countSyncedRecords(
  db: Queryable,
  workspaceId: string,
  tableId: string,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM synced_records WHERE workspace_id = $1 AND table_id = $2`,
    [workspaceId, tableId],
  );
  return rows[0]!.n;
}

/** Forgets a table's staged copy (before a fresh copy, and once a run has merged it). */
export async function clearSyncedRecords(db: Queryable, workspaceId: string, tableId: string): Promise<void> {
  await db.query(`DELETE FROM synced_records WHERE workspace_id = $1 AND table_id = $2`, [
    workspaceId,
    tableId,
  ]);
}

// The webhook cursor store: where a sync stands in its webhook's payloads.

/** The next payload to apply, or undefined when the cursor is lost (then a full reconcile runs). */
export async function getCursor(
  db: Queryable,
  syncId: string,
): Promise<{ webhookId: string; cursor: number } | undefined> {
  const { rows } = await db.query<{ webhookId: string; cursor: string }>(
    `SELECT webhook_id AS "webhookId", cursor FROM sync_cursors WHERE sync_id = $1`,
    [syncId],
  );
  const row = rows[0];
  return row ? { webhookId: row.webhookId, cursor: Number(row.cursor) } : undefined;
}

/** Stores the cursor, in the transaction that applied everything before it. */
export async function setCursor(
  db: Queryable,
  syncId: string,
  webhookId: string,
  cursor: number,
): Promise<void> {
  await db.query(
    `INSERT INTO sync_cursors (sync_id, webhook_id, cursor) VALUES ($1, $2, $3)
     ON CONFLICT (sync_id) DO UPDATE SET webhook_id = EXCLUDED.webhook_id, cursor = EXCLUDED.cursor, updated_at = now()`,
    [syncId, webhookId, cursor],
  );
}

export async function deleteCursor(db: Queryable, syncId: string): Promise<void> {
  await db.query(`DELETE FROM sync_cursors WHERE sync_id = $1`, [syncId]);
}

// The mirror's names, kept with the workspace.

export async function getMirrorTables(
  db: Queryable,
  workspaceId: string,
  options: { lock?: boolean } = {},
): Promise<MirrorTables | undefined> {
  const { rows } = await db.query<{ tables: MirrorTables }>(
    `SELECT tables FROM sync_mirrors WHERE workspace_id = $1${options.lock ? ' FOR UPDATE' : ''}`,
    [workspaceId],
  );
  return rows[0]?.tables;
}

export async function setMirrorTables(
  db: Queryable,
  workspaceId: string,
  tables: MirrorTables,
): Promise<void> {
  await db.query(`UPDATE sync_mirrors SET tables = $2, updated_at = now() WHERE workspace_id = $1`, [
    workspaceId,
    JSON.stringify(tables),
  ]);
}

// Runs.

/** A run as the sync's answer lists it. */
export interface SyncRunRecord {
  jobId: string;
  syncId: string;
  mode: SyncRunMode | null;
  reason: string | null;
  status: 'running' | 'completed' | 'failed' | 'cancelled' | 'skipped';
  startedAt: Date;
  finishedAt: Date | null;
  tables: number;
  created: number;
  updated: number;
  deleted: number;
  payloads: number;
  lagMs: number | null;
  error: string | null;
}

const RUN_COLUMNS = `job_id AS "jobId", sync_id AS "syncId", mode, reason, status, started_at AS "startedAt",
  finished_at AS "finishedAt", tables, created, updated, deleted, payloads, lag_ms::float8 AS "lagMs", error`;

/** Records a run as it starts; a repeated start (a retried activity) keeps the first row. */
export async function insertRun(db: Queryable, run: { jobId: string; syncId: string }): Promise<void> {
  // A finished row with this id is an earlier run the schedule named the same (runs started within
  // one second share their workflow id): this run starts it afresh.
  await db.query(
    `INSERT INTO sync_runs (job_id, sync_id) VALUES ($1, $2)
     ON CONFLICT (job_id) DO UPDATE SET status = 'running', started_at = now(), finished_at = NULL, mode = NULL,
       reason = NULL, tables = 0, created = 0, updated = 0, deleted = 0, payloads = 0, lag_ms = NULL,
       base_schema = NULL, start_cursor = NULL, error = NULL
     WHERE sync_runs.status <> 'running'`,
    [run.jobId, run.syncId],
  );
}

/** The sync's latest run recorded as running, if any. */
export async function latestRunningRun(db: Queryable, syncId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ jobId: string }>(
    `SELECT job_id AS "jobId" FROM sync_runs WHERE sync_id = $1 AND status = 'running' ORDER BY started_at DESC LIMIT 1`,
    [syncId],
  );
  return rows[0]?.jobId;
}

export async function getRun(db: Queryable, jobId: string): Promise<SyncRunRecord | undefined> {
  const { rows } = await db.query<SyncRunRecord>(`SELECT ${RUN_COLUMNS} FROM sync_runs WHERE job_id = $1`, [
    jobId,
  ]);
  return rows[0];
}

/** What a full run read before its copy: the schema it copies with and the cursor it will store. */
export async function setRunPlan(
  db: Queryable,
  jobId: string,
  plan: {
    mode: SyncRunMode;
    reason?: string | null;
    baseSchema?: AirtableTableSchema[];
    startCursor?: number;
  },
): Promise<void> {
  await db.query(
    `UPDATE sync_runs SET mode = $2, reason = $3, base_schema = coalesce($4, base_schema),
       start_cursor = coalesce($5, start_cursor) WHERE job_id = $1`,
    [
      jobId,
      plan.mode,
      plan.reason ?? null,
      plan.baseSchema ? JSON.stringify(plan.baseSchema) : null,
      plan.startCursor ?? null,
    ],
  );
}

export async function getRunPlan(
  db: Queryable,
  jobId: string,
): Promise<{ baseSchema: AirtableTableSchema[] | null; startCursor: number | null } | undefined> {
  const { rows } = await db.query<{ baseSchema: AirtableTableSchema[] | null; startCursor: string | null }>(
    `SELECT base_schema AS "baseSchema", start_cursor AS "startCursor" FROM sync_runs WHERE job_id = $1`,
    [jobId],
  );
  const row = rows[0];
  return (
    row && {
      baseSchema: row.baseSchema,
      startCursor: row.startCursor === null ? null : Number(row.startCursor),
    }
  );
}

/** Ends a run with its counts (in the transaction that applied it) or its failure. */
export async function finishRun(
  db: Queryable,
  jobId: string,
  end: { status: SyncRunRecord['status']; counts?: SyncRunCounts; lagMs?: number | null; error?: string },
): Promise<void> {
  const c = end.counts;
  await db.query(
    `UPDATE sync_runs SET status = $2, finished_at = now(), tables = coalesce($3, tables), created = coalesce($4, created),
       updated = coalesce($5, updated), deleted = coalesce($6, deleted), payloads = coalesce($7, payloads),
       lag_ms = coalesce($8, lag_ms), error = $9, base_schema = NULL
     WHERE job_id = $1 AND status = 'running'`,
    [
      jobId,
      end.status,
      c?.tables ?? null,
      c?.created ?? null,
      c?.updated ?? null,
      c?.deleted ?? null,
      c?.payloads ?? null,
      end.lagMs ?? null,
      end.error ?? null,
    ],
  );
}

export async function listRecentRuns(db: Queryable, syncId: string, limit = 10): Promise<SyncRunRecord[]> {
  const { rows } = await db.query<SyncRunRecord>(
    `SELECT ${RUN_COLUMNS} FROM sync_runs WHERE sync_id = $1 ORDER BY started_at DESC, job_id DESC LIMIT $2`,
    [syncId, limit],
  );
  return rows;
}

/** When the sync's last full run that completed started (a periodic reconcile counts from it). */
export async function lastFullRunStart(db: Queryable, syncId: string): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date }>(
    `SELECT max(started_at) AS at FROM sync_runs WHERE sync_id = $1 AND mode = 'full' AND status = 'completed'`,
    [syncId],
  );
  return rows[0]?.at ?? undefined;
}
