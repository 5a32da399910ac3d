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
    // A page read ahead before a stop arrives is left unhandled.
    signal?.throwIfAborted();
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

/** Where a listing read as several parts at once stands: one checkpoint per part. */
export interface PartitionedCheckpoint {
  parts: Array<ListingCheckpoint & { done?: boolean }>;
}

/**
 * Reads a table as several listings at once, one per formula of `partitions` (sets of records that
 * are disjoint and together the whole table, see recordIdPartitions). Each listing is sequential
 * (its next cursor comes with its last page), so with one listing a request can only leave once the
 * previous one answered; with two, one request's time on the wire overlaps the other's and the
 * pacer, not Airtable's latency, sets the pace. `onPage` may be called by two listings at once;
 * `onCheckpoint` follows each page once `onPage` has finished with it. A failure of one listing
 * stops the others and is thrown once all have stopped.
 */
export async function readPartitions(
  records: AirtableRecords,
  table: string,
  params: Omit<ListPageParams, 'offset'>,
  partitions: Array<string | undefined>,
  handlers: {
    onPage(page: AirtableRecord[]): Promise<void> | void;
    onCheckpoint(checkpoint: PartitionedCheckpoint): void;
  },
  from?: PartitionedCheckpoint,
  signal?: AbortSignal,
): Promise<PartitionedCheckpoint> {
  if (from && from.parts.length !== partitions.length)
    throw new RangeError(`A checkpoint of ${from.parts.length} parts cannot resume ${partitions.length}`);
  const parts = partitions.map((_, i) => ({ ...(from?.parts[i] ?? { delivered: 0 }) }));
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const outcomes = await Promise.allSettled(
    partitions.map(async (formula, i) => {
      if (parts[i]!.done) return;
      const filterByFormula =
        formula && params.filterByFormula
          ? `AND(${params.filterByFormula}, ${formula})`
          : (formula ?? params.filterByFormula);
      try {
        await readAllPages(
          records,
          table,
          { ...params, ...(filterByFormula ? { filterByFormula } : {}) },
          async (page, checkpoint) => {
            await handlers.onPage(page);
            parts[i] = { ...checkpoint, ...(checkpoint.offset ? {} : { done: true }) };
            handlers.onCheckpoint({ parts: parts.map((part) => ({ ...part })) });
          },
          parts[i],
          stopped,
          { readAhead: true },
        );
      } catch (err) {
        stop.abort(err);
        throw err;
      }
    }),
  );
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw stop.signal.reason ?? failed.reason;
  return { parts };
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
