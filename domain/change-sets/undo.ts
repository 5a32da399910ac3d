import * as journal from './journal';
import type { ChunkRow } from './journal';
import type { StoredStep } from './model';
import { FailureType, platformFailure } from '../../core/failures';
import { toAirtableFailure } from '../../airtable/errors';
import { chunkKey, describeChunk, type JournalContext } from './context';
import { findCreated } from './apply';
import { CLOCK_SKEW_MS, matchCreatedRecords } from './reconcile';
import { listAll, readRecordsById, recordsCreatedSince } from '../../airtable/streaming';
import {
  deleteExisting,
  mergeMatchFormula,
  recreatableFields,
  writableValue,
  type RestoreContext,
} from './records-io';
import { changeSetRecords } from '../../core/metrics';

/**
 * Undoes one chunk: created records are deleted, updated records get their before-images back
 * (cells that were empty are emptied), deleted records are recreated from theirs. Every branch is
 * safe to repeat: deletes skip what is gone, restores write the same values again, and recreations
 * are journaled (intent, then the new ids) and reconciled like creates. A refusal Airtable will
 * repeat (non-retryable) marks the chunk `stuck` and compensation moves on to the next one.
 */
export async function undoChunk(context: JournalContext, chunk: ChunkRow): Promise<void> {
  const step = context.changeSet.steps[chunk.step]!;
  const key = chunkKey(context, chunk);
  try {
    switch (step.action) {
      case 'create':
        await undoCreate(context, step, chunk);
        break;
      case 'update':
        await restoreBeforeImages(
          context,
          step,
          chunk,
          chunk.records.map((r) => r.id!),
        );
        break;
      case 'upsert':
        await undoUpsert(context, step, chunk);
        break;
      case 'delete':
        await recreateDeleted(context, step, chunk);
        break;
    }
    await journal.markUndone(context.pool, key, { state: 'undone' });
    changeSetRecords.inc({ outcome: 'compensated', action: step.action }, chunk.records.length);
  } catch (err) {
    const failure = toAirtableFailure(err, `Undoing ${describeChunk(step, chunk)}`);
    if (!failure.nonRetryable) throw failure;
    await journal.markUndone(context.pool, key, { state: 'stuck', error: failure.message });
  }
}

async function undoCreate(context: JournalContext, step: StoredStep, chunk: ChunkRow): Promise<void> {
  const ids = chunk.createdIds ?? (await findCreated(context, step, chunk)) ?? [];
  if (ids.length > 0) await deleteExisting(context.records, step.tableId, ids);
}

async function undoUpsert(context: JournalContext, step: StoredStep, chunk: ChunkRow): Promise<void> {
  let created = chunk.createdIds ?? [];
  let updated = chunk.updatedIds ?? [];
  if (chunk.state !== 'applied') {
    // The answer was lost: whatever matches the merge values now is either a record we updated
    // (it has a before-image) or one we created (it was created after the intent).
    const formula = mergeMatchFormula(chunk.records, step.fieldsToMergeOn!, context.fieldTypes(step.tableId));
    const matches = await listAll(context.records, step.tableId, { filterByFormula: formula });
    const since = chunk.sentAt!.getTime() - CLOCK_SKEW_MS;
    updated = matches.filter((m) => chunk.before?.[m.id]).map((m) => m.id);
    created = matches
      .filter((m) => !chunk.before?.[m.id] && Date.parse(m.createdTime) >= since)
      .map((m) => m.id);
  }
  if (created.length > 0) await deleteExisting(context.records, step.tableId, created);
  const unknown = updated.filter((id) => !chunk.before?.[id]);
  if (unknown.length > 0)
    throw platformFailure(
      FailureType.beforeImageMissing,
      `Record ${unknown.join(', ')} was updated by the upsert but its earlier values were not found`,
    );
  if (updated.length > 0) await restoreBeforeImages(context, step, chunk, updated);
}

/** Writes back, for each record, the before-image of every field the chunk wrote. */
async function restoreBeforeImages(
  context: JournalContext,
  step: StoredStep,
  chunk: ChunkRow,
  ids: string[],
): Promise<void> {
  const restore = await restoreContext(context, step.tableId);
  const written = new Map(chunk.records.map((r) => [r.id, r.fields ?? {}]));
  const updates = ids.map((id) => {
    const before = chunk.before?.[id];
    if (!before)
      throw platformFailure(
        FailureType.beforeImageMissing,
        `No before-image of record ${id} was journaled; it cannot be restored`,
      );
    // An upsert record is matched by values, not id: restore every field that any record of the chunk wrote.
    const names = written.get(id)
      ? Object.keys(written.get(id)!)
      : [...new Set(chunk.records.flatMap((r) => Object.keys(r.fields ?? {})))];
    const fields: Record<string, unknown> = {};
    for (const name of names) {
      const value = writableValue(name, before[name], restore);
      if (value !== undefined) fields[name] = value;
    }
    return { id: restore.idMap[id] ?? id, fields };
  });
  await context.records.update(step.tableId, updates, { typecast: false });
}

/**
 * Recreates the records a delete chunk removed, with their writable values. Links follow records
 * already recreated; links to records this change set deleted and has not recreated yet are left
 * out, and come back when those records are recreated (links are two-way).
 */
async function recreateDeleted(context: JournalContext, step: StoredStep, chunk: ChunkRow): Promise<void> {
  const key = chunkKey(context, chunk);
  const ids = chunk.records.map((r) => r.id!);
  let pending = ids.filter((id) => !chunk.recreated?.[id]);
  if (chunk.state !== 'applied' && pending.length > 0) {
    // Not known to have landed: only records that are gone need recreating.
    const still = await readRecordsById(context.records, step.tableId, pending);
    pending = pending.filter((id) => !still.has(id));
  }
  if (pending.length === 0) return;
  const current = await journal.markUndoing(context.pool, key);
  const restore = await restoreContext(context, step.tableId);
  const wanted = pending.map((id) => ({ id, fields: recreatableFields(chunk.before?.[id] ?? {}, restore) }));

  if (chunk.undoState === 'undoing') {
    // An earlier attempt may have recreated some of them before its answer was lost.
    const landed = await findRecreated(context, step, current.undoSentAt!, wanted);
    if (Object.keys(landed).length > 0) await journal.recordRecreated(context.pool, key, landed);
    pending = pending.filter((id) => !landed[id]);
  }
  const toCreate = wanted.filter((w) => pending.includes(w.id));
  if (toCreate.length === 0) return;
  const created = await context.records.create(
    step.tableId,
    toCreate.map((w) => ({ fields: w.fields })),
    false,
  );
  await journal.recordRecreated(
    context.pool,
    key,
    Object.fromEntries(toCreate.map((w, i) => [w.id, created[i]!.id])),
  );
}

async function findRecreated(
  context: JournalContext,
  step: StoredStep,
  sentAt: Date,
  wanted: Array<{ id: string; fields: Record<string, unknown> }>,
): Promise<Record<string, string>> {
  const fieldTypes = context.fieldTypes(step.tableId);
  // Links depend on what else was recreated meanwhile; the other values identify the record.
  const comparable = wanted.map((w) => ({
    fields: Object.fromEntries(
      Object.entries(w.fields).filter(([name]) => fieldTypes.get(name)?.type !== 'multipleRecordLinks'),
    ),
  }));
  const names = [...new Set(comparable.flatMap((c) => Object.keys(c.fields)))];
  const candidates = await recordsCreatedSince(
    context.records,
    step.tableId,
    new Date(sentAt.getTime() - CLOCK_SKEW_MS),
    names,
  );
  const owned = await journal.ownedRecordIds(
    context.pool,
    context.changeSet.baseId,
    candidates.map((c) => c.id),
  );
  const free = candidates.filter((c) => !owned.has(c.id));
  const landed: Record<string, string> = {};
  wanted.forEach((w, i) => {
    const match = matchCreatedRecords(
      [comparable[i]!],
      free.filter((c) => !Object.values(landed).includes(c.id)),
      fieldTypes,
      {
        typecast: false,
      },
    );
    if (match) landed[w.id] = match.ids[0]!;
  });
  return landed;
}

async function restoreContext(context: JournalContext, tableId: string): Promise<RestoreContext> {
  const [idMap, gone] = await Promise.all([
    journal.recreatedIds(context.pool, context.changeSet.id),
    journal.deletedNotRecreated(context.pool, context.changeSet.id),
  ]);
  return { fieldTypes: context.fieldTypes(tableId), idMap, gone };
}
