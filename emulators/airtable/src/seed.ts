import { CellWriter, collaboratorForToken } from './cells';
import { DateOptionsError, PRIMARY_FIELD_TYPES, SELECT_COLORS, completeDateOptions } from './field-types';
import { rewriteFieldReferences } from './formula/parser';
import { isAirtableId, type IdPrefix } from './random';
import {
  Transaction,
  choicesOf,
  type BaseState,
  type Collaborator,
  type CommentState,
  type EmulatorStore,
  type FieldState,
  type RecordState,
  type TableState,
  type ViewState,
} from './store';
import type { EmulatorSeed, EmulatorSeedComment, EmulatorSeedField } from './types';

/** Thrown for a seed the emulator cannot serve; the message names the offending part. */
export class SeedError extends Error {
  override name = 'SeedError';
}

/** Every table starts with this view, as in Airtable. */
export const DEFAULT_VIEW_NAME = 'Grid view';

/**
 * Builds the store's bases from a seed. Ids not given are generated; field options may name tables
 * and fields by name; record values are written as the Web API would with `typecast: true`.
 */
export function loadSeed(store: EmulatorStore, seed: EmulatorSeed, now: number, user: Collaborator): void {
  if (!seed || !Array.isArray(seed.bases)) throw new SeedError('a seed is {"bases":[…]}');
  const pending: Array<{
    base: BaseState;
    table: TableState;
    seedFields: EmulatorSeedField[];
    records: EmulatorSeed['bases'][number]['tables'][number]['records'];
  }> = [];

  for (const seedBase of seed.bases) {
    if (!isAirtableId(seedBase.id, 'app'))
      throw new SeedError(`base id ${JSON.stringify(seedBase.id)} is not "app" and 14 letters or digits`);
    if (store.bases.has(seedBase.id)) throw new SeedError(`base ${seedBase.id} appears twice`);
    store.ids.reserve(seedBase.id);
    const base: BaseState = {
      id: seedBase.id,
      name: String(seedBase.name ?? seedBase.id),
      tables: [],
      records: new Map(),
    };
    store.bases.set(base.id, base);
    for (const seedTable of seedBase.tables ?? []) {
      if (!seedTable.name) throw new SeedError(`a table of base ${base.id} has no name`);
      if (!Array.isArray(seedTable.fields) || seedTable.fields.length === 0)
        throw new SeedError(`table ${seedTable.name} needs at least one field`);
      const tableId = takeId(store, seedTable.id, 'tbl', `table ${seedTable.name}`);
      const fields: FieldState[] = seedTable.fields.map((f) => {
        if (!f.name || !f.type)
          throw new SeedError(`a field of table ${seedTable.name} lacks a name or type`);
        return {
          id: takeId(store, f.id, 'fld', `field ${f.name}`),
          name: f.name,
          type: f.type,
          ...(f.description ? { description: f.description } : {}),
          ...(f.options ? { options: structuredClone(f.options) } : {}),
        };
      });
      const primary = fields[0]!;
      if (!PRIMARY_FIELD_TYPES.has(primary.type)) {
        throw new SeedError(
          `table ${seedTable.name}: its first field ${primary.name} is the primary field, which cannot be of type ${primary.type} (allowed: ${[...PRIMARY_FIELD_TYPES].join(', ')})`,
        );
      }
      const seen = new Set<string>();
      for (const f of fields) {
        const key = f.name.toLowerCase();
        if (seen.has(key)) throw new SeedError(`table ${seedTable.name} has two fields named ${f.name}`);
        seen.add(key);
      }
      const table: TableState = {
        id: tableId,
        name: seedTable.name,
        ...(seedTable.description ? { description: seedTable.description } : {}),
        primaryFieldId: fields[0]!.id,
        fields,
        views: [],
        records: [],
        nextAutoNumber: 1,
      };
      base.tables.push(table);
      pending.push({ base, table, seedFields: seedTable.fields, records: seedTable.records ?? [] });
    }
  }

  for (const { base, table } of pending) resolveFieldOptions(store, base, table);
  for (const { base, table } of pending) {
    const seedTable = seed.bases.find((b) => b.id === base.id)!.tables.find((t) => t.name === table.name)!;
    table.views = [{ id: store.ids.next('viw'), name: DEFAULT_VIEW_NAME, type: 'grid' }];
    for (const view of seedTable.views ?? []) {
      if (view.name === DEFAULT_VIEW_NAME) continue;
      const state: ViewState = {
        id: takeId(store, view.id, 'viw', `view ${view.name}`),
        name: view.name,
        type: view.type ?? 'grid',
      };
      if (view.filterByFormula)
        state.filterByFormula = rewriteFieldReferences(
          view.filterByFormula,
          (name) => store.findField(table, name)?.id ?? name,
        );
      if (view.sort) {
        state.sort = view.sort.map((s) => {
          const field = store.findField(table, s.field);
          if (!field) throw new SeedError(`view ${view.name} sorts by unknown field ${s.field}`);
          return { fieldId: field.id, direction: s.direction === 'desc' ? 'desc' : 'asc' };
        });
      }
      table.views.push(state);
    }
  }

  // Records in two passes: every id exists before any link to it is written.
  const txn = new Transaction();
  const writes: Array<() => void> = [];
  for (const { base, table, records } of pending) {
    const writer = new CellWriter(store, base, txn, { typecast: true, user, now });
    for (const seedRecord of records) {
      const createdTime = seedRecord.createdTime ? Date.parse(seedRecord.createdTime) : now;
      if (Number.isNaN(createdTime))
        throw new SeedError(`record ${seedRecord.id ?? ''} has an invalid createdTime`);
      const id = takeId(store, seedRecord.id, 'rec', `a record of ${table.name}`);
      const record = writer.createRecord(table, id, createdTime);
      record.comments = seedComments(store, record.id, seedRecord, createdTime, user);
      writes.push(() => {
        try {
          writer.writeFields(table, record, seedRecord.fields ?? {}, false, createdTime);
        } catch (err) {
          throw new SeedError(
            `record ${record.id} of ${table.name}: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        // Seeded values are the record's first state, not a later edit.
        record.lastModifiedBy = undefined;
      });
    }
  }
  for (const write of writes) write();
}

/** A record's seeded comments, plus placeholders up to a larger `commentCount`. */
function seedComments(
  store: EmulatorStore,
  recordId: string,
  seedRecord: { comments?: EmulatorSeedComment[]; commentCount?: number },
  recordCreated: number,
  user: Collaborator,
): CommentState[] {
  const what = `record ${recordId}`;
  if (seedRecord.comments !== undefined && !Array.isArray(seedRecord.comments))
    throw new SeedError(`${what}: comments must be an array`);
  const count = seedRecord.commentCount ?? 0;
  if (!Number.isInteger(count) || count < 0)
    throw new SeedError(`${what}: commentCount must be a whole number`);
  const time = (value: string | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new SeedError(`${what}: a comment has an invalid ${name}`);
    return ms;
  };
  const comments: CommentState[] = (seedRecord.comments ?? []).map((c) => {
    if (typeof c?.text !== 'string' || c.text === '')
      throw new SeedError(`${what}: every comment needs a non-empty text`);
    let author = user;
    if (c.author !== undefined) {
      if (typeof c.author?.email !== 'string')
        throw new SeedError(`${what}: a comment author needs an email`);
      author = {
        id: c.author.id ?? collaboratorForToken(c.author.email).id,
        email: c.author.email,
        name: c.author.name ?? c.author.email.split('@')[0]!,
      };
    }
    const createdTime = time(c.createdTime, recordCreated, 'createdTime');
    return {
      id: takeId(store, c.id, 'com', `a comment of ${recordId}`),
      author,
      text: c.text,
      createdTime,
      lastUpdatedTime:
        c.lastUpdatedTime === undefined ? null : time(c.lastUpdatedTime, createdTime, 'lastUpdatedTime'),
      ...(c.parentCommentId !== undefined ? { parentCommentId: c.parentCommentId } : {}),
    };
  });
  for (const c of comments) {
    if (c.parentCommentId !== undefined && !comments.some((p) => p.id === c.parentCommentId))
      throw new SeedError(`${what}: comment ${c.id} replies to unknown comment ${c.parentCommentId}`);
  }
  while (comments.length < count) {
    comments.push({
      id: store.ids.next('com'),
      author: user,
      text: `Seeded comment ${comments.length + 1}`,
      createdTime: recordCreated,
      lastUpdatedTime: null,
    });
  }
  // Oldest first, as they are kept.
  return comments.sort((a, b) => a.createdTime - b.createdTime);
}

function takeId(
  store: EmulatorStore,
  given: string | undefined,
  prefix: Extract<IdPrefix, 'tbl' | 'fld' | 'rec' | 'viw' | 'com'>,
  what: string,
): string {
  if (given === undefined) return store.ids.next(prefix);
  if (!isAirtableId(given, prefix))
    throw new SeedError(`${what}: id ${JSON.stringify(given)} is not "${prefix}" and 14 letters or digits`);
  store.ids.reserve(given);
  return given;
}

/** Turns names in options into ids, pairs two-way links and gives select choices ids and colors. */
export function resolveFieldOptions(store: EmulatorStore, base: BaseState, table: TableState): void {
  for (const field of table.fields) {
    const options = field.options ?? {};
    switch (field.type) {
      case 'singleSelect':
      case 'multipleSelects': {
        const choices = Array.isArray(options.choices)
          ? (options.choices as Array<{ id?: string; name: string; color?: string }>)
          : [];
        options.choices = choices.map((c, i) => ({
          id: c.id && isAirtableId(c.id, 'sel') ? (store.ids.reserve(c.id), c.id) : store.ids.next('sel'),
          name: String(c.name),
          color: c.color ?? SELECT_COLORS[i % SELECT_COLORS.length]!,
        }));
        field.options = options;
        break;
      }
      case 'multipleRecordLinks': {
        const linked = store.findTable(base, String(options.linkedTableId));
        if (!linked)
          throw new SeedError(
            `link field ${field.name} points at unknown table ${String(options.linkedTableId)}`,
          );
        options.linkedTableId = linked.id;
        if (typeof options.inverseLinkFieldId === 'string') {
          const inverse = store.findField(linked, options.inverseLinkFieldId);
          if (!inverse)
            throw new SeedError(
              `link field ${field.name}: unknown inverse field ${options.inverseLinkFieldId}`,
            );
          options.inverseLinkFieldId = inverse.id;
          inverse.options = {
            ...(inverse.options ?? {}),
            linkedTableId: table.id,
            inverseLinkFieldId: field.id,
          };
        }
        options.isReversed ??= false;
        options.prefersSingleRecordLink ??= false;
        field.options = options;
        break;
      }
      case 'lookup':
      case 'multipleLookupValues':
      case 'rollup':
      case 'count': {
        const link = store.findField(table, String(options.recordLinkFieldId));
        if (!link || link.type !== 'multipleRecordLinks')
          throw new SeedError(
            `${field.type} field ${field.name} needs recordLinkFieldId naming a link field`,
          );
        options.recordLinkFieldId = link.id;
        if (field.type !== 'count') {
          const linked = store.findTable(base, String(link.options?.linkedTableId));
          const target = linked ? store.findField(linked, String(options.fieldIdInLinkedTable)) : undefined;
          if (!target)
            throw new SeedError(
              `${field.type} field ${field.name}: unknown fieldIdInLinkedTable ${String(options.fieldIdInLinkedTable)}`,
            );
          options.fieldIdInLinkedTable = target.id;
        }
        options.isValid = true;
        field.options = options;
        break;
      }
      case 'date':
      case 'dateTime': {
        // Airtable always returns dateFormat.format (and timeFormat.format): fill them in from the names.
        try {
          field.options = completeDateOptions(field.type, field.options, true);
        } catch (err) {
          if (err instanceof DateOptionsError)
            throw new SeedError(`${field.type} field ${field.name}: ${err.message}`);
          throw err;
        }
        break;
      }
      case 'lastModifiedTime': {
        if (Array.isArray(options.referencedFieldIds)) {
          options.referencedFieldIds = (options.referencedFieldIds as string[]).map(
            (name) => store.findField(table, name)?.id ?? name,
          );
        }
        field.options = options;
        break;
      }
      default:
        break;
    }
  }
  // Formulas last, so they can refer to every field by id.
  for (const field of table.fields) {
    if (field.type !== 'formula' && field.type !== 'rollup') continue;
    const options = field.options ?? {};
    if (typeof options.formula === 'string') {
      options.formula =
        field.type === 'formula'
          ? rewriteFieldReferences(options.formula, (name) => store.findField(table, name)?.id ?? name)
          : options.formula;
    }
    field.options = options;
  }
  void choicesOf;
}

/** The saved form of the whole state (`persistPath`). */
export interface PersistedState {
  format: 'airtable-emulator-state';
  version: 1;
  savedAt: string;
  bases: Array<{
    id: string;
    name: string;
    tables: Array<
      Omit<TableState, 'records'> & {
        /** Files written before comments existed have `commentCount` instead of `comments`. */
        records: Array<
          Omit<RecordState, 'tableId' | 'comments'> & { comments?: CommentState[]; commentCount?: number }
        >;
      }
    >;
  }>;
}

export function serializeState(store: EmulatorStore): PersistedState {
  return {
    format: 'airtable-emulator-state',
    version: 1,
    savedAt: new Date().toISOString(),
    bases: [...store.bases.values()].map((base) => ({
      id: base.id,
      name: base.name,
      tables: base.tables.map((table) => ({
        ...table,
        records: table.records.map(({ tableId: _tableId, ...record }) => record),
      })),
    })),
  };
}

/** Rebuilds the store from a saved state; ids in it are never handed out again. */
export function restoreState(store: EmulatorStore, saved: PersistedState): void {
  if (saved?.format !== 'airtable-emulator-state' || saved.version !== 1)
    throw new SeedError('not an emulator state file (format/version)');
  for (const savedBase of saved.bases) {
    store.ids.reserve(savedBase.id);
    const base: BaseState = { id: savedBase.id, name: savedBase.name, tables: [], records: new Map() };
    for (const savedTable of savedBase.tables) {
      const table: TableState = { ...savedTable, records: [] };
      store.ids.reserve(table.id);
      for (const field of table.fields) {
        store.ids.reserve(field.id);
        for (const choice of choicesOf(field)) store.ids.reserve(choice.id);
      }
      for (const view of table.views) store.ids.reserve(view.id);
      for (const savedRecord of savedTable.records) {
        const { commentCount, comments, ...rest } = savedRecord;
        const record: RecordState = {
          ...rest,
          tableId: table.id,
          comments:
            comments ??
            Array.from({ length: commentCount ?? 0 }, (_, i) => ({
              id: store.ids.next('com'),
              author: rest.createdBy,
              text: `Seeded comment ${i + 1}`,
              createdTime: rest.createdTime,
              lastUpdatedTime: null,
            })),
        };
        store.ids.reserve(record.id);
        for (const comment of record.comments) store.ids.reserve(comment.id);
        table.records.push(record);
        base.records.set(record.id, record);
      }
      base.tables.push(table);
    }
    store.bases.set(base.id, base);
  }
}
