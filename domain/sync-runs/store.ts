import type { Pool, PoolClient } from 'pg';
import type { AirtableRecord } from '../../airtable/records';

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
