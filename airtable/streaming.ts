import type { AirtableRecord, AirtableRecords, ListPageParams } from './records';

/** Where a listing stands: enough to resume it after a crash. */
export interface ListingCheckpoint {
  /** Cursor of the next page; undefined before the first page. */
  offset?: string;
  /** Records delivered so far. */
  delivered: number;
}

/**
 * Reads a table page by page, calling `onPage` with each page and the checkpoint after it. An
 * activity passes the checkpoint to `heartbeat`, and on a retry starts from the last heartbeat's
 * checkpoint instead of page one. Stops early when `signal` aborts.
 */
export async function readAllPages(
  records: AirtableRecords,
  table: string,
  params: Omit<ListPageParams, 'offset'>,
  onPage: (page: AirtableRecord[], checkpoint: ListingCheckpoint) => Promise<void> | void,
  from: ListingCheckpoint = { delivered: 0 },
  signal?: AbortSignal,
): Promise<ListingCheckpoint> {
  let checkpoint = { ...from };
  do {
    signal?.throwIfAborted();
    const page = await records.listPage(table, { ...params, offset: checkpoint.offset });
    checkpoint = { offset: page.offset, delivered: checkpoint.delivered + page.records.length };
    await onPage(page.records, checkpoint);
  } while (checkpoint.offset);
  return checkpoint;
}
