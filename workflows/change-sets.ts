import {
  ActivityCancellationType,
  ApplicationFailure,
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
import type { ChangeSetActivities, ChangeSetProgressReport } from '../activities/change-sets';
import type { ChangeSetOutcome } from '../domain/change-sets/journal';
import { causeChain, failureReason, tagJob } from './jobs';

/** Input of {@link applyChangeSet}: ids only. The steps and their records wait in Postgres. */
export interface ApplyChangeSetInput {
  changeSetId: string;
  workspaceId: string;
  userId: string;
  /** Set by continue-as-new: where the previous run stood. */
  resume?:
    { phase: 'apply' } | { phase: 'undo'; cancelled: boolean; error?: { step?: number; message: string } };
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

/** The failure type of a change set that could not undo everything it applied. */
export const CHANGE_SET_COMPENSATION_INCOMPLETE = 'ChangeSetCompensationIncomplete';

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
const undo = proxyActivities<ChangeSetActivities>({
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
  const maxSliceMs = input.sliceMs ?? 10_000;
  let sliceMs = Math.min(1_000, maxSliceMs);
  const nextSlice = () => {
    const budgetMs = sliceMs;
    sliceMs = Math.min(sliceMs * 2, maxSliceMs);
    return budgetMs;
  };
  const progress: ChangeSetProgress = {
    phase: 'starting',
    stepsDone: 0,
    stepsTotal: 0,
    recordsApplied: 0,
    recordsTotal: 0,
    recordsUndone: 0,
  };
  setHandler(changeSetProgressQuery, () => progress);
  const shape = await bookkeeping.describeChangeSet({ changeSetId });
  progress.stepsTotal = shape.steps.length;
  progress.recordsTotal = shape.recordsTotal;
  const update = (report: ChangeSetProgressReport) => {
    progress.recordsApplied = report.recordsApplied;
    progress.stepsDone = report.stepsDone;
    progress.recordsUndone = report.recordsUndone;
  };
  const continueIfLong = async (resume: ApplyChangeSetInput['resume']) => {
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > (input.historyLimit ?? 5_000))
      await continueAsNew<typeof applyChangeSet>({ ...input, resume });
  };

  async function compensate(cancelled: boolean, error?: { step?: number; message: string }) {
    progress.phase = 'compensating';
    sliceMs = Math.min(1_000, maxSliceMs);
    for (;;) {
      const report = await undo.undoChangeSetChunks({ changeSetId, budgetMs: nextSlice() });
      update(report);
      if (report.done) break;
      await continueIfLong({ phase: 'undo', cancelled, error });
    }
    const outcome = await bookkeeping.finishChangeSet({
      changeSetId,
      status: cancelled ? 'cancelled' : 'compensated',
      error,
    });
    progress.phase = 'done';
    if (outcome.status === 'failed') {
      const left = outcome.undone ?? [];
      throw ApplicationFailure.nonRetryable(
        `Compensation could not undo ${left.reduce((n, u) => n + u.records, 0)} record(s) in ${left.length} request(s): ${left[0]?.error}`,
        CHANGE_SET_COMPENSATION_INCOMPLETE,
        outcome,
      );
    }
    return outcome;
  }

  if (input.resume?.phase === 'undo') {
    const { cancelled, error } = input.resume;
    return CancellationScope.nonCancellable(() => compensate(cancelled, error));
  }

  progress.phase = 'applying';
  try {
    for (;;) {
      const report = await writes.applyChangeSetChunks({ changeSetId, budgetMs: nextSlice() });
      update(report);
      if (report.done) break;
      await continueIfLong({ phase: 'apply' });
    }
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const cancelled = isCancellation(err);
    const error = cancelled ? undefined : { ...stepOf(err), message: failureReason(err) };
    log.warn('change set stopped; compensating', { changeSetId, cancelled, error: error?.message });
    // Cancellation must not stop the clean-up it triggered.
    const outcome = await CancellationScope.nonCancellable(() => compensate(cancelled, error));
    // Only the run that received the cancel can end as cancelled; the outcome says so either way.
    if (cancelled) throw err;
    return outcome;
  }
  progress.phase = 'done';
  return bookkeeping.finishChangeSet({ changeSetId, status: 'completed' });
}

/** The step a `ChangeSetStepFailed` names in its details. */
function stepOf(err: unknown): { step?: number } {
  for (const cause of causeChain(err)) {
    if (!(cause instanceof ApplicationFailure) || !Array.isArray(cause.details)) continue;
    const step = (cause.details[0] as { step?: unknown } | undefined)?.step;
    if (typeof step === 'number') return { step };
  }
  return {};
}
