import type { Pool } from 'pg';
import { AirtableApiError } from '../../airtable/errors';
import { recordIdPartitions } from '../../airtable/formula';
import type { AirtableRecord, ListPageParams } from '../../airtable/records';
import { readPartitions, type ListingCheckpoint, type PartitionedCheckpoint } from '../../airtable/streaming';
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

/**
 * Where a copy stands: one listing checkpoint per part of the table. (A single
 * {@link ListingCheckpoint} is what copies heartbeated before tables were read in parts; such a
 * copy resumes as one listing.)
 */
export type TableCopyCheckpoint = PartitionedCheckpoint | ListingCheckpoint;

/** Options of {@link copyTable}. */
export interface TableCopyOptions {
  /** Where an earlier attempt stood (its last checkpoint); the copy resumes there. */
  from?: TableCopyCheckpoint;
  /** Called after each page is written, with the checkpoint to resume from. */
  onCheckpoint(checkpoint: TableCopyCheckpoint): void;
  /** Stops the copy between or inside requests. */
  signal?: AbortSignal;
  /** Called when the resume cursor had expired and the copy starts the table again. */
  onRestart?(): void;
  /** What to list. @default `{ pageSize: 100 }` (cells keyed by field name) */
  listing?: Omit<ListPageParams, 'offset'>;
  /** Listings read at once, each over its part of the records. @default {@link COPY_PARTS} */
  parts?: number;
}

/**
 * Parts a table is read in at once. One listing waits for each answer before its next request;
 * two keep a request waiting for its start while the other is on the wire, so the copy runs at the
 * pacer's rate. More would only add a partly filled last page each.
 */
export const COPY_PARTS = 2;

/**
 * Copies one table into `synced_records`, page by page: each page is one statement (so nothing is
 * half-written) and an upsert (so a page written twice by a resumed copy changes nothing). The
 * table is read as {@link COPY_PARTS} listings at once, split by record id; a server that refuses
 * the split's formula gets one listing instead.
 */
export async function copyTable(
  deps: ConnectionDeps & { pool: Pool },
  input: TableCopyInput,
  options: TableCopyOptions,
): Promise<{ records: number; pages: number; resumedFrom: number }> {
  const { records } = await openWorkspaceBase(deps, input.workspaceId, options.signal);
  const listing = options.listing ?? { pageSize: 100 };
  let pages = 0;
  const write = async (page: AirtableRecord[]) => {
    await upsertSyncedRecords(deps.pool, input, page);
    pages++;
  };
  const copy = async (parts: number, from?: PartitionedCheckpoint) => {
    const done = await readPartitions(
      records,
      input.tableId,
      listing,
      recordIdPartitions(parts),
      { onPage: write, onCheckpoint: options.onCheckpoint },
      from,
      options.signal,
    );
    return delivered(done);
  };

  const from = options.from;
  let resumedFrom = from ? ('parts' in from ? delivered(from) : from.delivered) : 0;
  const restarting = {
    onRestart: () => {
      resumedFrom = 0;
      options.onRestart?.();
    },
  };
  // A copy checkpointed as one listing resumes as one listing.
  if (from && !('parts' in from) && from.offset) {
    const done = await withRestart(
      () => copy(1, { parts: [from] }),
      restarting,
      () => copy(1),
    );
    return { records: done, pages, resumedFrom };
  }
  const resume = from && 'parts' in from ? from : undefined;
  const parts = resume?.parts.length ?? options.parts ?? COPY_PARTS;
  if (!resume) resumedFrom = 0;
  try {
    const done = await withRestart(
      () => copy(parts, resume),
      resume ? restarting : undefined,
      () => copy(parts),
    );
    return { records: done, pages, resumedFrom };
  } catch (err) {
    if (!(parts > 1 && err instanceof AirtableApiError && err.type === 'INVALID_FILTER_BY_FORMULA'))
      throw err;
    // A server that cannot evaluate the split: one listing (pages already written are upserted again).
    return { records: await copy(1), pages, resumedFrom: 0 };
  }
}

/** Records delivered by every part. */
function delivered(checkpoint: PartitionedCheckpoint): number {
  return checkpoint.parts.reduce((sum, part) => sum + part.delivered, 0);
}

/**
 * Runs `resume`; when it fails because Airtable no longer knows a resumed cursor, says so through
 * `resuming` and starts over (no `resuming`: nothing was resumed, nothing to start over).
 */
async function withRestart(
  resume: () => Promise<number>,
  resuming: { onRestart(): void } | undefined,
  restart: () => Promise<number>,
): Promise<number> {
  try {
    return await resume();
  } catch (err) {
    if (!(resuming && err instanceof AirtableApiError && EXPIRED_OFFSET_TYPES.has(err.type ?? ''))) throw err;
    resuming.onRestart();
    return restart();
  }
}
