import type { Pool } from 'pg';
import { jobsFinished } from '../../core/metrics';
import type { JobRecord, JobStatus } from './store';

const FINAL: ReadonlySet<JobStatus> = new Set(['completed', 'failed', 'cancelled', 'compensated']);

/**
 * Records the status a job's workflow reports (as `store.setJobStatus` does: never over `abandoned`,
 * never the same twice), and counts the job's outcome for the metrics when this update is the one
 * that made it final: once per job, whichever API process learns it first.
 */
export async function settleJobStatus(
  pool: Pool,
  job: Pick<JobRecord, 'id' | 'kind'>,
  status: JobStatus,
): Promise<void> {
  const { rows } = await pool.query<{ before: JobStatus }>(
    `UPDATE jobs j SET status = $2, updated_at = now()
     FROM (SELECT id, status AS before FROM jobs WHERE id = $1 FOR UPDATE) old
     WHERE j.id = old.id AND j.status NOT IN ($2, 'abandoned')
     RETURNING old.before`,
    [job.id, status],
  );
  const before = rows[0]?.before;
  if (before !== undefined && FINAL.has(status) && !FINAL.has(before))
    jobsFinished.inc({ kind: job.kind, outcome: status });
}
