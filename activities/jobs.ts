import type { Pool } from 'pg';
import * as jobs from '../domain/jobs/store';

/** What the job activities need. */
export interface JobActivityDeps {
  pool: Pool;
}

/** Activities every job workflow shares. */
export function createJobActivities(deps: JobActivityDeps) {
  return {
    /**
     * Marks the job `running` unless the API has abandoned it. A job with no row (a workflow started
     * outside the API, e.g. with the CLI) is not abandoned.
     */
    async claimJob(input: { jobId: string }): Promise<{ abandoned: boolean }> {
      return { abandoned: (await jobs.claimJob(deps.pool, input.jobId)) === 'abandoned' };
    },
  };
}

export type JobActivities = ReturnType<typeof createJobActivities>;
