import type { UndoneRequest } from '../../core/failures';

// The change-set model: what users submit, what validation makes of it, what the journal keeps and
// how a change set ends. Types only (plus limits), so workflows may import it.

/** What a step does to its records. */
export type ChangeSetAction = 'create' | 'update' | 'upsert' | 'delete';

/** A record of a submitted step: `{fields}` to create or upsert, `{id, fields}` to update, `{id}` to delete. */
export interface ChangeSetRecordInput {
  id?: string;
  fields?: Record<string, unknown>;
}

/** One step of a change set as users submit it (`POST /api/v1/workspaces/:id/changes`). */
export interface ChangeSetStepInput {
  /** Table name or id. */
  table: string;
  action: ChangeSetAction;
  records: ChangeSetRecordInput[];
  /** Upserts only: 1–3 fields that identify a record. */
  fieldsToMergeOn?: string[];
  /** Let Airtable convert values (and create select options). @default false */
  typecast?: boolean;
}

/** A step after validation: the table and fields resolved, record fields keyed by field name. */
export interface PlannedStep {
  table: string;
  tableId: string;
  action: ChangeSetAction;
  typecast: boolean;
  fieldsToMergeOn?: string[];
  records: Array<{ id?: string; fields?: Record<string, unknown> }>;
}

/** A step as the journal keeps it: everything but the records, which live in its chunks. */
export interface StoredStep {
  table: string;
  tableId: string;
  action: ChangeSetAction;
  typecast: boolean;
  fieldsToMergeOn?: string[];
  recordCount: number;
}

/** What is wrong with a submitted change set, for programs (the message is for people). */
export type ChangeSetIssueCode =
  | 'empty_change_set'
  | 'too_many_steps'
  | 'too_many_records'
  | 'unknown_table'
  | 'empty_step'
  | 'invalid_merge_fields'
  | 'unknown_merge_field'
  | 'unmergeable_field'
  | 'unexpected_merge_fields'
  | 'invalid_record_id'
  | 'duplicate_record'
  | 'record_deleted_earlier'
  | 'unexpected_record_id'
  | 'unexpected_fields'
  | 'empty_update'
  | 'unknown_field'
  | 'duplicate_field'
  | 'computed_field'
  | 'invalid_value'
  | 'link_deleted_earlier'
  | 'missing_merge_value'
  | 'record_not_found'
  | 'linked_record_not_found';

/** Issues that a schema read since the snapshot might resolve (a table or field added in Airtable). */
export const SCHEMA_ISSUE_CODES: ReadonlySet<ChangeSetIssueCode> = new Set([
  'unknown_table',
  'unknown_field',
  'unknown_merge_field',
]);

/** One problem with a submitted change set, naming where it is. */
export interface ChangeSetIssue {
  code: ChangeSetIssueCode;
  /** Index of the step in `steps` (0-based, as in the request). */
  step: number;
  /** Index of the record in the step's `records`. */
  record?: number;
  recordId?: string;
  field?: string;
  message: string;
}

/** A record id the plan relies on: it must exist in `tableId` before anything is written. */
export interface RecordReference {
  tableId: string;
  recordId: string;
  step: number;
  record: number;
  /** The link field naming it, when the id is a link value rather than the record to change. */
  field?: string;
}

/** Size limits of one change set. */
export const CHANGE_SET_LIMITS = {
  /** @default 100 */
  maxSteps: 100,
  /** @default 10000 */
  maxRecords: 10_000,
  /** Airtable's own limit on `fieldsToMergeOn`. @default 3 */
  maxMergeFields: 3,
} as const;

/** Records per journal chunk: Airtable's batch size, so one chunk is one request. */
export const CHUNK_SIZE = 10;

/** How a change set ended, kept for the API (the workflow result holds the same). */
export interface ChangeSetOutcome {
  status: 'completed' | 'compensated' | 'cancelled' | 'failed';
  recordsApplied: number;
  recordsTotal: number;
  /** Deleted records recreated by compensation: old id → new id. */
  idMap?: Record<string, string>;
  error?: { step?: number; message: string };
  /** What compensation could not undo. */
  undone?: UndoneRequest[];
}

/** What the workflow learns after each slice of work (never records or values: those stay in Postgres). */
export interface ChangeSetProgressReport {
  /** Nothing is left to apply (or, compensating, to undo). */
  done: boolean;
  recordsApplied: number;
  stepsDone: number;
  recordsUndone: number;
  /** Chunks compensation could not undo. */
  stuck: number;
}

/** The shape of a change set for the progress query: steps and record counts, no values. */
export interface ChangeSetShape {
  steps: Array<{ table: string; action: ChangeSetAction; records: number }>;
  recordsTotal: number;
}
