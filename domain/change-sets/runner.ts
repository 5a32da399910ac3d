import type { Pool } from 'pg';
import { FailureType, platformFailure } from '../../core/failures';
import { openWorkspaceBase, type ConnectionDeps } from '../workspaces/connection';
import * as workspaces from '../workspaces/store';
import { applyChunks, IN_FLIGHT, inPipeline } from './apply';
import type { JournalContext } from './context';
import * as journal from './journal';
import type { ChangeSetRow } from './journal';
import type { ChangeSetOutcome, ChangeSetProgressReport, ChangeSetShape } from './model';
import type { FieldTypes } from './records-io';
import { undoChunk } from './undo';

/** What running a change set needs. */
export type ChangeSetRunnerDeps = ConnectionDeps & { pool: Pool };

/** One slice of work: who is writing (the fencing token), for how long, and when to stop early. */
export interface SliceOptions {
  /** This attempt's fencing token: a newer writer makes this one stop. */
  writer: string;
  /** The longest the slice works before it reports. */
  budgetMs: number;
  /** Stops the slice between requests (a request already sent is finished and journaled). */
  signal?: AbortSignal;
}

/**
 * Moves a change set's journal forward in slices of bounded time and reports counts only, so the
 * workflow's history grows with time spent, not with the number of records. Every slice resumes
 * wherever the journal stands: a retry after a crash continues rather than restarts.
 */
export function createChangeSetRunner(deps: ChangeSetRunnerDeps) {
  const { pool } = deps;

  async function load(changeSetId: string): Promise<ChangeSetRow> {
    const changeSet = await journal.getChangeSet(pool, changeSetId);
    if (!changeSet)
      throw platformFailure(FailureType.changeSetMissing, `Change set ${changeSetId} does not exist`);
    return changeSet;
  }

  async function open(changeSetId: string, writer: string): Promise<JournalContext> {
    const changeSet = await load(changeSetId);
    // No cancellation signal: a request already sent is finished and journaled, not abandoned.
    const { records } = await openWorkspaceBase(deps, changeSet.workspaceId);
    const schema = await workspaces.getSchemaSnapshot(pool, changeSet.workspaceId);
    await journal.claimWriter(pool, changeSetId, writer);
    const fieldTypes = new Map<string, FieldTypes>(
      (schema?.tables ?? []).map((t) => [t.id, new Map(t.fields.map((f) => [f.name, f]))]),
    );
    return {
      pool,
      changeSet,
      writer,
      records,
      fieldTypes: (tableId) => fieldTypes.get(tableId) ?? new Map(),
    };
  }

  /** Progress as the journal shows it; `done` once nothing is left to apply (or, undoing, to undo). */
  async function report(changeSetId: string, phase: 'apply' | 'undo'): Promise<ChangeSetProgressReport> {
    const p = await journal.journalProgress(pool, changeSetId);
    return {
      done: (phase === 'apply' ? p.pending : p.toUndo) === 0,
      recordsApplied: p.recordsApplied,
      stepsDone: p.stepsDone,
      recordsUndone: p.recordsUndone,
      stuck: p.stuck,
    };
  }

  return {
    /** The shape of the change set: steps and record counts, no values. */
    async describe(changeSetId: string): Promise<ChangeSetShape> {
      const changeSet = await load(changeSetId);
      return {
        steps: changeSet.steps.map((s) => ({ table: s.table, action: s.action, records: s.recordCount })),
        recordsTotal: changeSet.recordCount,
      };
    },

    /** Applies chunks in journal order until the budget is spent or the signal aborts. */
    async apply(changeSetId: string, slice: SliceOptions): Promise<ChangeSetProgressReport> {
      const context = await open(changeSetId, slice.writer);
      const deadline = Date.now() + slice.budgetMs;
      const stop = () => slice.signal?.aborted === true || Date.now() >= deadline;
      while (!stop()) {
        const chunks = await journal.chunksToApply(pool, changeSetId, 50);
        if (chunks.length === 0) break;
        await applyChunks(context, chunks, stop);
      }
      return report(changeSetId, 'apply');
    },

    /** Undoes applied chunks, last first, until the budget is spent. Not stoppable: clean-up must finish. */
    async undo(changeSetId: string, slice: Omit<SliceOptions, 'signal'>): Promise<ChangeSetProgressReport> {
      const context = await open(changeSetId, slice.writer);
      const deadline = Date.now() + slice.budgetMs;
      while (Date.now() < deadline) {
        const chunks = await journal.chunksToUndo(pool, changeSetId, 50);
        if (chunks.length === 0) break;
        // Chunks of one step are independent, except recreations: a recreated record's links
        // depend on which others are back already, so those go one at a time.
        const sameStep = chunks.filter((c) => c.step === chunks[0]!.step);
        const parallel = context.changeSet.steps[chunks[0]!.step]!.action === 'delete' ? 1 : IN_FLIGHT;
        await inPipeline(
          sameStep,
          () => Date.now() >= deadline,
          (chunk) => undoChunk(context, chunk),
          parallel,
        );
      }
      return report(changeSetId, 'undo');
    },

    /** Records how the change set ended (kept for the API), built from the journal. */
    async finish(
      changeSetId: string,
      status: ChangeSetOutcome['status'],
      error?: ChangeSetOutcome['error'],
    ): Promise<ChangeSetOutcome> {
      const changeSet = await load(changeSetId);
      const progress = await journal.journalProgress(pool, changeSetId);
      const idMap = await journal.recreatedIds(pool, changeSetId);
      const undone = await journal.stuckChunks(pool, changeSetId);
      const outcome: ChangeSetOutcome = {
        status: undone.length > 0 ? 'failed' : status,
        recordsApplied: progress.recordsApplied,
        recordsTotal: changeSet.recordCount,
        ...(Object.keys(idMap).length > 0 ? { idMap } : {}),
        ...(error ? { error } : {}),
        ...(undone.length > 0 ? { undone } : {}),
      };
      await journal.saveOutcome(pool, changeSetId, outcome);
      return outcome;
    },
  };
}

export type ChangeSetRunner = ReturnType<typeof createChangeSetRunner>;
