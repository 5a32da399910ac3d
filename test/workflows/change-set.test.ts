import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { ChangeSetActivities } from '../../activities/change-sets';
import type { JobActivities } from '../../activities/jobs';
import { FailureType } from '../../core/failures';
import type { ChangeSetOutcome, ChangeSetProgressReport } from '../../domain/change-sets/model';
import { applyChangeSet, type ApplyChangeSetInput } from '../../workflows/change-sets';
import {
  createTestContext,
  eventually,
  uniqueTaskQueue,
  withWorker,
  type TestContext,
} from '../support/helpers';

// The workflow's control flow with injected activities standing in for the journal: slices until
// done, continue-as-new, compensation after a refusal or a cancel, and a compensation that cannot finish.

interface FakeJournal {
  total: number;
  applied: number;
  undone: number;
  /** Refuse the slice that would pass this many applied records. */
  refuseAt?: number;
  /** Compensation marks this many records stuck. */
  stuckRecords?: number;
  /** Slow slices, to cancel during one. */
  sliceDelayMs?: number;
  /** From this many applied records on, a slice waits for a cancel and then fails with a 503. */
  failOnCancelAt?: number;
  calls: string[];
}

function fakeActivities(journal: FakeJournal): ChangeSetActivities & JobActivities {
  const report = (done: boolean): ChangeSetProgressReport => ({
    done,
    recordsApplied: journal.applied,
    stepsDone: journal.applied === journal.total ? 2 : journal.applied >= journal.total / 2 ? 1 : 0,
    recordsUndone: journal.undone,
    stuck: journal.stuckRecords ? 1 : 0,
  });
  return {
    async claimJob() {
      journal.calls.push('claim');
      return { abandoned: false };
    },
    async describeChangeSet() {
      journal.calls.push('describe');
      return {
        steps: [
          { table: 'Tasks', action: 'create', records: journal.total / 2 },
          { table: 'Tasks', action: 'delete', records: journal.total / 2 },
        ],
        recordsTotal: journal.total,
      };
    },
    async applyChangeSetChunks() {
      if (journal.failOnCancelAt !== undefined && journal.applied >= journal.failOnCancelAt) {
        const context = Context.current();
        const beat = setInterval(() => context.heartbeat(), 200);
        await context.cancelled.catch(() => clearInterval(beat));
        journal.calls.push('failed after cancel');
        throw ApplicationFailure.retryable('Airtable answered 503', 'AirtableServerError');
      }
      if (journal.sliceDelayMs) await new Promise((r) => setTimeout(r, journal.sliceDelayMs));
      const next = Math.min(journal.total, journal.applied + 10);
      if (journal.refuseAt !== undefined && next > journal.refuseAt) {
        journal.calls.push('refused');
        throw ApplicationFailure.nonRetryable(
          'Step 2 (delete Tasks), records 1–10: Airtable answered 422',
          FailureType.changeSetStepFailed,
          {
            step: 1,
            chunk: 0,
          },
        );
      }
      journal.applied = next;
      journal.calls.push(`apply→${next}`);
      return report(next === journal.total);
    },
    async undoChangeSetChunks() {
      const left = journal.applied - journal.undone - (journal.stuckRecords ?? 0);
      journal.undone += Math.min(10, left);
      journal.calls.push(`undo→${journal.undone}`);
      return report(journal.undone + (journal.stuckRecords ?? 0) >= journal.applied);
    },
    async finishChangeSet(input): Promise<ChangeSetOutcome> {
      journal.calls.push(`finish(${input.status})`);
      const undone = journal.stuckRecords
        ? [{ step: 0, chunk: 0, records: journal.stuckRecords, error: 'Airtable answered 403' }]
        : undefined;
      return {
        status: undone ? 'failed' : input.status,
        recordsApplied: journal.applied,
        recordsTotal: journal.total,
        ...(input.error ? { error: input.error } : {}),
        ...(undone ? { undone } : {}),
      };
    },
  };
}

describe('applyChangeSet workflow', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  async function run(journal: FakeJournal, input: Partial<ApplyChangeSetInput> = {}) {
    const taskQueue = uniqueTaskQueue('changeset-wf');
    return withWorker(ctx, { taskQueue, activities: fakeActivities(journal) }, async () => {
      const handle = await ctx.client.workflow.start(applyChangeSet, {
        taskQueue,
        workflowId: `changeset-${randomUUID()}`,
        args: [{ changeSetId: 'cs-1', workspaceId: 'ws-1', userId: 'u-1', ...input }],
      });
      const result = await handle.result().catch((err: unknown) => err);
      return { handle, result };
    });
  }

  it('applies slice after slice, continuing as new runs to keep each history short', async () => {
    const journal: FakeJournal = { total: 200, applied: 0, undone: 0, calls: [] };
    const { handle, result } = await run(journal, { historyLimit: 40 });
    expect(result).toEqual({ status: 'completed', recordsApplied: 200, recordsTotal: 200 });
    expect(journal.calls.filter((c) => c.startsWith('apply'))).toHaveLength(20);
    expect(journal.calls.at(-1)).toBe('finish(completed)');
    // Several runs, each under the limit (a slice is a handful of events).
    const description = await handle.describe();
    expect(description.raw.workflowExecutionInfo?.firstRunId).not.toBe(description.runId);
    const history = await handle.fetchHistory();
    expect(history.events!.length).toBeLessThan(60);
  });

  it('undoes what it applied after a refused step, and completes as compensated with the step', async () => {
    const journal: FakeJournal = { total: 40, applied: 0, undone: 0, refuseAt: 25, calls: [] };
    const { result } = await run(journal);
    expect(journal.calls).toEqual([
      'claim',
      'describe',
      'apply→10',
      'apply→20',
      'refused',
      'undo→10',
      'undo→20',
      'finish(compensated)',
    ]);
    expect(result).toMatchObject({
      status: 'compensated',
      error: { step: 1, message: expect.stringContaining('Airtable answered 422') },
    });
  });

  it('fails with what remains undone when compensation cannot finish', async () => {
    const journal: FakeJournal = {
      total: 40,
      applied: 0,
      undone: 0,
      refuseAt: 25,
      stuckRecords: 10,
      calls: [],
    };
    const { result } = await run(journal);
    expect(result).toBeInstanceOf(WorkflowFailedError);
    const cause = (result as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(FailureType.changeSetCompensationIncomplete);
    expect(cause.message).toContain('could not undo 10 record(s)');
    expect(cause.details?.[0]).toMatchObject({ status: 'failed', undone: [{ records: 10 }] });
  });

  /** Runs `check` once a change set has applied `applied` records and was cancelled, its worker still up. */
  async function cancelledAfter(
    journal: FakeJournal,
    applied: number,
    check: (handle: WorkflowHandle<typeof applyChangeSet>, progress: unknown) => Promise<void>,
  ) {
    const taskQueue = uniqueTaskQueue('changeset-cancel');
    await withWorker(ctx, { taskQueue, activities: fakeActivities(journal) }, async () => {
      const handle = await ctx.client.workflow.start(applyChangeSet, {
        taskQueue,
        workflowId: `changeset-${randomUUID()}`,
        args: [{ changeSetId: 'cs-2', workspaceId: 'ws-1', userId: 'u-1' }],
      });
      const progress = await eventually(async () => {
        const p = await handle.query<{ recordsApplied: number }>('progress');
        return p.recordsApplied >= applied ? p : undefined;
      });
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      await check(handle, progress);
    });
  }

  it('answers the progress query while running, and compensates then ends cancelled on cancel', async () => {
    const journal: FakeJournal = { total: 1000, applied: 0, undone: 0, sliceDelayMs: 100, calls: [] };
    await cancelledAfter(journal, 30, async (handle, progress) => {
      expect(progress).toMatchObject({ phase: 'applying', recordsTotal: 1000, stepsTotal: 2 });
      expect(journal.undone).toBe(journal.applied);
      expect(journal.calls.at(-1)).toBe('finish(cancelled)');
      const final = await handle.query<{ phase: string; recordsUndone: number }>('progress');
      expect(final).toMatchObject({ phase: 'done', recordsUndone: journal.applied });
    });
  });

  it('ends cancelled when the cancel meets a slice that fails for another reason', async () => {
    // The server stops retrying a failed attempt once a cancel is requested and reports that failure
    // (a 503 here) rather than a cancellation: the user still asked to cancel, and it is undone.
    const journal: FakeJournal = { total: 100, applied: 0, undone: 0, failOnCancelAt: 20, calls: [] };
    await cancelledAfter(journal, 20, async () => {
      expect(journal.calls.slice(-4)).toEqual([
        'failed after cancel',
        'undo→10',
        'undo→20',
        'finish(cancelled)',
      ]);
    });
  });
});
