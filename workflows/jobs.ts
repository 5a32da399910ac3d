import { patched, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { JobActivities } from '../activities/jobs';
import { FailureType, platformFailure } from '../core/failures';
import { JOB_KIND, USER_ID, WORKSPACE_ID, type JobKind } from '../temporal/search-attributes';

// What every job workflow shares: how it is tagged, and how it claims its job row.

/**
 * Tags the job so the Web UI and `temporal workflow list` can find it by workspace, user and kind.
 * The API sets these at start; this covers workflows started another way (e.g. the CLI).
 */
export function tagJob(kind: JobKind, workspaceId: string, userId: string): void {
  if (workflowInfo().typedSearchAttributes.get(JOB_KIND) !== undefined) return;
  upsertSearchAttributes([
    { key: WORKSPACE_ID, value: workspaceId },
    { key: USER_ID, value: userId },
    { key: JOB_KIND, value: kind },
  ]);
}

const bookkeeping = proxyActivities<JobActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

/**
 * A job's first step: claims its row in Postgres before anything else happens. When the API could
 * not confirm the start and answered 503, it marked the row `abandoned`; a workflow that started
 * anyway (the start call failed after the server accepted it) ends here without touching anything,
 * so a refused request never runs. (Histories recorded before this step replay without it.)
 */
export async function claimJob(): Promise<void> {
  if (!patched('claim-job-row')) return;
  const { abandoned } = await bookkeeping.claimJob({ jobId: workflowInfo().workflowId });
  if (abandoned)
    throw platformFailure(
      FailureType.jobAbandoned,
      'The job was abandoned before it started: its caller was told it could not be started',
    );
}
