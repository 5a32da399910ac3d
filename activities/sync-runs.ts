import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ListingCheckpoint } from '../airtable/streaming';
import { copyTable, type TableCopyInput } from '../domain/sync-runs/table-copy';
import type { ConnectionDeps } from '../domain/workspaces/connection';
import { classify } from './classify';

/** What the sync-run activities need. */
export type SyncRunActivityDeps = ConnectionDeps;

/** Activities of a sync run: copying a base's tables into Postgres. */
export function createSyncRunActivities(deps: SyncRunActivityDeps) {
  return {
    /**
     * Copies one table, heartbeating the listing checkpoint after each page it writes; a retry after a
     * crash resumes from the last heartbeat's checkpoint instead of page one. A cancel stops it.
     */
    async copyTableToPostgres(
      input: TableCopyInput,
    ): Promise<{ records: number; pages: number; resumedFrom: number }> {
      const context = Context.current();
      const signal = context.cancellationSignal;
      try {
        return await copyTable(deps, input, {
          from: context.info.heartbeatDetails as ListingCheckpoint | undefined,
          onCheckpoint: (checkpoint) => context.heartbeat(checkpoint),
          signal,
          onRestart: () =>
            context.log.warn('listing cursor expired; copying the table from the start', {
              tableId: input.tableId,
            }),
        });
      } catch (err) {
        if (signal.aborted) throw new CancelledFailure(`Copy of ${input.tableId} cancelled`);
        throw classify(err, `Copying table ${input.tableId}`);
      }
    },
  };
}

export type SyncRunActivities = ReturnType<typeof createSyncRunActivities>;
