import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import * as journal from '../domain/change-sets/journal';
import type { ChangeSetOutcome, ChangeSetRow } from '../domain/change-sets/journal';
import * as workspaces from '../domain/workspaces/store';
import { PostgresPacer, type AirtablePacer } from '../airtable/pacing';
import { openWorkspaceBase } from '../domain/workspaces/connection';
import type { FieldTypes } from '../domain/change-sets/records-io';
import { applyChunks, IN_FLIGHT, inPipeline } from '../domain/change-sets/apply';
import type { JournalContext } from '../domain/change-sets/context';
import { undoChunk } from '../domain/change-sets/undo';
import { heartbeatWhile } from './heartbeat';

/** What the change-set activities need from the outside world. */
export interface ChangeSetActivityDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: { endpointUrl: string; requestTimeoutMs: number };
  /** @default a {@link PostgresPacer} on `pool` */
  pacer?: AirtablePacer;
}

/** What the workflow learns after each slice of work (never records or values: those stay in Postgres). */
export interface ChangeSetProgressReport {
  done: boolean;
  recordsApplied: number;
  stepsDone: number;
  recordsUndone: number;
  /** Chunks compensation could not undo. */
  stuck: number;
}

/** Failure types of the change-set activities. */
export const ChangeSetFailureType = {
  missing: 'ChangeSetMissing',
} as const;

/**
 * Activities of a change set. They read and write the journal in Postgres and Airtable, and hand
 * the workflow only counts: each call works for at most `budgetMs` and reports progress, so the
 * workflow's history grows with time spent, not with the number of records.
 */
export function createChangeSetActivities(deps: ChangeSetActivityDeps) {
  const { pool } = deps;
  const pacer = deps.pacer ?? new PostgresPacer(pool);

  async function load(changeSetId: string): Promise<ChangeSetRow> {
    const changeSet = await journal.getChangeSet(pool, changeSetId);
    if (!changeSet)
      throw ApplicationFailure.nonRetryable(
        `Change set ${changeSetId} does not exist`,
        ChangeSetFailureType.missing,
      );
    return changeSet;
  }

  async function open(changeSetId: string): Promise<JournalContext> {
    const changeSet = await load(changeSetId);
    // No cancellation signal: a request already sent is finished and journaled, not abandoned.
    const { records } = await openWorkspaceBase(deps, pacer, changeSet.workspaceId);
    const schema = await workspaces.getSchemaSnapshot(pool, changeSet.workspaceId);
    const info = Context.current().info;
    const writer = `${info.workflowExecution?.runId ?? info.activityId}/${info.activityId}/${info.attempt}`;
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
    /** The shape of the change set for the progress query: steps and record counts, no values. */
    async describeChangeSet(input: {
      changeSetId: string;
    }): Promise<{ steps: Array<{ table: string; action: string; records: number }>; recordsTotal: number }> {
      const changeSet = await load(input.changeSetId);
      return {
        steps: changeSet.steps.map((s) => ({ table: s.table, action: s.action, records: s.recordCount })),
        recordsTotal: changeSet.recordCount,
      };
    },

    /**
     * Applies chunks in journal order for up to `budgetMs`, then reports. Resumes wherever the
     * journal stands, so a retry after a crash continues rather than restarts. Cancellation is
     * honoured between requests, never in the middle of one.
     */
    async applyChangeSetChunks(input: {
      changeSetId: string;
      budgetMs: number;
    }): Promise<ChangeSetProgressReport> {
      const context = await open(input.changeSetId);
      const activity = Context.current();
      const deadline = Date.now() + input.budgetMs;
      const stop = () => activity.cancellationSignal.aborted || Date.now() >= deadline;
      await heartbeatWhile(async () => {
        while (!stop()) {
          const chunks = await journal.chunksToApply(pool, input.changeSetId, 50);
          if (chunks.length === 0) break;
          await applyChunks(context, chunks, stop);
        }
      }, 1_000);
      if (activity.cancellationSignal.aborted) throw new CancelledFailure('Change set cancelled');
      return report(input.changeSetId, 'apply');
    },

    /** Undoes applied chunks, last first, for up to `budgetMs`. Not cancellable: clean-up must finish. */
    async undoChangeSetChunks(input: {
      changeSetId: string;
      budgetMs: number;
    }): Promise<ChangeSetProgressReport> {
      const context = await open(input.changeSetId);
      const deadline = Date.now() + input.budgetMs;
      await heartbeatWhile(async () => {
        while (Date.now() < deadline) {
          const chunks = await journal.chunksToUndo(pool, input.changeSetId, 50);
          if (chunks.length === 0) return;
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
      }, 1_000);
      return report(input.changeSetId, 'undo');
    },

    /** Records how the change set ended (kept for the API), built from the journal. */
    async finishChangeSet(input: {
      changeSetId: string;
      status: ChangeSetOutcome['status'];
      error?: { step?: number; message: string };
    }): Promise<ChangeSetOutcome> {
      const changeSet = await load(input.changeSetId);
      const progress = await journal.journalProgress(pool, input.changeSetId);
      const idMap = await journal.recreatedIds(pool, input.changeSetId);
      const undone = await journal.stuckChunks(pool, input.changeSetId);
      const outcome: ChangeSetOutcome = {
        status: undone.length > 0 ? 'failed' : input.status,
        recordsApplied: progress.recordsApplied,
        recordsTotal: changeSet.recordCount,
        ...(Object.keys(idMap).length > 0 ? { idMap } : {}),
        ...(input.error ? { error: input.error } : {}),
        ...(undone.length > 0 ? { undone } : {}),
      };
      await journal.saveOutcome(pool, input.changeSetId, outcome);
      return outcome;
    },
  };
}

export type ChangeSetActivities = ReturnType<typeof createChangeSetActivities>;
