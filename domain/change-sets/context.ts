import type { Pool } from 'pg';
import type { ChangeSetRow, ChunkRow } from './journal';
import type { StoredStep } from './model';
import type { AirtableRecords } from '../../airtable/records';
import type { FieldTypes } from './records-io';

/** Everything one activity attempt needs to move a change set's journal forward. */
export interface JournalContext {
  pool: Pool;
  changeSet: ChangeSetRow;
  /** This attempt's fencing token (see `change_sets.writer`). */
  writer: string;
  records: AirtableRecords;
  /** Field schemas of a table by id, from the workspace's schema snapshot. */
  fieldTypes(tableId: string): FieldTypes;
}

/** The journal key of a chunk, fenced by the writer. */
export function chunkKey(context: JournalContext, chunk: Pick<ChunkRow, 'step' | 'chunk'>) {
  return { id: context.changeSet.id, writer: context.writer, step: chunk.step, chunk: chunk.chunk };
}

/** "Step 2 (update Tasks), records 11–20" for messages (1-based, as people count). */
export function describeChunk(step: StoredStep, chunk: ChunkRow): string {
  const first = chunk.chunk * 10 + 1;
  return `Step ${chunk.step + 1} (${step.action} ${step.table}), records ${first}–${first + chunk.records.length - 1}`;
}
