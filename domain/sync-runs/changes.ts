import type { CellValuesByFieldId, WebhookPayload } from '../../airtable/webhooks';
import type { FullRecord } from './mirror';
import type { MirrorTable } from './model';

/** What a run's payloads come to for one table: the net effect, in payload order. */
export interface TableChanges {
  /** Records created in the window (with every later change folded in): written whole. */
  upserts: Map<string, FullRecord>;
  /** Cells changed on records that existed before the window. */
  updates: Map<string, CellValuesByFieldId>;
  /** Records destroyed in the window. */
  deletes: Set<string>;
}

/** The net effect of a run's payloads on the base. */
export interface BaseChanges {
  tables: Map<string, TableChanges>;
  /** Tables whose schema changed (fields or names): the run reads the base schema again. */
  schemaChanged: Set<string>;
  /** Tables whose values must be copied again: new tables, new fields, fields whose type or options changed. */
  needsCopy: Set<string>;
  /** Tables created or destroyed in the window. */
  tablesCreated: Set<string>;
  tablesDestroyed: Set<string>;
  /** The earliest payload's timestamp (epoch ms), for the run's lag. */
  earliest: number | null;
  /** An error payload: the hook is unusable and the run falls back to a full reconcile. */
  error: string | null;
}

function tableOf(changes: BaseChanges, tableId: string): TableChanges {
  let table = changes.tables.get(tableId);
  if (!table) {
    table = { upserts: new Map(), updates: new Map(), deletes: new Set() };
    changes.tables.set(tableId, table);
  }
  return table;
}

/** Forgets what earlier payloads said about a field whose values are about to be copied again. */
function forgetField(table: TableChanges | undefined, fieldId: string): void {
  if (!table) return;
  for (const record of table.upserts.values()) delete record.cells[fieldId];
  for (const cells of table.updates.values()) delete cells[fieldId];
}

/**
 * Folds payloads, in order, into their net effect per table: a record created then changed is one
 * upsert with its latest cells; changed then destroyed is one delete; cells changed twice keep the
 * last value. Tables outside `inScope` are ignored. A retyped field's earlier cells are forgotten
 * (they were of the old type; the table's copy brings the new values).
 */
export function collectChanges(
  payloads: readonly WebhookPayload[],
  inScope: (tableId: string) => boolean,
): BaseChanges {
  const changes: BaseChanges = {
    tables: new Map(),
    schemaChanged: new Set(),
    needsCopy: new Set(),
    tablesCreated: new Set(),
    tablesDestroyed: new Set(),
    earliest: null,
    error: null,
  };
  for (const payload of payloads) {
    if (payload.error) {
      changes.error = payload.code ?? 'UNKNOWN';
      continue;
    }
    const at = Date.parse(payload.timestamp);
    if (Number.isFinite(at)) changes.earliest = Math.min(changes.earliest ?? at, at);

    for (const tableId of Object.keys(payload.createdTablesById ?? {})) {
      if (!inScope(tableId)) continue;
      changes.tablesCreated.add(tableId);
      changes.tablesDestroyed.delete(tableId);
      changes.schemaChanged.add(tableId);
      changes.needsCopy.add(tableId);
    }
    for (const [tableId, table] of Object.entries(payload.changedTablesById ?? {})) {
      if (!inScope(tableId)) continue;
      const into = tableOf(changes, tableId);
      if (table.changedMetadata?.current?.name !== undefined) changes.schemaChanged.add(tableId);
      if (table.destroyedFieldIds?.length) changes.schemaChanged.add(tableId);
      for (const fieldId of Object.keys(table.createdFieldsById ?? {})) {
        changes.schemaChanged.add(tableId);
        changes.needsCopy.add(tableId);
        forgetField(into, fieldId);
      }
      for (const [fieldId, change] of Object.entries(table.changedFieldsById ?? {})) {
        changes.schemaChanged.add(tableId);
        if (change.current.type !== undefined || change.current.options !== undefined) {
          changes.needsCopy.add(tableId);
          forgetField(into, fieldId);
        }
      }
      for (const [recordId, created] of Object.entries(table.createdRecordsById ?? {})) {
        into.deletes.delete(recordId);
        into.updates.delete(recordId);
        into.upserts.set(recordId, {
          id: recordId,
          createdTime: created.createdTime,
          cells: { ...(created.cellValuesByFieldId ?? {}) },
        });
      }
      for (const [recordId, changed] of Object.entries(table.changedRecordsById ?? {})) {
        // `unchanged` (asked for with includeCellValuesInFieldIds) holds the record's other cells as
        // they are now, computed ones included.
        const cells = {
          ...(changed.unchanged?.cellValuesByFieldId ?? {}),
          ...(changed.current?.cellValuesByFieldId ?? {}),
        };
        const created = into.upserts.get(recordId);
        if (created) Object.assign(created.cells, cells);
        else if (!into.deletes.has(recordId))
          into.updates.set(recordId, { ...(into.updates.get(recordId) ?? {}), ...cells });
      }
      for (const recordId of table.destroyedRecordIds ?? []) {
        into.upserts.delete(recordId);
        into.updates.delete(recordId);
        into.deletes.add(recordId);
      }
    }
    for (const tableId of payload.destroyedTableIds ?? []) {
      if (!inScope(tableId)) continue;
      changes.tablesDestroyed.add(tableId);
      changes.tablesCreated.delete(tableId);
      changes.needsCopy.delete(tableId);
      changes.schemaChanged.add(tableId);
      changes.tables.delete(tableId);
    }
  }
  return changes;
}

/** Records changed, created and destroyed in all. */
export function countChanges(changes: BaseChanges): number {
  let n = 0;
  for (const t of changes.tables.values()) n += t.upserts.size + t.updates.size + t.deletes.size;
  return n;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A lookup's element in the webhook format: a select choice reads as its name, a linked record as its id. */
function restElement(value: unknown): unknown {
  if (isObject(value) && typeof value.id === 'string' && 'name' in value) {
    if (value.id.startsWith('sel')) return value.name;
    if (value.id.startsWith('rec')) return value.id;
  }
  return value;
}

/**
 * One cell as webhook payloads carry it (Airtable's cell format "v2") in the form the records API
 * answers, which the mirror's conversions expect: a select is its choice's name, links are record
 * ids, a lookup is the flat list of its values.
 */
export function restCell(fieldType: string | undefined, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (fieldType) {
    case 'singleSelect':
      return isObject(value) && 'name' in value ? value.name : value;
    case 'multipleSelects':
      return Array.isArray(value) ? value.map((v) => (isObject(v) && 'name' in v ? v.name : v)) : value;
    case 'multipleRecordLinks':
      return Array.isArray(value)
        ? value.map((v) => (isObject(v) && typeof v.id === 'string' ? v.id : v))
        : value;
    case 'lookup':
    case 'multipleLookupValues':
      if (isObject(value) && Array.isArray(value.linkedRecordIds) && isObject(value.valuesByLinkedRecordId)) {
        const byRecord = value.valuesByLinkedRecordId;
        return (value.linkedRecordIds as string[]).flatMap((id) => {
          const values = byRecord[id];
          return (Array.isArray(values) ? values : values === undefined ? [] : [values]).map(restElement);
        });
      }
      return Array.isArray(value) ? value.map(restElement) : value;
    default:
      return value;
  }
}

/** {@link restCell} for every cell of a record, by the mirror table's field types. */
export function restCells(table: MirrorTable, cells: CellValuesByFieldId): CellValuesByFieldId {
  const out: CellValuesByFieldId = {};
  for (const [fieldId, value] of Object.entries(cells))
    out[fieldId] = restCell(table.columns[fieldId]?.fieldType, value);
  return out;
}
