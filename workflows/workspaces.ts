import {
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SyncRunActivities } from '../activities/sync-runs';
import type { WorkspaceActivities } from '../activities/workspaces';
import { FailureType, failureReason, platformFailure } from '../core/failures';
import { claimJob, tagJob } from './jobs';

/** Input of {@link provisionWorkspace}. It holds ids only: the Airtable token stays in Postgres. */
export interface ProvisionWorkspaceInput {
  workspaceId: string;
  userId: string;
}

/** Result of a successful {@link provisionWorkspace}. */
export interface ProvisionWorkspaceResult {
  workspaceId: string;
  status: 'active';
  tableCount: number;
  fieldCount: number;
}

/** The step provisioning is on, for the progress query. */
export type ProvisioningStep =
  | 'claim-workspace'
  | 'check-connection'
  | 'verify-access'
  | 'snapshot-schema'
  | 'activate'
  | 'compensating'
  | 'done';

/** What the provisioning progress query answers. */
export interface ProvisioningProgress {
  step: ProvisioningStep;
  stepsDone: number;
  stepsTotal: number;
}

export const provisioningProgressQuery = defineQuery<ProvisioningProgress>('progress');

const steps = proxyActivities<WorkspaceActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8 },
});

// Airtable calls heartbeat while they wait, so a worker that dies mid-call is noticed in seconds,
// not after the whole start-to-close timeout.
const airtableSteps = proxyActivities<WorkspaceActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8 },
});

// Compensations and deprovisioning steps must eventually succeed, so they retry without an attempt limit.
const untilDone = proxyActivities<WorkspaceActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

// Deprovisioning's removal of the sync mirror (schema, role, webhooks): heartbeats, retried until done.
const mirrorRemoval = proxyActivities<SyncRunActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

// Waits for the workspace's other jobs to end: as long as their compensations take, heartbeating.
const jobsEnding = proxyActivities<WorkspaceActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Workspace provisioning as a saga: each step registers its undo before it runs (the side effect
 * may land even when the step reports failure), and on failure or cancellation the undos run in
 * reverse. The workspace row itself is kept, marked `failed` with the reason, so its owner sees why.
 */
export async function provisionWorkspace(input: ProvisionWorkspaceInput): Promise<ProvisionWorkspaceResult> {
  tagJob('workspace.provision', input.workspaceId, input.userId);
  const { workspaceId } = input;
  let step: ProvisioningStep = 'claim-workspace';
  let stepsDone = 0;
  setHandler(provisioningProgressQuery, () => ({ step, stepsDone, stepsTotal: 5 }));
  // Before the try: an abandoned job has nothing to undo (the API already failed the workspace).
  await claimJob();

  const undo: Array<(reason: string) => Promise<void>> = [];
  try {
    undo.push((reason) => untilDone.markWorkspaceFailed({ workspaceId, reason }));
    await steps.claimWorkspace({ workspaceId });
    stepsDone++;

    step = 'check-connection';
    undo.push(() => untilDone.eraseAirtableConnection({ workspaceId }));
    await steps.checkAirtableConnection({ workspaceId });
    stepsDone++;

    step = 'verify-access';
    await airtableSteps.verifyAirtableAccess({ workspaceId });
    stepsDone++;

    step = 'snapshot-schema';
    undo.push(() => untilDone.deleteSchemaSnapshot({ workspaceId }));
    const schema = await airtableSteps.snapshotBaseSchema({ workspaceId });
    stepsDone++;

    step = 'activate';
    await steps.activateWorkspace({ workspaceId });
    stepsDone++;
    step = 'done';
    return { workspaceId, status: 'active', ...schema };
  } catch (err) {
    const cancelled = isCancellation(err);
    const reason = cancelled ? 'Provisioning was cancelled' : failureReason(err);
    log.warn('provisioning failed; compensating', { workspaceId, failedStep: step, reason });
    step = 'compensating';
    // Cancellation must not stop the clean-up it triggered.
    await CancellationScope.nonCancellable(async () => {
      for (const compensate of undo.reverse()) await compensate(reason);
    });
    step = 'done';
    if (cancelled) throw err;
    throw platformFailure(FailureType.provisioningFailed, reason, {
      details: { workspaceId, compensated: true },
    });
  }
}

/** Input of {@link deprovisionWorkspace}. */
export interface DeprovisionWorkspaceInput {
  workspaceId: string;
  userId: string;
}

/**
 * Removes a workspace: schedules first (so no sync starts against a half-deleted workspace), then
 * its running jobs (cancelled, and waited for while they compensate), then the secret, then the
 * rows. Every step is idempotent, so the workflow only moves forward.
 */
export async function deprovisionWorkspace(
  input: DeprovisionWorkspaceInput,
): Promise<{ workspaceId: string; schedulesDeleted: number }> {
  tagJob('workspace.deprovision', input.workspaceId, input.userId);
  await claimJob();
  const { workspaceId } = input;
  const { exists } = await untilDone.markWorkspaceDeprovisioning({ workspaceId });
  if (!exists) return { workspaceId, schedulesDeleted: 0 };
  const { deleted } = await untilDone.deleteWorkspaceSchedules({ workspaceId });
  // The workspace's other jobs end first (a change set undoes what it applied): its journal and its
  // connection must outlive it. No new job starts meanwhile: the workspace is no longer active.
  if (patched('end-jobs-before-deprovisioning'))
    await jobsEnding.endWorkspaceJobs({ workspaceId, except: workflowInfo().workflowId });
  // The mirror goes while the connection is still there (its webhooks are deleted in Airtable too).
  if (patched('drop-mirror')) await mirrorRemoval.dropWorkspaceMirror({ workspaceId });
  await untilDone.eraseAirtableConnection({ workspaceId });
  await untilDone.deleteWorkspaceRecords({ workspaceId });
  return { workspaceId, schedulesDeleted: deleted };
}
