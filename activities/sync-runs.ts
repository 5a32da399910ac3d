import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { FullSyncReason } from '../domain/sync-runs/model';
import {
  applyFullRun,
  applyIncrementalRun,
  beginRun,
  copyRunTable,
  endRun,
  prepareFullRun,
  removeWorkspaceMirror,
  type RunRef,
} from '../domain/sync-runs/run';
import { copyTable, type TableCopyCheckpoint, type TableCopyInput } from '../domain/sync-runs/table-copy';
import type { ConnectionDeps } from '../domain/workspaces/connection';
import { classify } from './classify';
import { heartbeatWhile } from './heartbeat';

/** What the sync-run activities need. */
export type SyncRunActivityDeps = ConnectionDeps;

/** Activities of a sync run: Temporal's side of the steps in domain/sync-runs/run.ts. */
export function createSyncRunActivities(deps: SyncRunActivityDeps) {
  /** A step that may wait on Airtable or Postgres: heartbeats meanwhile, cancellable, failures classified. */
  async function step<T>(doing: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = Context.current().cancellationSignal;
    try {
      return await heartbeatWhile(() => work(signal), 2_000);
    } catch (err) {
      if (signal.aborted) throw new CancelledFailure(`${doing}: cancelled`);
      throw classify(err, doing);
    }
  }

  /** Copies a table page by page, heartbeating each page's checkpoint; a retry resumes from the last one. */
  async function copyWithCheckpoints(
    tableId: string,
    copy: (options: {
      from?: TableCopyCheckpoint;
      onCheckpoint(checkpoint: TableCopyCheckpoint): void;
      onRestart(): void;
      signal: AbortSignal;
    }) => Promise<{ records: number; pages: number; resumedFrom: number }>,
  ): Promise<{ records: number; pages: number; resumedFrom: number }> {
    const context = Context.current();
    const signal = context.cancellationSignal;
    let last = context.info.heartbeatDetails as TableCopyCheckpoint | undefined;
    // The last checkpoint again while a page waits for its turn (pacing), so only a dead worker misses
    // a heartbeat; the SDK sends the newest details at most every 0.8 × the heartbeat timeout.
    const timer = setInterval(() => context.heartbeat(last), 2_000);
    try {
      return await copy({
        from: last,
        onCheckpoint: (checkpoint) => {
          last = checkpoint;
          context.heartbeat(checkpoint);
        },
        signal,
        onRestart: () =>
          context.log.warn('listing cursor expired; copying the table from the start', { tableId }),
      });
    } catch (err) {
      if (signal.aborted) throw new CancelledFailure(`Copy of ${tableId} cancelled`);
      throw classify(err, `Copying table ${tableId}`);
    } finally {
      clearInterval(timer);
    }
  }

  return {
    /**
     * Copies one table, heartbeating the listing checkpoint after each page it writes; a retry after a
     * crash resumes from the last heartbeat's checkpoint instead of page one. A cancel stops it.
     */
    async copyTableToPostgres(
      input: TableCopyInput,
    ): Promise<{ records: number; pages: number; resumedFrom: number }> {
      return copyWithCheckpoints(input.tableId, (options) => copyTable(deps, input, options));
    },

    /** Records the run's job and decides full or incremental. */
    async beginSyncRun(ref: RunRef) {
      return beginRun(deps, ref);
    },

    /** A full run's webhook and schema, before its copy. */
    async prepareFullSyncRun(input: { ref: RunRef; reason: FullSyncReason }) {
      return step(`Preparing a full sync of workspace ${input.ref.workspaceId}`, (signal) =>
        prepareFullRun(deps, input.ref, input.reason, signal),
      );
    },

    /** One table of the run into staging, resumable from its last page. */
    async copySyncTable(input: { ref: RunRef; tableId: string }) {
      return copyWithCheckpoints(input.tableId, (options) =>
        copyRunTable(deps, input.ref, input.tableId, options),
      );
    },

    /** A full run's one transaction. */
    async applyFullSyncRun(ref: RunRef) {
      return step(`Applying the full sync of workspace ${ref.workspaceId}`, () => applyFullRun(deps, ref));
    },

    /** An incremental run: the webhook's payloads, applied in one transaction. */
    async applyIncrementalSyncRun(input: { ref: RunRef; copied: string[] }) {
      return step(`Applying changes to the mirror of workspace ${input.ref.workspaceId}`, (signal) =>
        applyIncrementalRun(deps, input.ref, input.copied, { signal }),
      );
    },

    /** Records a run that failed, was cancelled or skipped. */
    async endSyncRun(input: { jobId: string; status: 'failed' | 'cancelled' | 'skipped'; error?: string }) {
      await endRun(deps, input.jobId, input);
    },

    /** Deprovisioning: the workspace's webhooks (best effort), mirror schema and reader role. */
    async dropWorkspaceMirror(input: { workspaceId: string }): Promise<{ webhooksDeleted: number }> {
      const context = Context.current();
      return heartbeatWhile(
        () =>
          removeWorkspaceMirror(deps, input.workspaceId, {
            signal: context.cancellationSignal,
            onWarning: (message, err) =>
              context.log.warn(message, { workspaceId: input.workspaceId, error: String(err) }),
          }),
        2_000,
      );
    },
  };
}

export type SyncRunActivities = ReturnType<typeof createSyncRunActivities>;
