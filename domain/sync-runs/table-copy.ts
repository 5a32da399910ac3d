import type { Pool } from 'pg';
import { AirtableApiError } from '../../airtable/errors';
import type { ListPageParams } from '../../airtable/records';
import { readAllPages, type ListingCheckpoint } from '../../airtable/streaming';
import { openWorkspaceBase, type ConnectionDeps } from '../workspaces/connection';
import { upsertSyncedRecords } from './store';

/** Airtable's answers for a listing cursor it no longer knows: the copy starts the table again. */
const EXPIRED_OFFSET_TYPES = new Set(['LIST_RECORDS_ITERATOR_NOT_AVAILABLE', 'INVALID_OFFSET_VALUE']);

/** One table of a sync run, and where an earlier attempt stopped. */
export interface TableCopyInput {
  workspaceId: string;
  tableId: string;
  syncRunId: string;
}

/** Options of {@link copyTable}. */
export interface TableCopyOptions {
  /** Where an earlier attempt stood (its last checkpoint); the copy resumes there. */
  from?: ListingCheckpoint;
  /** Called after each page is written, with the checkpoint to resume from. */
  onCheckpoint(checkpoint: ListingCheckpoint): void;
  /** Stops the copy between or inside requests. */
  signal?: AbortSignal;
  /** Called when the resume cursor had expired and the copy starts the table again. */
  onRestart?(): void;
  /** What to list. @default `{ pageSize: 100 }` (cells keyed by field name) */
  listing?: Omit<ListPageParams, 'offset'>;
}

/**
 * Copies one table into `synced_records`, page by page: each page is one statement (so nothing is
 * half-written) and an upsert (so a page written twice by a resumed copy changes nothing).
 */
export async function copyTable(
  deps: ConnectionDeps & { pool: Pool },
  input: TableCopyInput,
  options: TableCopyOptions,
): Promise<{ records: number; pages: number; resumedFrom: number }> {
  const { records } = await openWorkspaceBase(deps, input.workspaceId, options.signal);
  let from: ListingCheckpoint = options.from?.offset ? options.from : { delivered: 0 };
  let pages = 0;
  const copy = (start: ListingCheckpoint) =>
    readAllPages(
      records,
      input.tableId,
      options.listing ?? { pageSize: 100 },
      async (page, checkpoint) => {
        await upsertSyncedRecords(deps.pool, input, page);
        pages++;
        options.onCheckpoint(checkpoint);
      },
      start,
      options.signal,
      // A page's write overlaps the next page's request: the copy keeps pace with the pacer.
      { readAhead: true },
    );
  let done: ListingCheckpoint;
  try {
    done = await copy(from);
  } catch (err) {
    if (!(err instanceof AirtableApiError && EXPIRED_OFFSET_TYPES.has(err.type ?? '') && from.offset))
      throw err;
    options.onRestart?.();
    from = { delivered: 0 };
    done = await copy(from);
  }
  return { records: done.delivered, pages, resumedFrom: from.delivered };
}
