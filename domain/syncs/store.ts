import type { Pool, PoolClient } from 'pg';
import type { SyncSchedule } from './model';

type Queryable = Pool | PoolClient;

/** A sync as Postgres keeps it. */
export interface SyncRecord {
  id: string;
  workspaceId: string;
  userId: string;
  scheduleId: string;
  /** Airtable table ids; null: every table. */
  tableIds: string[] | null;
  schedule: SyncSchedule;
  fullReconcileSeconds: number;
  resyncRequestedAt: Date | null;
  webhookId: string | null;
  webhookExpiresAt: Date | null;
  createdAt: Date;
}

const COLUMNS = `s.id, s.workspace_id AS "workspaceId", s.user_id AS "userId", s.schedule_id AS "scheduleId",
  s.table_ids AS "tableIds", s.schedule, s.full_reconcile_seconds AS "fullReconcileSeconds",
  s.resync_requested_at AS "resyncRequestedAt", s.webhook_id AS "webhookId",
  s.webhook_expires_at AS "webhookExpiresAt", s.created_at AS "createdAt"`;

/** Records a sync; false when the workspace already has one. */
export async function insertSync(
  db: Queryable,
  sync: Pick<
    SyncRecord,
    'id' | 'workspaceId' | 'userId' | 'scheduleId' | 'tableIds' | 'schedule' | 'fullReconcileSeconds'
  >,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO syncs (id, workspace_id, user_id, schedule_id, table_ids, schedule, full_reconcile_seconds)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id) DO NOTHING`,
    [
      sync.id,
      sync.workspaceId,
      sync.userId,
      sync.scheduleId,
      sync.tableIds,
      JSON.stringify(sync.schedule),
      sync.fullReconcileSeconds,
    ],
  );
  return (rowCount ?? 0) > 0;
}

export async function getSync(db: Queryable, id: string): Promise<SyncRecord | undefined> {
  const { rows } = await db.query<SyncRecord>(`SELECT ${COLUMNS} FROM syncs s WHERE s.id = $1`, [id]);
  return rows[0];
}

/** The sync, locked against deletion and against another run's apply until the transaction ends. */
export async function lockSync(db: PoolClient, id: string): Promise<SyncRecord | undefined> {
  const { rows } = await db.query<SyncRecord>(`SELECT ${COLUMNS} FROM syncs s WHERE s.id = $1 FOR UPDATE`, [
    id,
  ]);
  return rows[0];
}

/** The sync if its workspace belongs to `userId`; another user's sync is as missing as no sync. */
export async function getOwnedSync(
  db: Queryable,
  id: string,
  userId: string,
): Promise<SyncRecord | undefined> {
  const { rows } = await db.query<SyncRecord>(
    `SELECT ${COLUMNS} FROM syncs s JOIN workspaces w ON w.id = s.workspace_id WHERE s.id = $1 AND w.owner_id = $2`,
    [id, userId],
  );
  return rows[0];
}

export async function listWorkspaceSyncs(db: Queryable, workspaceId: string): Promise<SyncRecord[]> {
  const { rows } = await db.query<SyncRecord>(
    `SELECT ${COLUMNS} FROM syncs s WHERE s.workspace_id = $1 ORDER BY s.created_at, s.id`,
    [workspaceId],
  );
  return rows;
}

export async function deleteSync(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM syncs WHERE id = $1`, [id]);
}

/** The next run copies everything. */
export async function requestResync(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE syncs SET resync_requested_at = now(), updated_at = now() WHERE id = $1`, [id]);
}

/** A full run that started after the request answered it. */
export async function clearResync(db: Queryable, id: string, answeredAt: Date): Promise<void> {
  await db.query(
    `UPDATE syncs SET resync_requested_at = NULL, updated_at = now() WHERE id = $1 AND resync_requested_at <= $2`,
    [id, answeredAt],
  );
}

/** The sync's webhook (null: none) and when Airtable says it expires. */
export async function setWebhook(
  db: Queryable,
  id: string,
  webhook: { id: string | null; expiresAt: Date | null },
): Promise<void> {
  await db.query(
    `UPDATE syncs SET webhook_id = $2, webhook_expires_at = $3, updated_at = now() WHERE id = $1`,
    [id, webhook.id, webhook.expiresAt],
  );
}
