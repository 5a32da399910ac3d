import type { Pool, PoolClient } from 'pg';
import type { JobKind } from '../../temporal/search-attributes';

type Queryable = Pool | PoolClient;

/**
 * Where a job stands. `pending`: recorded, start not confirmed; `abandoned`: its start failed and the
 * caller was told so, so it must never run; the rest mirror the workflow (Temporal is the truth).
 */
export type JobStatus =
  'pending' | 'abandoned' | 'running' | 'completed' | 'failed' | 'cancelled' | 'compensated';

/** The API's index of the workflows it started: who owns which job. */
export interface JobRecord {
  id: string;
  kind: JobKind;
  workspaceId: string | null;
  userId: string;
  status: JobStatus;
  /** Digest of the request that created the job under an idempotency key. */
  requestDigest: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const COLUMNS = `id, kind, workspace_id AS "workspaceId", user_id AS "userId", status, request_digest AS "requestDigest",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Records a job as `pending`. Recording the same id again (deterministic ids make requests
 * idempotent) leaves a live job as it is, and makes an abandoned one pending again, to be started anew.
 */
export async function insertJob(
  db: Queryable,
  job: { id: string; kind: JobKind; workspaceId: string | null; userId: string; requestDigest?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO jobs (id, kind, workspace_id, user_id, request_digest) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (id) DO UPDATE SET status = 'pending', updated_at = now() WHERE jobs.status = 'abandoned'`,
    [job.id, job.kind, job.workspaceId, job.userId, job.requestDigest ?? null],
  );
}

/** The API confirmed the start: `pending` becomes `running` (a status the workflow may already have set). */
export async function markStarted(db: Queryable, id: string): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = 'running', updated_at = now() WHERE id = $1 AND status = 'pending'`,
    [id],
  );
}

/**
 * The workflow's claim: `pending` becomes `running`. Returns the status after the claim (`abandoned`
 * when the API gave the job up first), or undefined when no row exists.
 */
export async function claimJob(db: Queryable, id: string): Promise<JobStatus | undefined> {
  const claimed = await db.query(
    `UPDATE jobs SET status = 'running', updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING id`,
    [id],
  );
  if (claimed.rowCount) return 'running';
  // A new statement: it sees an abandonment committed while the update above waited for the row.
  const { rows } = await db.query<{ status: JobStatus }>(`SELECT status FROM jobs WHERE id = $1`, [id]);
  return rows[0]?.status;
}

/**
 * Gives a job up when its start could not be confirmed: `pending` becomes `abandoned`. Returns false
 * when the workflow has claimed it first (it did start, and runs).
 */
export async function abandonJob(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE jobs SET status = 'abandoned', updated_at = now() WHERE id = $1 AND status = 'pending'`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

export async function getJob(db: Queryable, id: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  return rows[0];
}

export async function getOwnedJob(db: Queryable, id: string, userId: string): Promise<JobRecord | undefined> {
  const { rows } = await db.query<JobRecord>(`SELECT ${COLUMNS} FROM jobs WHERE id = $1 AND user_id = $2`, [
    id,
    userId,
  ]);
  return rows[0];
}

export async function setJobStatus(db: Queryable, id: string, status: JobStatus): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = $2, updated_at = now() WHERE id = $1 AND status NOT IN ($2, 'abandoned')`,
    [id, status],
  );
}

/** Jobs recorded but never confirmed started nor claimed (the API died between its commit and the start). */
export async function listStalePendingJobs(db: Queryable, olderThanSeconds: number): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    `SELECT ${COLUMNS} FROM jobs WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1) ORDER BY created_at`,
    [olderThanSeconds],
  );
  return rows;
}

/**
 * A user's jobs of one workspace, newest first (`kind` narrows them), at most `limit`: the index of
 * `GET /api/v1/workspaces/:id/jobs`, which reads the live state of those still running from Temporal.
 */
export async function listWorkspaceJobs(
  db: Queryable,
  workspaceId: string,
  userId: string,
  options: { kind?: JobKind; limit?: number } = {},
): Promise<JobRecord[]> {
  const { rows } = await db.query<JobRecord>(
    `SELECT ${COLUMNS} FROM jobs WHERE workspace_id = $1 AND user_id = $2 AND ($3::text IS NULL OR kind = $3)
     ORDER BY created_at DESC, id LIMIT $4`,
    [workspaceId, userId, options.kind ?? null, options.limit ?? 50],
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
