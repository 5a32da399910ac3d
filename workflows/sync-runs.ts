import {
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SyncRunActivities } from '../activities/sync-runs';
import { failureReason } from '../core/failures';
import type { RunRef } from '../domain/sync-runs/run';
import type {
  FullSyncReason,
  SyncRunInput,
  SyncRunMode,
  SyncRunProgress,
  SyncRunResult,
} from '../domain/sync-runs/model';
import { tagJob } from './jobs';

export const syncRunProgressQuery = defineQuery<SyncRunProgress>('progress');

// Postgres bookkeeping: short, retried until it succeeds.
const bookkeeping = proxyActivities<SyncRunActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Steps that wait on Airtable (paced) or on a long transaction heartbeat every 2 s, so a worker that
// dies is replaced within the heartbeat timeout. A copy resumes from its last page.
const airtable = proxyActivities<SyncRunActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});
// A copy's checkpoint reaches the server every second (WORKER_TIMING), so a crash re-reads about a
// second of pages; 10 s of silence means the worker is gone.
const copying = proxyActivities<SyncRunActivities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
});

/** How often an incremental run may stop to copy tables whose schema changed before it reconciles fully. */
const MAX_COPY_ROUNDS = 3;

/**
 * One run of a scheduled sync (the schedule starts it; no job row exists until its first step
 * records one). Incremental when it can be: the webhook's payloads since the stored cursor, applied
 * in one transaction; a full reconcile when it must: every table copied page by page (resumable),
 * then merged in one transaction. See docs/syncs.md.
 */
export async function syncRun(input: SyncRunInput): Promise<SyncRunResult> {
  tagJob('sync.run', input.workspaceId, input.userId);
  const ref: RunRef = { ...input, jobId: workflowInfo().workflowId };
  const progress: SyncRunProgress = {
    mode: null,
    phase: 'starting',
    tablesCopied: 0,
    tablesToCopy: 0,
    recordsCopied: 0,
  };
  setHandler(syncRunProgressQuery, () => progress);

  const begun = await bookkeeping.beginSyncRun(ref);
  if (begun.status === 'skipped') return begun;
  let mode: SyncRunMode = begun.mode;
  let reason: FullSyncReason | undefined = begun.reason;
  progress.mode = mode;

  /** Copies tables one after the other into staging, counting for the progress query. */
  async function copy(tableIds: string[]): Promise<void> {
    progress.phase = 'copying';
    progress.tablesToCopy += tableIds.length;
    for (const tableId of tableIds) {
      const copied = await copying.copySyncTable({ ref, tableId });
      progress.tablesCopied++;
      progress.recordsCopied += copied.records;
    }
  }

  try {
    if (mode === 'incremental') {
      const copied: string[] = [];
      for (let round = 0; round <= MAX_COPY_ROUNDS; round++) {
        progress.phase = 'reading-changes';
        const outcome = await airtable.applyIncrementalSyncRun({ ref, copied });
        if (outcome.status === 'skipped') return await skipped(ref, outcome.reason);
        if (outcome.status === 'applied') return done(progress, { mode, ...outcome });
        if (outcome.status === 'full') {
          reason = outcome.reason;
          break;
        }
        await copy(outcome.tableIds);
        copied.push(...outcome.tableIds);
      }
      reason ??= 'schema-unsettled';
      mode = 'full';
      progress.mode = mode;
    }

    const prepared = await airtable.prepareFullSyncRun({ ref, reason: reason ?? 'first-run' });
    if (prepared.status === 'skipped') return await skipped(ref, prepared.reason);
    await copy(prepared.tableIds);
    progress.phase = 'applying';
    const applied = await airtable.applyFullSyncRun(ref);
    if (applied.status === 'skipped') return await skipped(ref, applied.reason);
    return done(progress, { mode, reason, ...applied });
  } catch (err) {
    const cancelled = isCancellation(err);
    await CancellationScope.nonCancellable(() =>
      bookkeeping.endSyncRun({
        jobId: ref.jobId,
        status: cancelled ? 'cancelled' : 'failed',
        error: cancelled ? 'The run was cancelled' : failureReason(err),
      }),
    );
    throw err;
  }
}

function done(
  progress: SyncRunProgress,
  result: Omit<Extract<SyncRunResult, { status: 'completed' }>, 'status'>,
): SyncRunResult {
  progress.phase = 'done';
  const { mode, reason, lagMs, tables, created, updated, deleted, payloads } = result;
  return {
    status: 'completed',
    mode,
    ...(reason ? { reason } : {}),
    lagMs,
    tables,
    created,
    updated,
    deleted,
    payloads,
  };
}

async function skipped(ref: RunRef, reason: string): Promise<SyncRunResult> {
  await bookkeeping.endSyncRun({ jobId: ref.jobId, status: 'skipped', error: reason });
  return { status: 'skipped', reason };
}
