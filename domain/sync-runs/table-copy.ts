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

  // A copy checkpointed as one listing (before tables were read in parts) resumes as one listing.
  const from = options.from;
  const resume = from && ('parts' in from ? from : from.offset ? { parts: [from] } : undefined);
  const parts = resume?.parts.length ?? options.parts ?? COPY_PARTS;
  // A server that cannot evaluate the split gets one listing (pages already written are upserted again).
  const splitRefused = (err: unknown) =>
    parts > 1 && err instanceof AirtableApiError && err.type === 'INVALID_FILTER_BY_FORMULA';
  const fromStart = (): Promise<number> =>
    copy(parts).catch((err: unknown) => {
      if (splitRefused(err)) return copy(1);
      throw err;
    });
  if (!resume) return { records: await fromStart(), pages, resumedFrom: 0 };
  try {
    return { records: await copy(parts, resume), pages, resumedFrom: delivered(resume) };
  } catch (err) {
    if (splitRefused(err)) return { records: await copy(1), pages, resumedFrom: 0 };
    if (!(err instanceof AirtableApiError && EXPIRED_OFFSET_TYPES.has(err.type ?? ''))) throw err;
    options.onRestart?.();
    return { records: await fromStart(), pages, resumedFrom: 0 };
  }
}

/** Records delivered by every part. */
function delivered(checkpoint: PartitionedCheckpoint): number {
  return checkpoint.parts.reduce((sum, part) => sum + part.delivered, 0);
}
