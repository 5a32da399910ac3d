import type { Pool, PoolClient } from 'pg';
import type { JobKind } from '../../temporal/search-attributes';

type Queryable = Pool | PoolClient;

/** Where a job stands, as the API reports it. */
export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'compensated';

/** The API's index of the workflows it started: who owns which job. */
export interface JobRecord {
  id: string;
  kind: JobKind;
  workspaceId: string | null;
  userId: string;
  status: JobStatus;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, kind, workspace_id AS "workspaceId", user_id AS "userId", status, created_at AS "createdAt", updated_at AS "updatedAt"`;

/** Records a job; recording the same id again is a no-op (deterministic ids make requests idempotent). */
export async function insertJob(
  db: Queryable,
  job: { id: string; kind: JobKind; workspaceId: string | null; userId: string },
): Promise<void> {
  await db.query(
    `INSERT INTO jobs (id, kind, workspace_id, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
    [job.id, job.kind, job.workspaceId, job.userId],
  );
}

export async function getOwnedJob(db: Queryable, id: string, userId: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2`, [
    id,
    userId,
  ]);
  return rows[0];
}

export async function setJobStatus(db: Queryable, id: string, status: JobStatus): Promise<void> {
  await db.query(`UPDATE jobs SET status = $2, updated_at = now() WHERE id = $1 AND status <> $2`, [
    id,
    status,
  ]);
}

/** Jobs recorded but never confirmed started (the process died between commit and start). */
export async function listPendingJobs(db: Queryable, olderThanSeconds: number): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    `SELECT ${COLUMNS} FROM jobs WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1) ORDER BY created_at`,
    [olderThanSeconds],
  );
  return rows;
}

/** Jobs of a workspace that may still be running, per the cached status. */
export async function listActiveJobs(db: Queryable, workspaceId: string): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    `SELECT ${COLUMNS} FROM jobs WHERE workspace_id = $1 AND status IN ('pending', 'running') ORDER BY created_at`,
    [workspaceId],
  );
  return rows;
}
