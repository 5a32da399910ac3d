/**
 * Changes a user makes in Airtable's UI, which the Web API cannot make (edits of any size in one
 * action, deleting fields and tables, changing a field's type). Served by the control API and the
 * emulator object so tests can make webhooks report `client` changes.
 */
import { CellWriter, RecordReader, forgetCompiledFormulas } from './cells';
import { ApiError, errors, typedError } from './errors';
import {
  COMPUTED_TYPES,
  DateOptionsError,
  KNOWN_TYPES,
  PRIMARY_FIELD_TYPES,
  SELECT_COLORS,
  completeDateOptions,
} from './field-types';
import { describeField, updateField } from './meta';
import { renderRecord } from './records';
import {
  choicesOf,
  type BaseState,
  type Collaborator,
  type EmulatorStore,
  type FieldState,
  type RecordState,
  type TableState,
  type Transaction,
} from './store';
import type { EmulatorRecord, EmulatorUiEdit, EmulatorUiEditResult, EmulatorUiFieldChange } from './types';

/** What a UI-like change gets from the server. */
export interface UiCall {
  store: EmulatorStore;
  base: BaseState;
  table: TableState;
  user: Collaborator;
  now: number;
}

const ACTOR_KEYS = ['source', 'user', 'sourceMetadata'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(object: Record<string, unknown>, allowed: string[], where: string): void {
  for (const key of Object.keys(object))
    if (!allowed.includes(key) && !ACTOR_KEYS.includes(key))
      throw new TypeError(`unknown key ${JSON.stringify(key)} in ${where}`);
}

function list(value: unknown, name: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError(`${name} must be an array`);
  return value;
}

/** Creates, updates and deletes records of one table as a single action (no 10-record limit). */
export function uiEditRecords(call: UiCall, edits: EmulatorUiEdit): EmulatorUiEditResult {
  if (typeof edits !== 'object' || edits === null || Array.isArray(edits))
    throw new TypeError('a UI edit is an object {creates?, updates?, deletes?}');
  checkKeys(edits as Record<string, unknown>, ['creates', 'updates', 'deletes', 'typecast'], 'the UI edit');
  const creates = list(edits.creates, 'creates').map((item, i) => {
    if (!isObject(item) || !isObject(item.fields)) throw new TypeError(`creates[${i}] must be {fields}`);
    checkKeys(item, ['fields'], `creates[${i}]`);
    return item.fields;
  });
  const updates = list(edits.updates, 'updates').map((item, i) => {
    if (!isObject(item) || typeof item.id !== 'string' || !isObject(item.fields))
      throw new TypeError(`updates[${i}] must be {id, fields, replace?}`);
    checkKeys(item, ['id', 'fields', 'replace'], `updates[${i}]`);
    if (item.replace !== undefined && typeof item.replace !== 'boolean')
      throw new TypeError(`updates[${i}].replace must be a boolean`);
    return { id: item.id, fields: item.fields, replace: item.replace === true };
  });
  const deletes = list(edits.deletes, 'deletes').map((id, i) => {
    if (typeof id !== 'string') throw new TypeError(`deletes[${i}] must be a record id`);
    return id;
  });
  if (edits.typecast !== undefined && typeof edits.typecast !== 'boolean')
    throw new TypeError('typecast must be a boolean');
  if (creates.length + updates.length + deletes.length === 0)
    throw new TypeError('a UI edit needs at least one of creates, updates, deletes');
  const { store, base, table, user, now } = call;
  const ofTable = (id: string): RecordState | undefined => {
    const record = base.records.get(id);
    return record && record.tableId === table.id ? record : undefined;
  };
  for (const id of deletes) if (!ofTable(id)) throw errors.recordNotFound();
  const { created, updated } = store.transaction((txn) => {
    const writer = new CellWriter(store, base, txn, { typecast: edits.typecast ?? true, user, now });
    const created = creates.map((fields) => {
      const record = writer.createRecord(table);
      writer.writeFields(table, record, fields, false);
      record.lastModifiedBy = undefined;
      return record;
    });
    const updated = updates.map(({ id, fields, replace }) => {
      const record = ofTable(id);
      if (!record) throw errors.rowDoesNotExist(id);
      writer.writeFields(table, record, fields, replace);
      return record;
    });
    for (const id of deletes) {
      const record = ofTable(id);
      if (!record) continue;
      store.removeRecord(txn, base, table, record);
      writer.unlinkEverywhere(record, now);
    }
    return { created, updated };
  });
  const reader = new RecordReader(store, base, now);
  const render = (r: RecordState) =>
    renderRecord(reader, table, r, { cellFormat: 'json' }) as unknown as EmulatorRecord;
  return {
    created: created.map(render),
    updated: updated.filter((r) => base.records.has(r.id)).map(render),
    deleted: deletes,
  };
}

/** Default options of a type the field is changed to, merged with the ones given. */
function optionsForType(
  store: EmulatorStore,
  field: FieldState,
  type: string,
  given: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  const options = { ...(given ?? {}) };
  switch (type) {
    case 'number':
    case 'percent':
      return { precision: 0, ...options };
    case 'currency':
      return { precision: 2, symbol: '$', ...options };
    case 'rating':
      return { max: 5, icon: 'star', color: 'yellowBright', ...options };
    case 'checkbox':
      return { icon: 'check', color: 'greenBright', ...options };
    case 'duration':
      return { durationFormat: 'h:mm', ...options };
    case 'singleSelect':
    case 'multipleSelects': {
      // Existing choices are kept (a select changed to the other kind of select keeps its options).
      const current =
        field.type === 'singleSelect' || field.type === 'multipleSelects' ? choicesOf(field) : [];
      const extra = Array.isArray(options.choices)
        ? (options.choices as Array<{ name?: unknown; color?: unknown }>)
        : [];
      const choices = [...current];
      for (const c of extra) {
        if (typeof c?.name !== 'string' || c.name === '') throw new TypeError('every choice needs a name');
        if (choices.some((k) => k.name === c.name)) continue;
        choices.push({
          id: store.ids.next('sel'),
          name: c.name,
          color:
            typeof c.color === 'string' ? c.color : SELECT_COLORS[choices.length % SELECT_COLORS.length]!,
        });
      }
      return { ...options, choices };
    }
    case 'date':
    case 'dateTime':
      try {
        return completeDateOptions(type, options, true);
      } catch (err) {
        if (err instanceof DateOptionsError)
          throw typedError(
            422,
            'INVALID_FIELD_TYPE_OPTIONS',
            `Invalid options for field type ${type}: ${err.message}`,
          );
        throw err;
      }
    default:
      return Object.keys(options).length > 0 ? options : undefined;
  }
}

const OBJECT_TYPES = new Set([
  'singleCollaborator',
  'multipleCollaborators',
  'multipleAttachments',
  'barcode',
]);
const MULTI_TYPES = new Set(['multipleSelects', 'multipleCollaborators', 'multipleAttachments']);

/** An old cell value as text or a list of texts, for converting into `type`. */
function convertible(value: unknown, type: string): unknown {
  if (OBJECT_TYPES.has(type)) return value;
  const plain = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const o = v as { name?: unknown; text?: unknown; url?: unknown };
    if (typeof o.name === 'string') return o.name;
    if (typeof o.text === 'string') return o.text;
    if (typeof o.url === 'string') return o.url;
    return JSON.stringify(v);
  };
  if (!Array.isArray(value)) return plain(value);
  const items = value.map(plain);
  if (MULTI_TYPES.has(type)) return items;
  if (type === 'singleSelect') return items[0];
  return items.map((v) => String(v)).join(', ');
}

/**
 * Renames, describes, changes the options or the type of a field. A type change converts every cell
 * the way a paste would (typecast) and clears cells that do not convert; links and computed fields
 * keep their type.
 */
export function uiUpdateField(call: UiCall, field: FieldState, change: EmulatorUiFieldChange): unknown {
  if (typeof change !== 'object' || change === null || Array.isArray(change))
    throw new TypeError('a field change is an object {name?, description?, type?, options?}');
  checkKeys(
    change as Record<string, unknown>,
    ['name', 'description', 'type', 'options'],
    'the field change',
  );
  const { store, base, table, user, now } = call;
  if (change.type === undefined || change.type === field.type) {
    const body: Record<string, unknown> = {};
    for (const key of ['name', 'description', 'options'] as const)
      if (change[key] !== undefined) body[key] = change[key];
    if (Object.keys(body).length === 0) throw new TypeError('nothing to change');
    return updateField({ store, query: new URLSearchParams(), body }, table, field);
  }
  const type = change.type;
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type))
    throw typedError(422, 'INVALID_FIELD_TYPE', `Unknown field type "${String(type)}"`);
  if (COMPUTED_TYPES.has(type) || COMPUTED_TYPES.has(field.type))
    throw new TypeError('the emulator changes the type of editable fields to editable types only');
  if (type === 'multipleRecordLinks' || field.type === 'multipleRecordLinks')
    throw new TypeError('the emulator does not change link fields to or from other types');
  if (field.id === table.primaryFieldId && !PRIMARY_FIELD_TYPES.has(type))
    throw errors.invalidPrimaryField(field.name, type);
  if (change.name !== undefined) {
    if (typeof change.name !== 'string' || change.name.trim() === '')
      throw typedError(422, 'DUPLICATE_OR_EMPTY_FIELD_NAME', 'A field needs a non-empty name');
    if (table.fields.some((f) => f !== field && f.name.toLowerCase() === change.name!.toLowerCase()))
      throw typedError(422, 'DUPLICATE_OR_EMPTY_FIELD_NAME', `A field named "${change.name}" already exists`);
  }
  if (change.description !== undefined && typeof change.description !== 'string')
    throw new TypeError('description must be a string');
  if (
    change.options !== undefined &&
    (typeof change.options !== 'object' || change.options === null || Array.isArray(change.options))
  )
    throw new TypeError('options must be an object');
  const options = optionsForType(store, field, type, change.options);
  const reader = new RecordReader(store, base, now);
  const old = table.records
    .map((record) => ({ record, value: reader.jsonValue(table, record, field) }))
    .filter(({ value }) => value !== undefined && value !== null);
  store.transaction((txn) => {
    const before = structuredClone({
      name: field.name,
      type: field.type,
      description: field.description,
      options: field.options,
    });
    store.changeSchema(
      txn,
      () => {
        field.type = type;
        if (options === undefined) delete field.options;
        else field.options = options;
        if (change.name !== undefined) field.name = change.name;
        if (change.description !== undefined) field.description = change.description;
      },
      () => {
        field.name = before.name;
        field.type = before.type;
        if (before.description === undefined) delete field.description;
        else field.description = before.description;
        if (before.options === undefined) delete field.options;
        else field.options = before.options;
      },
    );
    forgetCompiledFormulas(table);
    const writer = new CellWriter(store, base, txn, { typecast: true, user, now });
    for (const { record, value } of old) {
      let converted: unknown;
      try {
        converted = writer.normalizeForMatch(table, field, convertible(value, type));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        converted = undefined;
      }
      store.setCell(txn, record, field.id, converted, now);
    }
  });
  return describeField(store, table, field);
}

/** Removes a field and its cells (undone with the transaction). */
function removeField(store: EmulatorStore, txn: Transaction, table: TableState, field: FieldState): void {
  const index = table.fields.indexOf(field);
  if (index < 0) return;
  const saved: Array<{ record: RecordState; value: unknown; modified: number | undefined }> = [];
  store.changeSchema(
    txn,
    () => {
      table.fields.splice(index, 1);
      for (const record of table.records) {
        if (!(field.id in record.cells) && !(field.id in record.modified)) continue;
        saved.push({ record, value: record.cells[field.id], modified: record.modified[field.id] });
        delete record.cells[field.id];
        delete record.modified[field.id];
      }
    },
    () => {
      table.fields.splice(index, 0, field);
      for (const { record, value, modified } of saved) {
        if (value !== undefined) record.cells[field.id] = value;
        if (modified !== undefined) record.modified[field.id] = modified;
      }
    },
  );
}

/**
 * Deletes a field, as only the UI can. The primary field cannot be deleted; deleting one side of a
 * two-way link deletes the other side too.
 */
export function uiDeleteField(call: UiCall, field: FieldState): { id: string; deleted: true } {
  const { store, base, table } = call;
  if (field.id === table.primaryFieldId)
    throw typedError(422, 'CANNOT_DELETE_PRIMARY_FIELD', 'The primary field of a table cannot be deleted');
  store.transaction((txn) => {
    if (field.type === 'multipleRecordLinks') {
      const linked = store.tableById(base, String(field.options?.linkedTableId));
      const inverse = linked && store.fieldById(linked, String(field.options?.inverseLinkFieldId));
      if (linked && inverse && inverse !== field) removeField(store, txn, linked, inverse);
    }
    removeField(store, txn, table, field);
    for (const t of base.tables) forgetCompiledFormulas(t);
  });
  return { id: field.id, deleted: true };
}

/**
 * Deletes a table and its records, as only the UI can. Link fields of other tables that pointed at it
 * are deleted with it. The last table of a base cannot be deleted.
 */
export function uiDeleteTable(call: UiCall): { id: string; deleted: true } {
  const { store, base, table } = call;
  if (base.tables.length <= 1)
    throw typedError(422, 'CANNOT_DELETE_LAST_TABLE', 'A base needs at least one table');
  store.transaction((txn) => {
    for (const other of base.tables) {
      if (other === table) continue;
      for (const field of [...other.fields])
        if (field.type === 'multipleRecordLinks' && field.options?.linkedTableId === table.id)
          removeField(store, txn, other, field);
    }
    const index = base.tables.indexOf(table);
    store.changeSchema(
      txn,
      () => {
        base.tables.splice(index, 1);
        for (const record of table.records) base.records.delete(record.id);
      },
      () => {
        base.tables.splice(index, 0, table);
        for (const record of table.records) base.records.set(record.id, record);
      },
    );
    for (const t of base.tables) forgetCompiledFormulas(t);
  });
  return { id: table.id, deleted: true };
}
