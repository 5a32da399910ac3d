import * as journal from './journal';
import type { ChunkRow } from './journal';
import type { StoredStep } from './model';
import { FailureType, platformFailure } from '../../core/failures';
import { toAirtableFailure } from '../../airtable/errors';
import type { AirtableRecord } from '../../airtable/records';
import { chunkKey, describeChunk, type JournalContext } from './context';
import { CLOCK_SKEW_MS, matchCreatedRecords } from './reconcile';
import { listAll, READ_BATCH_SIZE, readRecordsById, recordsCreatedSince } from '../../airtable/streaming';
import { mergeMatchFormula } from './records-io';
import { changeSetRecords } from '../../core/metrics';

/**
 * Applies chunks of one step in order. Each chunk is bracketed by the journal: `sending` (with the
 * before-images of the records it changes) before the request, `applied` (with the ids Airtable
 * returned) after it. A chunk found `sending` was interrupted with an unknown outcome and is
 * finished rather than repeated blindly: creates are reconciled, the rest are idempotent to resend.
 */
export async function applyChunks(
  context: JournalContext,
  chunks: ChunkRow[],
  shouldStop: () => boolean,
): Promise<void> {
  const step = context.changeSet.steps[chunks[0]!.step]!;
  const needsBefore = step.action === 'update' || step.action === 'delete';
  // Before-images of the next 10 chunks in one read (100 records), taken just before they are sent;
  // chunks started while that read is under way wait for the same read.
  const reads = new Map<string, Promise<Map<string, AirtableRecord>>>();
  await inPipeline(chunks, shouldStop, async (chunk, index) => {
    let before: Map<string, AirtableRecord> | undefined;
    if (needsBefore && chunk.state === 'pending') {
      let read = reads.get(chunk.records[0]!.id!);
      if (!read) {
        const ids = chunks
          .slice(index, index + READ_BATCH_SIZE / 10)
          .filter((c) => c.state === 'pending')
          .flatMap((c) => c.records.map((r) => r.id!));
        read = readRecordsById(context.records, step.tableId, ids);
        for (const id of ids) reads.set(id, read);
      }
      before = await read;
      const missing = chunk.records.filter((r) => !before!.has(r.id!)).map((r) => r.id);
      if (missing.length > 0)
        await rejectChunk(
          context,
          chunk,
          `${describeChunk(step, chunk)}: Record ${missing.join(', ')} no longer exists`,
        );
    }
    await applyChunk(context, step, chunk, before);
    changeSetRecords.inc({ outcome: 'applied', action: step.action }, chunk.records.length);
  });
}

/** Requests of one step in flight at once: enough to hide Airtable's latency behind the pacing. */
export const IN_FLIGHT = 3;

/**
 * Runs `work` over `items` in order with up to {@link IN_FLIGHT} at once (the records of one step
 * are independent of each other). Stops starting new work on the first failure or when
 * `shouldStop` says so, but always waits for what is in flight: a request is never abandoned.
 */
export async function inPipeline<T>(
  items: T[],
  shouldStop: () => boolean,
  work: (item: T, index: number) => Promise<void>,
  limit = IN_FLIGHT,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length && !failure && !shouldStop(); i++) {
    const running: Promise<void> = work(items[i]!, i)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
    if (inFlight.size >= limit) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
}

async function applyChunk(
  context: JournalContext,
  step: StoredStep,
  chunk: ChunkRow,
  prefetched: Map<string, AirtableRecord> | undefined,
): Promise<void> {
  const key = chunkKey(context, chunk);
  const { records } = context;
  const table = step.tableId;
  const interrupted = chunk.state === 'sending';
  let before: Record<string, Record<string, unknown>> | null = null;
  if (!interrupted && prefetched)
    before = Object.fromEntries(chunk.records.map((r) => [r.id!, prefetched.get(r.id!)!.fields]));
  if (!interrupted && step.action === 'upsert') before = await upsertBeforeImages(context, step, chunk);
  // The first send keeps its before-images and time; a resend only counts itself.
  const current = await journal.markSending(context.pool, key, before);

  try {
    switch (step.action) {
      case 'create': {
        if (interrupted) {
          const landed = await findCreated(context, step, current);
          if (landed) {
            await journal.markApplied(context.pool, key, { createdIds: landed });
            return;
          }
        }
        const created = await records.create(table, fieldsOnly(chunk), step.typecast);
        await journal.markApplied(context.pool, key, { createdIds: created.map((r) => r.id) });
        return;
      }
      case 'update': {
        const updated = await records.update(
          table,
          chunk.records.map((r) => ({ id: r.id!, fields: r.fields ?? {} })),
          { typecast: step.typecast },
        );
        await journal.markApplied(context.pool, key, { updatedIds: updated.map((r) => r.id) });
        return;
      }
      case 'delete': {
        const ids = chunk.records.map((r) => r.id!);
        let targets = ids;
        if (interrupted) targets = [...(await readRecordsById(records, table, ids)).keys()];
        if (targets.length > 0) await records.destroy(table, targets);
        await journal.markApplied(context.pool, key, { updatedIds: ids });
        return;
      }
      case 'upsert': {
        const answer = await records.upsert(table, fieldsOnly(chunk), step.fieldsToMergeOn!, step.typecast);
        // A record this chunk created on a send whose answer was lost comes back as "updated" now; it
        // has no before-image and was created after the intent, so it is ours to delete on undo.
        const sentAt = current.sentAt!.getTime() - CLOCK_SKEW_MS;
        const createdIds = new Set(answer.createdRecords);
        for (const record of answer.records)
          if (
            !createdIds.has(record.id) &&
            !current.before?.[record.id] &&
            Date.parse(record.createdTime) >= sentAt
          )
            createdIds.add(record.id);
        await journal.markApplied(context.pool, key, {
          createdIds: [...createdIds],
          updatedIds: answer.updatedRecords.filter((id) => !createdIds.has(id)),
        });
        return;
      }
    }
  } catch (err) {
    const failure = toAirtableFailure(err, describeChunk(step, chunk));
    if (failure.nonRetryable) await rejectChunk(context, chunk, failure.message);
    throw failure;
  }
}

/** Journals the refusal and fails for good (`message` names the chunk): the workflow then compensates. */
async function rejectChunk(context: JournalContext, chunk: ChunkRow, message: string): Promise<never> {
  await journal.markRejected(context.pool, chunkKey(context, chunk), message);
  throw platformFailure(FailureType.changeSetStepFailed, message, {
    details: { step: chunk.step, chunk: chunk.chunk },
  });
}

/** The ids a create request made, if it landed before its answer was lost; `undefined` if it did not. */
export async function findCreated(
  context: JournalContext,
  step: StoredStep,
  chunk: ChunkRow,
): Promise<string[] | undefined> {
  const fieldTypes = context.fieldTypes(step.tableId);
  const sentFields = [...new Set(chunk.records.flatMap((r) => Object.keys(r.fields ?? {})))];
  const since = new Date(chunk.sentAt!.getTime() - CLOCK_SKEW_MS);
  const candidates = await recordsCreatedSince(context.records, step.tableId, since, sentFields);
  const owned = await journal.ownedRecordIds(
    context.pool,
    context.changeSet.baseId,
    candidates.map((c) => c.id),
  );
  const match = matchCreatedRecords(
    chunk.records,
    candidates.filter((c) => !owned.has(c.id)),
    fieldTypes,
    { typecast: step.typecast },
  );
  return match?.ids;
}

/** Before-images of the records an upsert chunk may update (those its merge values match now). */
async function upsertBeforeImages(
  context: JournalContext,
  step: StoredStep,
  chunk: ChunkRow,
): Promise<Record<string, Record<string, unknown>>> {
  const formula = mergeMatchFormula(chunk.records, step.fieldsToMergeOn!, context.fieldTypes(step.tableId));
  const matches = await listAll(context.records, step.tableId, { filterByFormula: formula });
  return Object.fromEntries(matches.map((record) => [record.id, record.fields]));
}

function fieldsOnly(chunk: ChunkRow): Array<{ fields: Record<string, unknown> }> {
  return chunk.records.map((r) => ({ fields: r.fields ?? {} }));
}
