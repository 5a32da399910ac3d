import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ChangeSetOutcome, ChangeSetProgressReport, ChangeSetShape } from '../domain/change-sets/model';
import { createChangeSetRunner, type ChangeSetRunnerDeps } from '../domain/change-sets/runner';
import { classify } from './classify';
import { heartbeatWhile } from './heartbeat';

/** What the change-set activities need. */
export type ChangeSetActivityDeps = ChangeSetRunnerDeps;

/** This attempt's fencing token: a later attempt of the same activity (or a new run) replaces it. */
function writerOfThisAttempt(): string {
  const info = Context.current().info;
  return `${info.workflowExecution?.runId ?? info.activityId}/${info.activityId}/${info.attempt}`;
}

/**
 * Activities of a change set: Temporal's side of {@link createChangeSetRunner}. They heartbeat while
 * a slice runs (a dead worker is noticed within the heartbeat timeout), turn a cancel into
 * `CancelledFailure` and classify Airtable errors for retries.
 */
export function createChangeSetActivities(deps: ChangeSetActivityDeps) {
  const runner = createChangeSetRunner(deps);
  return {
    async describeChangeSet(input: { changeSetId: string }): Promise<ChangeSetShape> {
      return runner.describe(input.changeSetId);
    },

    /**
     * Applies chunks in journal order for up to `budgetMs`, then reports. Cancellation is honoured
     * between requests, never in the middle of one.
     */
    async applyChangeSetChunks(input: {
      changeSetId: string;
      budgetMs: number;
    }): Promise<ChangeSetProgressReport> {
      const signal = Context.current().cancellationSignal;
      const writer = writerOfThisAttempt();
      const report = await heartbeatWhile(
        () => runner.apply(input.changeSetId, { writer, budgetMs: input.budgetMs, signal }),
        1_000,
      ).catch((err: unknown) => {
        throw classify(err, `Applying change set ${input.changeSetId}`);
      });
      if (signal.aborted) throw new CancelledFailure('Change set cancelled');
      return report;
    },

    /** Undoes applied chunks, last first, for up to `budgetMs`. Not cancellable: clean-up must finish. */
    async undoChangeSetChunks(input: {
      changeSetId: string;
      budgetMs: number;
    }): Promise<ChangeSetProgressReport> {
      const writer = writerOfThisAttempt();
      return heartbeatWhile(
        () => runner.undo(input.changeSetId, { writer, budgetMs: input.budgetMs }),
        1_000,
      ).catch((err: unknown) => {
        throw classify(err, `Undoing change set ${input.changeSetId}`);
      });
    },

    /** Records how the change set ended (kept for the API), built from the journal. */
    async finishChangeSet(input: {
      changeSetId: string;
      status: ChangeSetOutcome['status'];
      error?: ChangeSetOutcome['error'];
    }): Promise<ChangeSetOutcome> {
      return runner.finish(input.changeSetId, input.status, input.error);
    },
  };
}

export type ChangeSetActivities = ReturnType<typeof createChangeSetActivities>;
