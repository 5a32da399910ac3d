import {
  ActivityCancellationType,
  CancelledFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChangeSetActivities } from '../activities/change-sets';
import { FailureType, failureDetails, failureReason, platformFailure } from '../core/failures';
import type { ChangeSetOutcome, ChangeSetProgressReport } from '../domain/change-sets/model';
import { claimJob, tagJob } from './jobs';

/** Why a change set is being undone: a cancel, or a step Airtable refused. */
type UndoReason = { cancelled: boolean; error?: ChangeSetOutcome['error'] };

/** Input of {@link applyChangeSet}: ids only. The steps and their records wait in Postgres. */
export interface ApplyChangeSetInput {
  changeSetId: string;
  workspaceId: string;
  userId: string;
  /** Set by continue-as-new: where the previous run stood. */
  resume?: { phase: 'apply' } | ({ phase: 'undo' } & UndoReason);
  /**
   * The longest an activity call works before reporting progress. Calls start at 1 s (progress shows
   * early) and double up to this, so the pauses between calls cost little throughput. @default 10000
   */
  sliceMs?: number;
  /** Continue as a new run once the history holds this many events. @default 5000 */
  historyLimit?: number;
}

/** What the progress query answers. */
export interface ChangeSetProgress {
  phase: 'starting' | 'applying' | 'compensating' | 'done';
  stepsDone: number;
  stepsTotal: number;
  recordsApplied: number;
  recordsTotal: number;
  recordsUndone: number;
}

export const changeSetProgressQuery = defineQuery<ChangeSetProgress>('progress');

// A few Postgres queries each: a short timeout, so a killed worker costs seconds, not a minute.
const bookkeeping = proxyActivities<ChangeSetActivities>({
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumInterval: '1 minute' },
});

// A slice of writes. A killed worker is noticed within the heartbeat timeout; a cancelled one is
// waited for, so compensation never races the writes it undoes. Every attempt resumes from the
// journal, so attempts are bounded by time rather than by count (a crash-looping worker still makes
// progress); 429s wait Airtable's 30 s penalty (nextRetryDelay), crashes and 5xx retry within seconds.
const writes = proxyActivities<ChangeSetActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5s',
  scheduleToCloseTimeout: '30 minutes',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '500ms', backoffCoefficient: 1.5, maximumInterval: '5s' },
});

// Compensation retries until it is done: an attempt limit would leave a base half changed.
const undoing = proxyActivities<ChangeSetActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * Applies a change set all-or-nothing. The journal in Postgres holds every record, before-image and
 * created id; this workflow only sequences slices of work and keeps counts, so its history stays
 * small for any size of set. On a refused step or a cancel, everything applied is undone in
 * reverse order, and the job ends `compensated` or `cancelled` (or `failed` with what remains).
 */
export async function applyChangeSet(input: ApplyChangeSetInput): Promise<ChangeSetOutcome> {
  tagJob('changeset.apply', input.workspaceId, input.userId);
  const { changeSetId } = input;
  const progress: ChangeSetProgress = {
    phase: 'starting',
    stepsDone: 0,
    stepsTotal: 0,
    recordsApplied: 0,
    recordsTotal: 0,
    recordsUndone: 0,
  };
  setHandler(changeSetProgressQuery, () => progress);
  if (!input.resume) await claimJob();
  const shape = await bookkeeping.describeChangeSet({ changeSetId });
  progress.stepsTotal = shape.steps.length;
  progress.recordsTotal = shape.recordsTotal;

  /**
   * Calls `slice` (apply, or undo) until the journal says it is done, one slice of work at a time,
   * each given 1 s, then twice as long up to `sliceMs`; continues as new when the history grows long.
   */
  async function inSlices(
    slice: (budget: { changeSetId: string; budgetMs: number }) => Promise<ChangeSetProgressReport>,
    resume: NonNullable<ApplyChangeSetInput['resume']>,
  ): Promise<void> {
    const maxSliceMs = input.sliceMs ?? 10_000;
    for (let budgetMs = Math.min(1_000, maxSliceMs); ; budgetMs = Math.min(budgetMs * 2, maxSliceMs)) {
      const report = await slice({ changeSetId, budgetMs });
      progress.recordsApplied = report.recordsApplied;
      progress.stepsDone = report.stepsDone;
      progress.recordsUndone = report.recordsUndone;
      if (report.done) return;
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? 5_000))
        await continueAsNew<typeof applyChangeSet>({ ...input, resume });
    }
  }

  /** Undoes everything applied, last first, and records the outcome. Cancellation cannot stop it. */
  function compensate(reason: UndoReason): Promise<ChangeSetOutcome> {
    return CancellationScope.nonCancellable(async () => {
      progress.phase = 'compensating';
      await inSlices(undoing.undoChangeSetChunks, { phase: 'undo', ...reason });
      const outcome = await bookkeeping.finishChangeSet({
        changeSetId,
        status: reason.cancelled ? 'cancelled' : 'compensated',
        error: reason.error,
      });
      progress.phase = 'done';
      if (outcome.status === 'failed') {
        const undone = outcome.undone ?? [];
        throw platformFailure(
          FailureType.changeSetCompensationIncomplete,
          `Compensation could not undo ${undone.reduce((n, u) => n + u.records, 0)} record(s) in ${undone.length} request(s): ${undone[0]?.error}`,
          { details: { ...outcome, status: 'failed', undone } },
        );
      }
      return outcome;
    });
  }

  if (input.resume?.phase === 'undo') return compensate(input.resume);

  progress.phase = 'applying';
  try {
    await inSlices(writes.applyChangeSetChunks, { phase: 'apply' });
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // A cancel is what the user asked for even when it meets a slice failing for another reason
    // (a 503, a heartbeat timeout): the server then stops retrying and reports that failure instead.
    const cancelled = isCancellation(err) || CancellationScope.current().consideredCancelled;
    const step = failureDetails(err, FailureType.changeSetStepFailed)?.step;
    const error = cancelled
      ? undefined
      : { ...(step === undefined ? {} : { step }), message: failureReason(err) };
    log.warn('change set stopped; compensating', { changeSetId, cancelled, error: error?.message });
    const outcome = await compensate({ cancelled, error });
    // Only the run that received the cancel can end as cancelled; the outcome says so either way.
    if (cancelled) throw isCancellation(err) ? err : new CancelledFailure('Change set cancelled');
    return outcome;
  }
  progress.phase = 'done';
  return bookkeeping.finishChangeSet({ changeSetId, status: 'completed' });
}
