import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import { upsertSyncedRecords } from '../domain/sync-runs/store';
import { AirtableApiError, toAirtableFailure } from '../airtable/errors';
import { PostgresPacer, type AirtablePacer } from '../airtable/pacing';
import { readAllPages, type ListingCheckpoint } from '../airtable/streaming';
import { openWorkspaceBase } from '../domain/workspaces/connection';

/** What the sync-run activities need. */
export interface SyncRunActivityDeps {
  pool: Pool;
  encryptionKey: Buffer;
  airtable: { endpointUrl: string; requestTimeoutMs: number };
  /** @default a {@link PostgresPacer} on `pool` */
  pacer?: AirtablePacer;
}

/** Airtable's answers for a listing cursor it no longer knows: the copy starts the table again. */
const EXPIRED_OFFSET_TYPES = new Set(['LIST_RECORDS_ITERATOR_NOT_AVAILABLE', 'INVALID_OFFSET_VALUE']);

/** Activities of a sync run: copying a base's tables into Postgres. */
export function createSyncRunActivities(deps: SyncRunActivityDeps) {
  const pacer = deps.pacer ?? new PostgresPacer(deps.pool);
  return {
    /**
     * Copies one table into `synced_records`, page by page. After each page is written it
     * heartbeats the listing checkpoint; a retry after a crash resumes from the last heartbeat's
     * offset instead of page one (pages are upserts, so one written twice changes nothing). A cancel
     * stops it between or inside requests: nothing is half-written, since each page is one statement.
     */
    async copyTableToPostgres(input: {
      workspaceId: string;
      tableId: string;
      syncRunId: string;
    }): Promise<{ records: number; pages: number; resumedFrom: number }> {
      const context = Context.current();
      const signal = context.cancellationSignal;
      const { records } = await openWorkspaceBase(deps, pacer, input.workspaceId, signal);
      const resumed = context.info.heartbeatDetails as ListingCheckpoint | undefined;
      let from: ListingCheckpoint = resumed?.offset ? resumed : { delivered: 0 };
      let pages = 0;
      const copy = (start: ListingCheckpoint) =>
        readAllPages(
          records,
          input.tableId,
          { pageSize: 100 },
          async (page, checkpoint) => {
            await upsertSyncedRecords(deps.pool, input, page);
            pages++;
            context.heartbeat(checkpoint);
          },
          start,
          signal,
        );
      try {
        let done: ListingCheckpoint;
        try {
          done = await copy(from);
        } catch (err) {
          if (!(err instanceof AirtableApiError && EXPIRED_OFFSET_TYPES.has(err.type ?? '') && from.offset))
            throw err;
          context.log.warn('listing cursor expired; copying the table from the start', {
            tableId: input.tableId,
          });
          from = { delivered: 0 };
          done = await copy(from);
        }
        return { records: done.delivered, pages, resumedFrom: from.delivered };
      } catch (err) {
        if (signal.aborted) throw new CancelledFailure(`Copy of ${input.tableId} cancelled`);
        throw toAirtableFailure(err, `Copying table ${input.tableId}`);
      }
    },
  };
}

export type SyncRunActivities = ReturnType<typeof createSyncRunActivities>;
