import { formulaString, recordIdIn } from './formula';
import { chunk, type AirtableRecord, type AirtableRecords, type ListPageParams } from './records';

/** Listing pages hold at most this many records, so this many ids fit one `RECORD_ID()` read. */
export const READ_BATCH_SIZE = 100;

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
 *
 * With `readAhead`, the next page is requested before `onPage` handles the current one, so the
 * handler's own time (a database write, say) overlaps Airtable's answer instead of adding to it. A
 * reader that may stop after any page leaves it off: the page read ahead would be a wasted request.
 */
export async function readAllPages(
  records: AirtableRecords,
  table: string,
  params: Omit<ListPageParams, 'offset'>,
  onPage: (page: AirtableRecord[], checkpoint: ListingCheckpoint) => Promise<void> | void,
  from: ListingCheckpoint = { delivered: 0 },
  signal?: AbortSignal,
  options: { readAhead?: boolean } = {},
): Promise<ListingCheckpoint> {
  let checkpoint = { ...from };
  const request = (offset: string | undefined) => {
    signal?.throwIfAborted();
    return records.listPage(table, { ...params, offset });
  };
  let next = request(checkpoint.offset);
  do {
    const page = await next;
    checkpoint = { offset: page.offset, delivered: checkpoint.delivered + page.records.length };
    if (options.readAhead && checkpoint.offset) {
      next = request(checkpoint.offset);
      // Settled by the next round; when onPage throws first, nobody awaits it.
      next.catch(() => undefined);
      // The request is on its way (or waiting for its start) before this page's work takes the
      // event loop, so that work never delays its departure.
      await new Promise((resolve) => setImmediate(resolve));
      await onPage(page.records, checkpoint);
    } else {
      await onPage(page.records, checkpoint);
      if (checkpoint.offset) next = request(checkpoint.offset);
    }
  } while (checkpoint.offset);
  return checkpoint;
}

/** Every record a listing returns, over all its pages. */
export async function listAll(
  records: AirtableRecords,
  table: string,
  params: Omit<ListPageParams, 'offset'>,
): Promise<AirtableRecord[]> {
  const found: AirtableRecord[] = [];
  await readAllPages(records, table, params, (page) => {
    found.push(...page);
  });
  return found;
}

/** The current records with these ids (missing ones are absent from the map), one request per 100 ids. */
export async function readRecordsById(
  records: AirtableRecords,
  table: string,
  ids: string[],
  /** Only these fields (e.g. the primary field, to check existence cheaply). @default every field */
  fields?: string[],
): Promise<Map<string, AirtableRecord>> {
  const found = new Map<string, AirtableRecord>();
  for (const batch of chunk(ids, READ_BATCH_SIZE)) {
    const page = await listAll(records, table, {
      filterByFormula: recordIdIn(batch),
      ...(fields ? { fields } : {}),
    });
    for (const record of page) found.set(record.id, record);
  }
  return found;
}

/** Records of `table` created at or after `since` (by Airtable's `CREATED_TIME()`), with the given fields. */
export async function recordsCreatedSince(
  records: AirtableRecords,
  table: string,
  since: Date,
  fields: string[],
): Promise<AirtableRecord[]> {
  return listAll(records, table, {
    filterByFormula: `NOT(IS_BEFORE(CREATED_TIME(), DATETIME_PARSE(${formulaString(since.toISOString())})))`,
    ...(fields.length > 0 ? { fields } : {}),
  });
}
