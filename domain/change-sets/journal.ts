import type { Pool, PoolClient } from 'pg';

import { FailureType, platformFailure, type UndoneRequest } from '../../core/failures';
import { CHUNK_SIZE, type ChangeSetOutcome, type PlannedStep, type StoredStep } from './model';

// The change-set journal in Postgres: one row per change set, one per request (chunk) of ≤ 10
// records, each bracketed by what is known of its outcome. See docs/change-sets.md.

type Queryable = Pool | PoolClient;

export interface ChangeSetRow {
  id: string;
  workspaceId: string;
  baseId: string;
  steps: StoredStep[];
  recordCount: number;
  outcome: ChangeSetOutcome | null;
}

export type ChunkState = 'pending' | 'sending' | 'applied' | 'rejected';
export type UndoState = 'none' | 'undoing' | 'undone' | 'stuck';

/** One request's worth of a step (≤ 10 records) and what is known about its outcome. */
export interface ChunkRow {
  step: number;
  chunk: number;
  records: Array<{ id?: string; fields?: Record<string, unknown> }>;
  state: ChunkState;
  sends: number;
  sentAt: Date | null;
  before: Record<string, Record<string, unknown>> | null;
  createdIds: string[] | null;
  updatedIds: string[] | null;
  undoState: UndoState;
  undoSentAt: Date | null;
  recreated: Record<string, string> | null;
}

const CHUNK_COLUMNS = `step, chunk, records, state, sends, sent_at AS "sentAt", before, created_ids AS "createdIds",
  updated_ids AS "updatedIds", undo_state AS "undoState", undo_sent_at AS "undoSentAt", recreated`;

/** Records a validated change set and its journal (every chunk `pending`), in the caller's transaction. */
export async function insertChangeSet(
  db: Queryable,
  input: { id: string; workspaceId: string; baseId: string; plan: PlannedStep[] },
): Promise<void> {
  const steps: StoredStep[] = input.plan.map(({ records, ...step }) => ({
    ...step,
    recordCount: records.length,
  }));
  const recordCount = steps.reduce((n, s) => n + s.recordCount, 0);
  await db.query(
    `INSERT INTO change_sets (id, workspace_id, base_id, steps, record_count) VALUES ($1, $2, $3, $4, $5)`,
    [input.id, input.workspaceId, input.baseId, JSON.stringify(steps), recordCount],
  );
  const chunks = input.plan.flatMap((step, stepIndex) =>
    Array.from({ length: Math.ceil(step.records.length / CHUNK_SIZE) }, (_, i) => ({
      step: stepIndex,
      chunk: i,
      records: step.records.slice(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE),
    })),
  );
  // One statement for the whole journal: a 10,000-record set is 1,000 rows.
  await db.query(
    `INSERT INTO change_set_chunks (change_set_id, base_id, step, chunk, records)
     SELECT $1, $2, c.step, c.chunk, c.records FROM jsonb_to_recordset($3::jsonb) AS c(step int, chunk int, records jsonb)`,
    [input.id, input.baseId, JSON.stringify(chunks)],
  );
}

export async function getChangeSet(db: Queryable, id: string): Promise<ChangeSetRow | undefined> {
  const { rows } = await db.query<ChangeSetRow>(
    `SELECT id, workspace_id AS "workspaceId", base_id AS "baseId", steps, record_count AS "recordCount", outcome
     FROM change_sets WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/** Makes `writer` the only activity attempt allowed to move the journal forward. */
export async function claimWriter(db: Queryable, id: string, writer: string): Promise<void> {
  await db.query(`UPDATE change_sets SET writer = $2, updated_at = now() WHERE id = $1`, [id, writer]);
}

const FENCE = `EXISTS (SELECT 1 FROM change_sets s WHERE s.id = $1 AND s.writer = $2)`;

async function fenced(db: Queryable, sql: string, params: unknown[]): Promise<ChunkRow> {
  const { rows } = await db.query<ChunkRow>(sql, params);
  if (!rows[0])
    throw platformFailure(FailureType.writerReplaced, 'Another attempt now writes this change set', {
      retryable: true,
    });
  return rows[0];
}

/** Chunks still to apply (pending, or sent with an unknown outcome), in order, all of one step. */
export async function chunksToApply(db: Queryable, id: string, limit: number): Promise<ChunkRow[]> {
  const { rows } = await db.query<ChunkRow>(
    `WITH first AS (SELECT min(step) AS step FROM change_set_chunks WHERE change_set_id = $1 AND state IN ('pending', 'sending'))
     SELECT ${CHUNK_COLUMNS} FROM change_set_chunks
     WHERE change_set_id = $1 AND state IN ('pending', 'sending') AND step = (SELECT step FROM first)
     ORDER BY chunk LIMIT $2`,
    [id, limit],
  );
  return rows;
}

/**
 * The intent, written before the request is sent: the first send keeps the time and before-images
 * (a retry must not take its before-images from a state the first attempt may already have changed).
 */
export async function markSending(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
  before: Record<string, Record<string, unknown>> | null,
): Promise<ChunkRow> {
  return fenced(
    db,
    `UPDATE change_set_chunks SET state = 'sending', sends = sends + 1, sent_at = coalesce(sent_at, clock_timestamp()),
       before = coalesce(before, $5::jsonb)
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [key.id, key.writer, key.step, key.chunk, before === null ? null : JSON.stringify(before)],
  );
}

/** The outcome, written after Airtable answered. */
export async function markApplied(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
  result: { createdIds?: string[]; updatedIds?: string[] },
): Promise<void> {
  await fenced(
    db,
    `UPDATE change_set_chunks SET state = 'applied', created_ids = $5, updated_ids = $6, error = NULL
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [key.id, key.writer, key.step, key.chunk, result.createdIds ?? null, result.updatedIds ?? null],
  );
}

/** Airtable refused the request (it applies all or nothing, so nothing of it landed). */
export async function markRejected(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
  error: string,
): Promise<void> {
  await fenced(
    db,
    `UPDATE change_set_chunks SET state = 'rejected', error = $5
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [key.id, key.writer, key.step, key.chunk, error],
  );
}

/**
 * Chunks compensation still has to visit, last applied first. A chunk rejected on its first send
 * changed nothing; one rejected on a retry might have landed on an earlier send, so it is visited.
 */
export async function chunksToUndo(db: Queryable, id: string, limit: number): Promise<ChunkRow[]> {
  const { rows } = await db.query<ChunkRow>(
    `SELECT ${CHUNK_COLUMNS} FROM change_set_chunks
     WHERE change_set_id = $1 AND undo_state IN ('none', 'undoing')
       AND (state IN ('sending', 'applied') OR (state = 'rejected' AND sends > 1))
     ORDER BY step DESC, chunk DESC LIMIT $2`,
    [id, limit],
  );
  return rows;
}

/** The intent of an undo that creates records (recreating deleted ones): the first time is kept. */
export async function markUndoing(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
): Promise<ChunkRow> {
  return fenced(
    db,
    `UPDATE change_set_chunks SET undo_state = 'undoing', undo_sent_at = coalesce(undo_sent_at, clock_timestamp())
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [key.id, key.writer, key.step, key.chunk],
  );
}

/** Records recreated so far for a chunk (kept after each request, so a retry does not recreate them). */
export async function recordRecreated(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
  recreated: Record<string, string>,
): Promise<void> {
  await fenced(
    db,
    `UPDATE change_set_chunks SET recreated = coalesce(recreated, '{}'::jsonb) || $5::jsonb,
       recreated_ids = ARRAY(SELECT DISTINCT unnest(coalesce(recreated_ids, '{}') || $6::text[]))
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [key.id, key.writer, key.step, key.chunk, JSON.stringify(recreated), Object.values(recreated)],
  );
}

export async function markUndone(
  db: Queryable,
  key: { id: string; writer: string; step: number; chunk: number },
  outcome: { state: 'undone' } | { state: 'stuck'; error: string },
): Promise<void> {
  await fenced(
    db,
    `UPDATE change_set_chunks SET undo_state = $5, undo_error = $6
     WHERE change_set_id = $1 AND step = $3 AND chunk = $4 AND ${FENCE}
     RETURNING ${CHUNK_COLUMNS}`,
    [
      key.id,
      key.writer,
      key.step,
      key.chunk,
      outcome.state,
      outcome.state === 'stuck' ? outcome.error : null,
    ],
  );
}

/** Which of `candidates` (records of `baseId`) some change set created or recreated. */
export async function ownedRecordIds(
  db: Queryable,
  baseId: string,
  candidates: string[],
): Promise<Set<string>> {
  if (candidates.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT id FROM (
       SELECT unnest(created_ids) AS id FROM change_set_chunks WHERE base_id = $1 AND created_ids && $2::text[]
       UNION ALL
       SELECT unnest(recreated_ids) FROM change_set_chunks WHERE base_id = $1 AND recreated_ids && $2::text[]
     ) owned WHERE id = ANY($2::text[])`,
    [baseId, candidates],
  );
  return new Set(rows.map((r) => r.id));
}

/** Old id → new id of every record compensation has recreated so far. */
export async function recreatedIds(db: Queryable, id: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ map: Record<string, string> | null }>(
    `SELECT jsonb_object_agg(k, v) AS map FROM change_set_chunks, jsonb_each_text(recreated) AS e(k, v)
     WHERE change_set_id = $1 AND recreated IS NOT NULL`,
    [id],
  );
  return rows[0]?.map ?? {};
}

/** Record ids deleted by this change set whose records compensation has not recreated yet. */
export async function deletedNotRecreated(db: Queryable, id: string): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT k AS id FROM change_set_chunks c, jsonb_object_keys(c.before) AS k, change_sets s
     WHERE c.change_set_id = $1 AND s.id = c.change_set_id AND c.state IN ('sending', 'applied')
       AND c.undo_state <> 'undone' AND (s.steps -> c.step ->> 'action') = 'delete'
       AND NOT coalesce(c.recreated ? k, false)`,
    [id],
  );
  return new Set(rows.map((r) => r.id));
}

/** Progress as the journal shows it. */
export async function journalProgress(
  db: Queryable,
  id: string,
): Promise<{
  recordsApplied: number;
  stepsDone: number;
  pending: number;
  recordsUndone: number;
  stuck: number;
  toUndo: number;
}> {
  const { rows } = await db.query(
    `SELECT
       coalesce(sum(jsonb_array_length(records)) FILTER (WHERE state = 'applied'), 0)::int AS "recordsApplied",
       count(*) FILTER (WHERE state IN ('pending', 'sending'))::int AS pending,
       coalesce(sum(jsonb_array_length(records)) FILTER (WHERE undo_state = 'undone'), 0)::int AS "recordsUndone",
       count(*) FILTER (WHERE undo_state = 'stuck')::int AS stuck,
       count(*) FILTER (WHERE undo_state IN ('none', 'undoing')
         AND (state IN ('sending', 'applied') OR (state = 'rejected' AND sends > 1)))::int AS "toUndo",
       (SELECT count(*) FROM (SELECT step FROM change_set_chunks WHERE change_set_id = $1 GROUP BY step
          HAVING bool_and(state = 'applied')) done)::int AS "stepsDone"
     FROM change_set_chunks WHERE change_set_id = $1`,
    [id],
  );
  return rows[0];
}

/** What compensation left undone, for the failure report. */
export async function stuckChunks(db: Queryable, id: string): Promise<UndoneRequest[]> {
  const { rows } = await db.query(
    `SELECT step, chunk, jsonb_array_length(records) AS records, undo_error AS error FROM change_set_chunks
     WHERE change_set_id = $1 AND undo_state = 'stuck' ORDER BY step, chunk`,
    [id],
  );
  return rows;
}

export async function saveOutcome(db: Queryable, id: string, outcome: ChangeSetOutcome): Promise<void> {
  await db.query(`UPDATE change_sets SET outcome = $2, updated_at = now() WHERE id = $1`, [
    id,
    JSON.stringify(outcome),
  ]);
}
