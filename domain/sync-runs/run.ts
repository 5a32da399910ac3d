import type { Pool, PoolClient } from 'pg';
import { AirtableApiError } from '../../airtable/errors';
import { recordIdIn } from '../../airtable/formula';
import { getBaseSchema, type AirtableTableSchema } from '../../airtable/meta';
import { chunk } from '../../airtable/records';
import { listAll, READ_BATCH_SIZE } from '../../airtable/streaming';
import {
  createWebhook,
  deleteWebhook,
  listWebhookPayloads,
  listWebhooks,
  refreshWebhook,
  type WebhookPayload,
  type WebhookSpecification,
} from '../../airtable/webhooks';
import { withTransaction } from '../../db/pool';
import * as jobs from '../jobs/store';
import * as syncs from '../syncs/store';
import { openWorkspaceBase, type ConnectionDeps, type WorkspaceBase } from '../workspaces/connection';
import { lockActiveWorkspace } from '../workspaces/store';
import { collectChanges, restCells, type BaseChanges } from './changes';
import {
  deleteRecords,
  dropMirror,
  ensureMirrorSchema,
  existingIds,
  mergeStagedCopy,
  migrationStatements,
  mirrorNames,
  planMirror,
  updateCells,
  upsertRecords,
  type FullRecord,
} from './mirror';
import type { FullSyncReason, MirrorTables, SyncRunCounts, SyncRunMode } from './model';
import * as store from './store';
import { copyTable, type TableCopyCheckpoint } from './table-copy';

// The steps of one sync run, each called by one activity. A run is incremental (the webhook's
// payloads since the stored cursor, applied in one transaction) unless something asks for a full
// reconcile (every table copied, then merged in one transaction). See docs/syncs.md.

/** What the steps need. */
export type SyncRunDeps = ConnectionDeps;

/**
 * The webhook every sync creates: record data, fields and table metadata of the whole base, with
 * every cell of a changed record (`unchanged` carries the cells that did not change, computed ones
 * included), so a record's formulas arrive with the edit that changed them.
 */
export const SYNC_WEBHOOK_SPEC: WebhookSpecification = {
  options: {
    filters: { dataTypes: ['tableData', 'tableFields', 'tableMetadata'] },
    includes: { includeCellValuesInFieldIds: 'all' },
  },
};

/** Whether a hook reports what {@link SYNC_WEBHOOK_SPEC} asks for. */
function specMatches(spec: WebhookSpecification | undefined): boolean {
  const types = (s: WebhookSpecification | undefined) =>
    [...(s?.options?.filters?.dataTypes ?? [])].sort().join();
  const filters = spec?.options?.filters ?? {};
  const extraFilters = Object.keys(filters).filter((k) => k !== 'dataTypes');
  return (
    types(spec) === types(SYNC_WEBHOOK_SPEC) &&
    extraFilters.length === 0 &&
    spec?.options?.includes?.includeCellValuesInFieldIds === 'all'
  );
}

/** A hook closer than this to its expiry is refreshed by the next run (Airtable keeps hooks 7 days). */
export const WEBHOOK_REFRESH_MARGIN_MS = 3 * 24 * 3600 * 1000;
/** The most payloads one run applies; the rest wait for the next run. */
export const MAX_PAYLOADS_PER_RUN = 10_000;
/** How long a run's transaction waits for a reader's lock on a mirror table before it retries. */
const LOCK_TIMEOUT = '20s';

/** Identifies a run: the sync, its workspace and owner, and the run's job (workflow) id. */
export interface RunRef {
  syncId: string;
  workspaceId: string;
  userId: string;
  jobId: string;
}

/** A run that found nothing to do (the sync or workspace went away meanwhile). */
export interface Skipped {
  status: 'skipped';
  reason: string;
}

/**
 * The run's first step: records its job (so `GET /api/v1/jobs/:id` works for a run the schedule
 * started) and decides the mode, in the transaction that holds the workspace active: a
 * deprovisioning that starts later sees the job and ends it; one that started earlier makes the run
 * skip.
 */
export async function beginRun(
  deps: Pick<SyncRunDeps, 'pool'>,
  ref: RunRef,
): Promise<Skipped | { status: 'started'; mode: SyncRunMode; reason?: FullSyncReason }> {
  return withTransaction(deps.pool, async (tx) => {
    if (!(await lockActiveWorkspace(tx, ref.workspaceId)))
      return { status: 'skipped', reason: 'The workspace is not active' } as const;
    const sync = await syncs.getSync(tx, ref.syncId);
    if (!sync) return { status: 'skipped', reason: 'The sync was deleted' } as const;
    await jobs.insertJob(tx, {
      id: ref.jobId,
      kind: 'sync.run',
      workspaceId: ref.workspaceId,
      userId: ref.userId,
    });
    await jobs.claimJob(tx, ref.jobId);
    await store.insertRun(tx, { jobId: ref.jobId, syncId: ref.syncId });
    const reason = await fullSyncReason(tx, sync);
    await store.setRunPlan(tx, ref.jobId, { mode: reason ? 'full' : 'incremental', reason });
    return reason
      ? ({ status: 'started', mode: 'full', reason } as const)
      : ({ status: 'started', mode: 'incremental' } as const);
  });
}

async function fullSyncReason(db: PoolClient, sync: syncs.SyncRecord): Promise<FullSyncReason | undefined> {
  if (sync.resyncRequestedAt) return 'resync-requested';
  const lastFull = await store.lastFullRunStart(db, sync.id);
  const mirror = await store.getMirrorTables(db, sync.workspaceId);
  if (!lastFull || !mirror || Object.keys(mirror).length === 0) return 'first-run';
  const cursor = await store.getCursor(db, sync.id);
  if (!cursor || cursor.webhookId !== sync.webhookId) return 'cursor-lost';
  if (Date.now() - lastFull.getTime() >= sync.fullReconcileSeconds * 1000) return 'periodic-reconcile';
  return undefined;
}

/** The tables a sync copies, from the base's schema. */
function tablesInScope(schema: AirtableTableSchema[], tableIds: string[] | null): string[] {
  return schema.filter((t) => !tableIds || tableIds.includes(t.id)).map((t) => t.id);
}

function isMissingHook(err: unknown): boolean {
  return err instanceof AirtableApiError && (err.status === 404 || err.status === 403);
}

function expiry(value: string | null | undefined): Date | null {
  const at = value ? Date.parse(value) : NaN;
  return Number.isFinite(at) ? new Date(at) : null;
}

/**
 * A full run's preparation, before any record is read: the webhook exists (made anew when it is
 * missing, disabled or broke) and its next cursor is noted, and the base's schema is read. Both are
 * kept with the run, for its apply step. Changes made while the tables are copied come after the
 * noted cursor, so the next run applies them again on top of the copy: nothing falls in between.
 */
export async function prepareFullRun(
  deps: SyncRunDeps,
  ref: RunRef,
  reason: FullSyncReason,
  signal?: AbortSignal,
): Promise<Skipped | { status: 'ready'; tableIds: string[] }> {
  const sync = await syncs.getSync(deps.pool, ref.syncId);
  if (!sync) return { status: 'skipped', reason: 'The sync was deleted' };
  const base = await openWorkspaceBase(deps, ref.workspaceId, signal);
  // A sync that never had a hook has nothing to look for (the first run saves a request).
  const hooks = sync.webhookId ? await listWebhooks(base.meta, base.baseId) : [];
  const hook = sync.webhookId ? hooks.find((h) => h.id === sync.webhookId) : undefined;
  const usable = hook?.isHookEnabled && reason !== 'hook-error' && specMatches(hook.specification);
  let startCursor: number;
  if (hook && usable) {
    startCursor = hook.cursorForNextPayload;
    await refreshIfExpiring(deps.pool, base, sync.id, hook.id, expiry(hook.expirationTime));
  } else {
    if (hook) await deleteWebhook(base.meta, base.baseId, hook.id).catch(ignoreMissingHook);
    const created = await createWebhook(base.meta, base.baseId, SYNC_WEBHOOK_SPEC);
    await syncs.setWebhook(deps.pool, sync.id, { id: created.id, expiresAt: expiry(created.expirationTime) });
    // A new hook's first payload has cursor 1.
    startCursor = 1;
  }
  const schema = await getBaseSchema(base.meta, base.baseId);
  await store.setRunPlan(deps.pool, ref.jobId, { mode: 'full', reason, baseSchema: schema, startCursor });
  return { status: 'ready', tableIds: tablesInScope(schema, sync.tableIds) };
}

function ignoreMissingHook(err: unknown): void {
  if (!isMissingHook(err)) throw err;
}

async function refreshIfExpiring(
  pool: Pool,
  base: WorkspaceBase,
  syncId: string,
  webhookId: string,
  expiresAt: Date | null,
): Promise<void> {
  if (expiresAt && expiresAt.getTime() - Date.now() > WEBHOOK_REFRESH_MARGIN_MS) {
    await syncs.setWebhook(pool, syncId, { id: webhookId, expiresAt });
    return;
  }
  const refreshed = await refreshWebhook(base.meta, base.baseId, webhookId);
  await syncs.setWebhook(pool, syncId, { id: webhookId, expiresAt: expiry(refreshed.expirationTime) });
}

/**
 * Copies one table of the run into staging (`synced_records`, cells keyed by field id), page by
 * page with a checkpoint after each, resuming from `from` after a crash.
 */
export async function copyRunTable(
  deps: SyncRunDeps,
  ref: RunRef,
  tableId: string,
  options: {
    from?: TableCopyCheckpoint;
    onCheckpoint(checkpoint: TableCopyCheckpoint): void;
    onRestart?(): void;
    signal?: AbortSignal;
  },
): Promise<{ records: number; pages: number; resumedFrom: number }> {
  return copyTable(
    deps,
    { workspaceId: ref.workspaceId, tableId, syncRunId: ref.jobId },
    { ...options, listing: { pageSize: 100, returnFieldsByFieldId: true } },
  );
}

/** A run's end, as the workflow returns it. */
export type Applied = { status: 'applied'; lagMs: number | null } & SyncRunCounts;

/**
 * A full run's one transaction: the mirror migrates to the schema read before the copy, each table
 * becomes equal to its copy (records the copy did not see are deleted), and the noted cursor is
 * stored. Readers see the mirror before or after, never between.
 */
export async function applyFullRun(deps: Pick<SyncRunDeps, 'pool'>, ref: RunRef): Promise<Skipped | Applied> {
  const plan = await store.getRunPlan(deps.pool, ref.jobId);
  const run = await store.getRun(deps.pool, ref.jobId);
  if (!plan?.baseSchema || plan.startCursor === null || !run)
    throw new Error(`Run ${ref.jobId} has no plan: its preparation did not complete`);
  const { baseSchema, startCursor } = plan;
  return inRunTransaction(deps.pool, ref, async (tx, sync) => {
    if (!sync.webhookId) throw new Error(`Sync ${sync.id} has no webhook`);
    const { schema } = mirrorNames(ref.workspaceId);
    const { next, createdTables } = await migrateMirror(tx, ref.workspaceId, baseSchema, sync.tableIds);
    const counts: SyncRunCounts = { tables: 0, created: 0, updated: 0, deleted: 0, payloads: 0 };
    for (const [tableId, table] of Object.entries(next)) {
      const merged = await mergeStagedCopy(
        tx,
        schema,
        { workspaceId: ref.workspaceId, tableId, runId: ref.jobId },
        table,
        createdTables.has(tableId),
      );
      counts.tables++;
      counts.created += merged.created;
      counts.updated += merged.updated;
      counts.deleted += merged.deleted;
    }
    await tx.query(`DELETE FROM synced_records WHERE workspace_id = $1`, [ref.workspaceId]);
    await store.setCursor(tx, sync.id, sync.webhookId, startCursor);
    await syncs.clearResync(tx, sync.id, run.startedAt);
    const lagMs = Date.now() - run.startedAt.getTime();
    await store.finishRun(tx, ref.jobId, { status: 'completed', counts, lagMs });
    return { status: 'applied', lagMs, ...counts };
  });
}

/**
 * Opens the run's transaction: the workspace held active, the sync locked (a DELETE waits for the
 * run, or the run finds the sync gone and skips), lock waits bounded, times in UTC.
 */
async function inRunTransaction<T>(
  pool: Pool,
  ref: RunRef,
  work: (tx: PoolClient, sync: syncs.SyncRecord) => Promise<T>,
): Promise<T | Skipped> {
  return withTransaction(pool, async (tx) => {
    await tx.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    await tx.query(`SET LOCAL TimeZone = 'UTC'`);
    if (!(await lockActiveWorkspace(tx, ref.workspaceId)))
      return { status: 'skipped', reason: 'The workspace is not active' } as Skipped;
    const sync = await syncs.lockSync(tx, ref.syncId);
    if (!sync) return { status: 'skipped', reason: 'The sync was deleted' } as Skipped;
    return work(tx, sync);
  });
}

/** Migrates the mirror to `schema` (inside the caller's transaction); answers the new names. */
async function migrateMirror(
  tx: PoolClient,
  workspaceId: string,
  baseSchema: AirtableTableSchema[],
  tableIds: string[] | null,
): Promise<{ next: MirrorTables; needsData: Set<string>; createdTables: Set<string> }> {
  await ensureMirrorSchema(tx, workspaceId);
  const { schema, role } = mirrorNames(workspaceId);
  const current = (await store.getMirrorTables(tx, workspaceId, { lock: true })) ?? {};
  const next = planMirror(current, baseSchema, tableIds);
  const migration = migrationStatements(schema, role, current, next);
  for (const statement of migration.statements) await tx.query(statement);
  await store.setMirrorTables(tx, workspaceId, next);
  const createdTables = new Set(Object.keys(next).filter((tableId) => !current[tableId]));
  return { next, needsData: migration.needsData, createdTables };
}

/** What an incremental step answers: applied, or the tables to copy first, or a full reconcile. */
export type IncrementalOutcome =
  Skipped | Applied | { status: 'copy'; tableIds: string[] } | { status: 'full'; reason: FullSyncReason };

/**
 * An incremental run: reads the webhook's payloads from the stored cursor and applies their net
 * effect, with any schema change, in one transaction that also stores the new cursor. When a
 * change needs values the payloads do not carry (a new table or field, a retyped one), it answers
 * the tables to copy first; the workflow copies them and calls again with `copied`, and this run
 * reads the same payloads again and merges those copies in the same transaction. The hook is
 * refreshed when it nears its expiry. Lost cursors, missing, expired or broken hooks and pruned
 * payloads answer `full`.
 */
export async function applyIncrementalRun(
  deps: SyncRunDeps,
  ref: RunRef,
  copied: readonly string[],
  options: { signal?: AbortSignal; onProgress?: () => void } = {},
): Promise<IncrementalOutcome> {
  const sync = await syncs.getSync(deps.pool, ref.syncId);
  if (!sync) return { status: 'skipped', reason: 'The sync was deleted' };
  const cursor = await store.getCursor(deps.pool, sync.id);
  if (!cursor || !sync.webhookId || cursor.webhookId !== sync.webhookId)
    return { status: 'full', reason: 'cursor-lost' };
  const base = await openWorkspaceBase(deps, ref.workspaceId, options.signal);

  // One request tells whether the hook still works and whether anything happened since the cursor.
  const hook = (await listWebhooks(base.meta, base.baseId)).find((h) => h.id === sync.webhookId);
  if (!hook) return { status: 'full', reason: 'hook-missing' };
  const expiresAt = expiry(hook.expirationTime);
  if (!hook.isHookEnabled)
    return {
      status: 'full',
      reason: expiresAt && expiresAt.getTime() <= Date.now() ? 'hook-expired' : 'hook-disabled',
    };
  if (hook.cursorForNextPayload < cursor.cursor) return { status: 'full', reason: 'hook-error' };
  let read: { payloads: WebhookPayload[]; cursor: number } = { payloads: [], cursor: cursor.cursor };
  if (hook.cursorForNextPayload > cursor.cursor) {
    // Listing payloads extends the hook's life by 7 days.
    const listed = await readPayloads(
      base,
      hook.id,
      cursor.cursor,
      hook.cursorForNextPayload,
      options.onProgress,
    );
    if ('reason' in listed) return { status: 'full', reason: listed.reason };
    read = listed;
  } else {
    try {
      await refreshIfExpiring(deps.pool, base, sync.id, hook.id, expiresAt);
    } catch (err) {
      if (err instanceof AirtableApiError && err.status >= 400 && err.status < 500 && err.status !== 429)
        return { status: 'full', reason: 'hook-expired' };
      throw err;
    }
  }
  const inScope = (tableId: string) => !sync.tableIds || sync.tableIds.includes(tableId);
  const changes = collectChanges(read.payloads, inScope);
  if (changes.error) return { status: 'full', reason: 'hook-error' };

  const mirror = (await store.getMirrorTables(deps.pool, ref.workspaceId)) ?? {};
  let baseSchema: AirtableTableSchema[] | undefined;
  let planned = mirror;
  const toCopy = new Set([...changes.needsCopy].filter((t) => !copied.includes(t)));
  if (changes.schemaChanged.size > 0) {
    baseSchema = await getBaseSchema(base.meta, base.baseId);
    planned = planMirror(mirror, baseSchema, sync.tableIds);
    const { needsData } = migrationStatements('s', 'r', mirror, planned);
    for (const tableId of needsData) if (!copied.includes(tableId)) toCopy.add(tableId);
  }
  for (const tableId of copied) if (!planned[tableId]) toCopy.delete(tableId);
  if (toCopy.size > 0) return { status: 'copy', tableIds: [...toCopy] };

  // Changes to records the mirror does not hold (it never should) are read whole from Airtable.
  const fetched = await readMissingRecords(deps.pool, base, ref.workspaceId, planned, changes, copied);

  return inRunTransaction(deps.pool, ref, async (tx, locked) => {
    const now = await store.getCursor(tx, locked.id);
    // Runs of one schedule never overlap; should one have applied these payloads meanwhile, it wins.
    if (now?.cursor !== cursor.cursor || now.webhookId !== locked.webhookId)
      return { status: 'skipped', reason: 'Another run applied these changes first' } as Skipped;
    const { schema } = mirrorNames(ref.workspaceId);
    let tables = mirror;
    let createdTables = new Set<string>();
    if (baseSchema)
      ({ next: tables, createdTables } = await migrateMirror(
        tx,
        ref.workspaceId,
        baseSchema,
        locked.tableIds,
      ));
    const counts: SyncRunCounts = {
      tables: 0,
      created: 0,
      updated: 0,
      deleted: 0,
      payloads: read.payloads.length,
    };
    for (const tableId of copied) {
      const table = tables[tableId];
      if (!table) continue;
      const merged = await mergeStagedCopy(
        tx,
        schema,
        { workspaceId: ref.workspaceId, tableId, runId: ref.jobId },
        table,
        createdTables.has(tableId),
      );
      counts.created += merged.created;
      counts.updated += merged.updated;
      counts.deleted += merged.deleted;
      await store.clearSyncedRecords(tx, ref.workspaceId, tableId);
    }
    for (const [tableId, change] of changes.tables) {
      const table = tables[tableId];
      if (!table) continue;
      const upserts = [
        ...[...change.upserts.values()].map((r) => ({ ...r, cells: restCells(table, r.cells) })),
        ...(fetched.get(tableId) ?? []),
      ];
      const missing = new Set((fetched.get(tableId) ?? []).map((r) => r.id));
      const updates = [...change.updates]
        .filter(([id]) => !missing.has(id))
        .map(([id, cells]) => ({ id, cells: restCells(table, cells) }));
      if (upserts.length + updates.length + change.deletes.size === 0) continue;
      counts.tables++;
      const written = await upsertRecords(tx, schema, table, upserts);
      counts.created += written.created;
      counts.updated += written.updated;
      counts.updated += (await updateCells(tx, schema, table, updates)).length;
      counts.deleted += await deleteRecords(tx, schema, table, [...change.deletes]);
    }
    await store.setCursor(tx, locked.id, cursor.webhookId, read.cursor);
    const lagMs = changes.earliest === null ? null : Math.max(0, Date.now() - changes.earliest);
    await store.finishRun(tx, ref.jobId, { status: 'completed', counts, lagMs });
    return { status: 'applied', lagMs, ...counts } as Applied;
  });
}

/**
 * Every payload from `from` on (up to {@link MAX_PAYLOADS_PER_RUN}), or why the hook cannot serve
 * them. Payloads are pruned after 7 days without an error: a loss shows as a first payload numbered
 * above the cursor asked for, or as fewer payloads than the hook's `cursorForNextPayload` promised.
 */
async function readPayloads(
  base: WorkspaceBase,
  webhookId: string,
  from: number,
  promised: number,
  onPage?: () => void,
): Promise<{ payloads: WebhookPayload[]; cursor: number } | { reason: FullSyncReason }> {
  const payloads: WebhookPayload[] = [];
  let cursor = from;
  for (;;) {
    let page;
    try {
      page = await listWebhookPayloads(base.meta, base.baseId, webhookId, { cursor });
    } catch (err) {
      if (isMissingHook(err)) return { reason: 'hook-missing' };
      if (err instanceof AirtableApiError && err.status >= 400 && err.status < 500 && err.status !== 429)
        return { reason: 'hook-expired' };
      throw err;
    }
    onPage?.();
    const first = page.cursor - page.payloads.length;
    // Payloads older than 7 days are gone, read or not: the first one served is not the one asked for.
    if (first > cursor) return { reason: 'payloads-pruned' };
    if (page.cursor < cursor) return { reason: 'hook-error' };
    payloads.push(...page.payloads.slice(cursor - first));
    cursor = page.cursor;
    if (payloads.length >= MAX_PAYLOADS_PER_RUN) return { payloads, cursor };
    if (!page.mightHaveMore || page.payloads.length === 0) break;
  }
  if (cursor < promised) return { reason: 'payloads-pruned' };
  return { payloads, cursor };
}

/** Records with changed cells that the mirror does not hold, read whole (one request per 100). */
async function readMissingRecords(
  pool: Pool,
  base: WorkspaceBase,
  workspaceId: string,
  tables: MirrorTables,
  changes: BaseChanges,
  copied: readonly string[],
): Promise<Map<string, FullRecord[]>> {
  const found = new Map<string, FullRecord[]>();
  const { schema } = mirrorNames(workspaceId);
  for (const [tableId, change] of changes.tables) {
    const table = tables[tableId];
    if (!table || copied.includes(tableId) || change.updates.size === 0) continue;
    const ids = [...change.updates.keys()];
    const held = await existingIds(pool, schema, table, ids).catch(() => new Set<string>());
    const missing = ids.filter((id) => !held.has(id));
    for (const batch of chunk(missing, READ_BATCH_SIZE)) {
      const records = await listAll(base.records, tableId, {
        filterByFormula: recordIdIn(batch),
        returnFieldsByFieldId: true,
      });
      const list = found.get(tableId) ?? [];
      list.push(...records.map((r) => ({ id: r.id, createdTime: r.createdTime, cells: r.fields })));
      found.set(tableId, list);
    }
  }
  return found;
}

/** Records a run's failure or cancellation (its job's state stays Temporal's). */
export async function endRun(
  deps: Pick<SyncRunDeps, 'pool'>,
  jobId: string,
  end: { status: 'failed' | 'cancelled' | 'skipped'; error?: string },
): Promise<void> {
  await store.finishRun(deps.pool, jobId, end);
}

/**
 * Removes a workspace's mirror (deprovisioning): its webhooks in Airtable, while the connection is
 * still there (best effort: a revoked token must not stop the workspace from going; an unrefreshed
 * hook expires within 7 days anyway), then its schema and role.
 */
export async function removeWorkspaceMirror(
  deps: SyncRunDeps,
  workspaceId: string,
  options: { signal?: AbortSignal; onWarning?: (message: string, err: unknown) => void } = {},
): Promise<{ webhooksDeleted: number }> {
  let webhooksDeleted = 0;
  const hooks = await deps.pool.query<{ webhookId: string }>(
    `SELECT webhook_id AS "webhookId" FROM syncs WHERE workspace_id = $1 AND webhook_id IS NOT NULL`,
    [workspaceId],
  );
  if (hooks.rows.length > 0) {
    try {
      const base = await openWorkspaceBase(deps, workspaceId, options.signal);
      for (const { webhookId } of hooks.rows) {
        await deleteWebhook(base.meta, base.baseId, webhookId).catch(ignoreMissingHook);
        await deps.pool.query(
          `UPDATE syncs SET webhook_id = NULL WHERE workspace_id = $1 AND webhook_id = $2`,
          [workspaceId, webhookId],
        );
        webhooksDeleted++;
      }
    } catch (err) {
      options.onWarning?.('could not delete the sync webhooks; they expire within 7 days', err);
    }
  }
  await withTransaction(deps.pool, (tx) => dropMirror(tx, workspaceId));
  return { webhooksDeleted };
}
