import { CellWriter, RecordReader, isEmptyCell, type RenderOptions } from './cells';
import { errors, ApiError } from './errors';
import { MERGEABLE_TYPES, NUMBER_TYPES } from './field-types';
import {
  FormulaSyntaxError,
  UnknownFieldsError,
  compileFormula,
  type CompiledFormula,
} from './formula/evaluate';
import { formulaKindOfField } from './cells';
import { FormulaRuntimeError, toText, truthy } from './formula/values';
import { isAirtableId, type IdFactory } from './random';
import {
  choicesOf,
  type BaseState,
  type Collaborator,
  type EmulatorStore,
  type FieldState,
  type RecordState,
  type TableState,
  type ViewState,
} from './store';

/** What a record endpoint gets from the router. */
export interface RecordCall {
  store: EmulatorStore;
  base: BaseState;
  table: TableState;
  user: Collaborator;
  now: number;
  query: URLSearchParams;
  body: unknown;
}

export const MAX_PAGE_SIZE = 100;
export const MAX_RECORDS_PER_WRITE = 10;

interface ListParams {
  pageSize: number;
  maxRecords?: number;
  offset?: string;
  fields?: string[];
  filterByFormula?: string;
  sort?: Array<{ field: string; direction: 'asc' | 'desc' }>;
  view?: string;
  cellFormat: 'json' | 'string';
  timeZone?: string;
  userLocale?: string;
  returnFieldsByFieldId: boolean;
  recordMetadata: string[];
}

function parseInteger(raw: unknown): number {
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) throw errors.invalidRequest();
  return n;
}

function parseBoolean(raw: unknown): boolean {
  if (raw === undefined || raw === null) return false;
  if (typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0' || raw === '') return false;
  throw errors.invalidRequest();
}

function checkListParams(params: ListParams): ListParams {
  if (!Number.isInteger(params.pageSize) || params.pageSize < 1 || params.pageSize > MAX_PAGE_SIZE)
    throw errors.invalidRequest();
  if (params.maxRecords !== undefined && params.maxRecords < 1) throw errors.invalidRequest();
  if (params.cellFormat !== 'json' && params.cellFormat !== 'string') throw errors.invalidRequest();
  if (params.cellFormat === 'string') {
    if (!params.timeZone || !params.userLocale) {
      throw errors.invalidRequest(
        'Invalid request: cellFormat "string" requires both timeZone and userLocale.',
      );
    }
    try {
      new Intl.DateTimeFormat(params.userLocale, { timeZone: params.timeZone });
    } catch {
      throw errors.invalidRequest(
        `Invalid request: unknown timeZone or userLocale (${params.timeZone}, ${params.userLocale}).`,
      );
    }
  }
  for (const item of params.recordMetadata) if (item !== 'commentCount') throw errors.invalidRequest();
  for (const s of params.sort ?? [])
    if (typeof s.field !== 'string' || (s.direction !== 'asc' && s.direction !== 'desc'))
      throw errors.invalidRequest();
  return params;
}

const isRecordMetadataKey = (key: string): boolean =>
  key === 'recordMetadata[]' || /^recordMetadata\[\d+\]$/.test(key);

/** `recordMetadata[]=commentCount` (or `recordMetadata[0]=…`) from a query string. */
function recordMetadataFromQuery(query: URLSearchParams): string[] {
  const metadata: string[] = [];
  for (const [key, value] of query) if (isRecordMetadataKey(key)) metadata.push(value);
  return metadata;
}

/** `GET /v0/{base}/{table}` parameters, in Airtable's bracket notation. */
export function listParamsFromQuery(query: URLSearchParams): ListParams {
  const fields: string[] = [];
  const metadata = recordMetadataFromQuery(query);
  const sorts = new Map<number, { field?: string; direction?: string }>();
  for (const [key, value] of query) {
    if (key === 'fields[]' || /^fields\[\d+\]$/.test(key)) fields.push(value);
    else if (isRecordMetadataKey(key)) continue;
    else {
      const match = /^sort\[(\d+)\]\[(field|direction)\]$/.exec(key);
      if (match) {
        const entry = sorts.get(Number(match[1])) ?? {};
        entry[match[2] as 'field' | 'direction'] = value;
        sorts.set(Number(match[1]), entry);
      }
    }
  }
  const sort = [...sorts.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, s]) => ({ field: s.field as string, direction: (s.direction ?? 'asc') as 'asc' | 'desc' }));
  const get = (name: string): string | undefined => query.get(name) ?? undefined;
  return checkListParams({
    pageSize: get('pageSize') === undefined ? MAX_PAGE_SIZE : parseInteger(get('pageSize')),
    maxRecords: get('maxRecords') === undefined ? undefined : parseInteger(get('maxRecords')),
    offset: get('offset') || undefined,
    fields: query.has('fields[]') || fields.length > 0 ? fields : undefined,
    filterByFormula: get('filterByFormula'),
    sort: sort.length > 0 ? sort : undefined,
    view: get('view') || undefined,
    cellFormat: (get('cellFormat') ?? 'json') as 'json',
    timeZone: get('timeZone'),
    userLocale: get('userLocale'),
    returnFieldsByFieldId: parseBoolean(get('returnFieldsByFieldId')),
    recordMetadata: metadata,
  });
}

const LIST_BODY_KEYS = new Set([
  'pageSize',
  'maxRecords',
  'offset',
  'fields',
  'filterByFormula',
  'sort',
  'view',
  'cellFormat',
  'timeZone',
  'userLocale',
  'returnFieldsByFieldId',
  'recordMetadata',
  // airtable.js sends its own `method: "post"` along in the body.
  'method',
]);

/** `POST /v0/{base}/{table}/listRecords`: the same parameters as a JSON body (timeZone/userLocale may stay in the query). */
export function listParamsFromBody(body: unknown, query: URLSearchParams): ListParams {
  const input = body === undefined ? {} : body;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw errors.invalidBody();
  const b = input as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!LIST_BODY_KEYS.has(key)) throw errors.invalidRequest();
  const strings = (value: unknown): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw errors.invalidRequest();
    return value as string[];
  };
  const optionalString = (value: unknown): string | undefined => {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') throw errors.invalidRequest();
    return value;
  };
  let sort: ListParams['sort'];
  if (b.sort !== undefined) {
    if (!Array.isArray(b.sort)) throw errors.invalidRequest();
    sort = b.sort.map((s: unknown) => {
      if (typeof s !== 'object' || s === null) throw errors.invalidRequest();
      const { field, direction } = s as { field?: unknown; direction?: unknown };
      return { field: field as string, direction: (direction ?? 'asc') as 'asc' | 'desc' };
    });
  }
  return checkListParams({
    pageSize: b.pageSize === undefined ? MAX_PAGE_SIZE : parseInteger(b.pageSize),
    maxRecords: b.maxRecords === undefined ? undefined : parseInteger(b.maxRecords),
    offset: optionalString(b.offset) || undefined,
    fields: strings(b.fields),
    filterByFormula: optionalString(b.filterByFormula),
    sort,
    view: optionalString(b.view) || undefined,
    cellFormat: (optionalString(b.cellFormat) ?? 'json') as 'json',
    timeZone: optionalString(b.timeZone) ?? query.get('timeZone') ?? undefined,
    userLocale: optionalString(b.userLocale) ?? query.get('userLocale') ?? undefined,
    returnFieldsByFieldId: parseBoolean(b.returnFieldsByFieldId),
    recordMetadata: strings(b.recordMetadata) ?? [],
  });
}

/**
 * Open list iterations. A page hands out `itr…/rec…`: the iteration and the first record of the
 * next page. The ids of a listing are fixed when it starts, so later pages neither repeat nor skip
 * records while others write. Iterations past the cap are rebuilt from the query and the record id.
 */
export class ListIterators {
  private readonly open = new Map<string, { tableId: string; ids: string[] }>();

  constructor(
    private readonly ids: IdFactory,
    private readonly cap = 500,
  ) {}

  start(tableId: string, ids: string[]): string {
    const id = this.ids.next('itr');
    this.open.set(id, { tableId, ids });
    if (this.open.size > this.cap) this.open.delete(this.open.keys().next().value as string);
    return id;
  }

  get(iteratorId: string, tableId: string): string[] | undefined {
    const found = this.open.get(iteratorId);
    return found && found.tableId === tableId ? found.ids : undefined;
  }
}

function compileFilter(store: EmulatorStore, table: TableState, text: string): CompiledFormula {
  try {
    return compileFormula(text, (nameOrId) => {
      const field = store.findField(table, nameOrId);
      return field ? { id: field.id, kind: formulaKindOfField(field) } : undefined;
    });
  } catch (err) {
    if (err instanceof UnknownFieldsError)
      throw errors.invalidFormula(`Unknown field names: ${err.names.join(', ')}`);
    if (err instanceof FormulaSyntaxError)
      throw errors.invalidFormula('Invalid formula. Please check your formula text.');
    throw err;
  }
}

function matches(
  formula: CompiledFormula,
  reader: RecordReader,
  table: TableState,
  record: RecordState,
): boolean {
  try {
    return truthy(formula.evaluate(reader.contextFor(table, record)));
  } catch (err) {
    if (err instanceof FormulaRuntimeError) return false;
    throw err;
  }
}

type SortKey = number | string | null;

function sortKey(reader: RecordReader, table: TableState, record: RecordState, field: FieldState): SortKey {
  if (field.type === 'singleSelect' || field.type === 'multipleSelects') {
    // Selects sort by the order of their choices, as in Airtable's grid.
    const stored = record.cells[field.id];
    const first = Array.isArray(stored) ? stored[0] : stored;
    if (typeof first !== 'string') return null;
    return choicesOf(field).findIndex((c) => c.id === first);
  }
  const value = reader.formulaValue(table, record, field);
  if (value === null || value === '' || (Array.isArray(value) && value.length === 0)) return null;
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && !Array.isArray(value)) return value.ms;
  if (NUMBER_TYPES.has(field.type)) return Number(value);
  return toText(value);
}

function compareKeys(a: SortKey, b: SortKey): number {
  // Empty cells come first in ascending order.
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { sensitivity: 'base', numeric: true });
}

/** Orders records by `sort` (a stable sort, so ties keep creation order). */
function sortRecords(
  reader: RecordReader,
  table: TableState,
  records: RecordState[],
  sort: Array<{ field: FieldState; direction: 'asc' | 'desc' }>,
): RecordState[] {
  if (sort.length === 0) return records;
  const keyed = records.map((record) => ({
    record,
    keys: sort.map((s) => sortKey(reader, table, record, s.field)),
  }));
  keyed.sort((x, y) => {
    for (let i = 0; i < sort.length; i++) {
      const order = compareKeys(x.keys[i]!, y.keys[i]!);
      if (order !== 0) return sort[i]!.direction === 'desc' ? -order : order;
    }
    return 0;
  });
  return keyed.map((k) => k.record);
}

function findView(table: TableState, nameOrId: string): ViewState {
  const view = table.views.find((v) => v.id === nameOrId) ?? table.views.find((v) => v.name === nameOrId);
  if (!view) throw errors.viewNotFound(nameOrId);
  return view;
}

function resolveFields(store: EmulatorStore, table: TableState, names: string[]): FieldState[] {
  return names.map((name) => {
    const field = store.findField(table, name);
    if (!field) throw errors.unknownFieldName(name);
    return field;
  });
}

/** The record as the API returns it. */
export function renderRecord(
  reader: RecordReader,
  table: TableState,
  record: RecordState,
  options: RenderOptions & { fields?: FieldState[]; byFieldId?: boolean; commentCount?: boolean },
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of options.fields ?? table.fields) {
    const value =
      options.cellFormat === 'string'
        ? reader.stringValue(table, record, field, options)
        : reader.jsonValue(table, record, field);
    if (isEmptyCell(value)) continue;
    fields[options.byFieldId ? field.id : field.name] = value;
  }
  const out: Record<string, unknown> = {
    id: record.id,
    createdTime: new Date(record.createdTime).toISOString(),
    fields,
  };
  if (options.commentCount) out.commentCount = record.comments.length;
  return out;
}

const OFFSET_PATTERN = /^(itr[A-Za-z0-9]{14})\/(rec[A-Za-z0-9]{14})$/;

/** Records a filter looks at before letting the server take other requests. */
const FILTER_SLICE = 500;

/**
 * The records `keep` accepts, `FILTER_SLICE` at a time with a turn of the event loop in between: a
 * formula over a large table takes the emulator hundreds of milliseconds, and Airtable counts a
 * request against the rate limit when it arrives, not when a busy server gets to it.
 */
async function filterInSlices(records: RecordState[], keep: (record: RecordState) => boolean) {
  const kept: RecordState[] = [];
  for (let start = 0; start < records.length; start += FILTER_SLICE) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const record of records.slice(start, start + FILTER_SLICE)) if (keep(record)) kept.push(record);
  }
  return kept;
}

/** List records, for GET and POST listRecords alike. */
export async function listRecords(
  call: RecordCall,
  params: ListParams,
  iterators: ListIterators,
): Promise<{ records: unknown[]; offset?: string }> {
  const { store, base, table } = call;
  const reader = new RecordReader(store, base, call.now);
  const view = params.view ? findView(table, params.view) : undefined;
  const outputFields = params.fields ? resolveFields(store, table, params.fields) : undefined;
  const sort = (params.sort ?? []).map((s) => {
    const field = store.findField(table, s.field);
    if (!field) throw errors.unknownFieldName(s.field);
    return { field, direction: s.direction };
  });
  const filter = params.filterByFormula ? compileFilter(store, table, params.filterByFormula) : undefined;

  const runQuery = async (): Promise<string[]> => {
    let records = table.records;
    if (view?.filterByFormula) {
      let viewFilter: CompiledFormula | undefined;
      try {
        viewFilter = compileFilter(store, table, view.filterByFormula);
      } catch {
        viewFilter = undefined;
      }
      if (viewFilter) records = await filterInSlices(records, (r) => matches(viewFilter, reader, table, r));
    }
    if (filter) records = await filterInSlices(records, (r) => matches(filter, reader, table, r));
    const order =
      sort.length > 0
        ? sort
        : (view?.sort ?? []).flatMap((s) => {
            const field = store.fieldById(table, s.fieldId);
            return field ? [{ field, direction: s.direction }] : [];
          });
    records = sortRecords(reader, table, records, order);
    const ids = records.map((r) => r.id);
    return params.maxRecords !== undefined ? ids.slice(0, params.maxRecords) : ids;
  };

  let ids: string[];
  let position = 0;
  let iteratorId: string | undefined;
  if (params.offset) {
    const match = OFFSET_PATTERN.exec(params.offset);
    if (!match) throw errors.invalidOffset(params.offset);
    iteratorId = match[1]!;
    const known = iterators.get(iteratorId, table.id);
    ids = known ?? (await runQuery());
    position = ids.indexOf(match[2]!);
    if (position < 0) {
      if (known) throw errors.invalidOffset(params.offset);
      throw errors.iteratorGone();
    }
    if (!known) iteratorId = iterators.start(table.id, ids);
  } else {
    ids = await runQuery();
  }

  const page: RecordState[] = [];
  let cursor = position;
  while (cursor < ids.length && page.length < params.pageSize) {
    const record = base.records.get(ids[cursor]!);
    cursor++;
    // Records deleted since the listing began are skipped.
    if (record && record.tableId === table.id) page.push(record);
  }
  while (cursor < ids.length && !base.records.has(ids[cursor]!)) cursor++;

  const renderOptions = {
    cellFormat: params.cellFormat,
    timeZone: params.timeZone,
    userLocale: params.userLocale,
    fields: outputFields,
    byFieldId: params.returnFieldsByFieldId,
    commentCount: params.recordMetadata.includes('commentCount'),
  };
  const result: { records: unknown[]; offset?: string } = {
    records: page.map((r) => renderRecord(reader, table, r, renderOptions)),
  };
  if (cursor < ids.length) {
    iteratorId ??= iterators.start(table.id, ids);
    result.offset = `${iteratorId}/${ids[cursor]}`;
  }
  return result;
}

/** `GET /v0/{base}/{table}/{recordId}`: any record of the base, whatever table the URL names. */
export function getRecord(call: RecordCall, recordId: string): Record<string, unknown> {
  const record = call.base.records.get(recordId);
  if (!record) throw errors.recordNotFound();
  const table = call.store.tableById(call.base, record.tableId)!;
  const cellFormat = (call.query.get('cellFormat') ?? 'json') as 'json' | 'string';
  const params = checkListParams({
    pageSize: 1,
    cellFormat,
    timeZone: call.query.get('timeZone') ?? undefined,
    userLocale: call.query.get('userLocale') ?? undefined,
    returnFieldsByFieldId: parseBoolean(call.query.get('returnFieldsByFieldId') ?? undefined),
    recordMetadata: recordMetadataFromQuery(call.query),
  });
  return renderRecord(new RecordReader(call.store, call.base, call.now), table, record, {
    cellFormat: params.cellFormat,
    timeZone: params.timeZone,
    userLocale: params.userLocale,
    byFieldId: params.returnFieldsByFieldId,
    commentCount: params.recordMetadata.includes('commentCount'),
  });
}

function asObject(body: unknown): Record<string, unknown> {
  if (body === undefined) throw errors.missingFields();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.invalidBody();
  return body as Record<string, unknown>;
}

function checkKeys(object: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) throw errors.invalidRequest();
}

function fieldsOf(record: unknown): Record<string, unknown> {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    throw errors.invalidRecords('Each record must be an object');
  const fields = (record as { fields?: unknown }).fields;
  if (fields === undefined) throw errors.missingFields();
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw errors.invalidRequest();
  return fields as Record<string, unknown>;
}

function batchOf(body: Record<string, unknown>, verb: 'created' | 'updated'): unknown[] {
  const records = body.records;
  if (!Array.isArray(records))
    throw errors.invalidRecords('The "records" parameter must be an array of records');
  if (records.length === 0) throw errors.invalidRecords(`At least one record must be ${verb} per request`);
  if (records.length > MAX_RECORDS_PER_WRITE) throw errors.tooManyRecords(verb, records.length);
  return records;
}

function writeOptions(
  call: RecordCall,
  body: Record<string, unknown>,
): { typecast: boolean; byFieldId: boolean } {
  return { typecast: parseBoolean(body.typecast), byFieldId: parseBoolean(body.returnFieldsByFieldId) };
}

/** `POST /v0/{base}/{table}`: 1–10 records, or one `{fields}`. */
export function createRecords(call: RecordCall): unknown {
  const body = asObject(call.body);
  checkKeys(body, ['records', 'fields', 'typecast', 'returnFieldsByFieldId']);
  const { typecast, byFieldId } = writeOptions(call, body);
  const single = body.records === undefined;
  if (single && body.fields === undefined) throw errors.missingFields();
  const inputs = single ? [body] : batchOf(body, 'created');
  const created = call.store.transaction((txn) => {
    const writer = new CellWriter(call.store, call.base, txn, { typecast, user: call.user, now: call.now });
    return inputs.map((input) => {
      if (!single && typeof input === 'object' && input !== null)
        checkKeys(input as Record<string, unknown>, ['fields']);
      const fields = fieldsOf(input);
      const record = writer.createRecord(call.table);
      writer.writeFields(call.table, record, fields, false);
      record.lastModifiedBy = undefined;
      return record;
    });
  });
  const reader = new RecordReader(call.store, call.base, call.now);
  const rendered = created.map((r) => renderRecord(reader, call.table, r, { cellFormat: 'json', byFieldId }));
  return single ? rendered[0] : { records: rendered };
}

function recordOfTable(call: RecordCall, id: unknown): RecordState {
  if (typeof id !== 'string') throw errors.invalidRecords('Each record to update needs an "id"');
  const record = call.base.records.get(id);
  if (!record || record.tableId !== call.table.id) throw errors.rowDoesNotExist(id);
  return record;
}

/** `PATCH`/`PUT /v0/{base}/{table}`: 1–10 records by id, or an upsert with `performUpsert`. */
export function updateRecords(call: RecordCall, destructive: boolean): unknown {
  const body = asObject(call.body);
  checkKeys(body, ['records', 'typecast', 'returnFieldsByFieldId', 'performUpsert']);
  const { typecast, byFieldId } = writeOptions(call, body);
  const inputs = batchOf(body, 'updated');
  const reader = new RecordReader(call.store, call.base, call.now);
  const render = (r: RecordState) => renderRecord(reader, call.table, r, { cellFormat: 'json', byFieldId });

  if (body.performUpsert !== undefined)
    return upsert(call, body.performUpsert, inputs, destructive, typecast, render);

  const updated = call.store.transaction((txn) => {
    const writer = new CellWriter(call.store, call.base, txn, { typecast, user: call.user, now: call.now });
    return inputs.map((input) => {
      if (typeof input === 'object' && input !== null)
        checkKeys(input as Record<string, unknown>, ['id', 'fields']);
      const fields = fieldsOf(input);
      const record = recordOfTable(call, (input as { id?: unknown }).id);
      writer.writeFields(call.table, record, fields, destructive);
      return record;
    });
  });
  return { records: updated.map(render) };
}

function upsert(
  call: RecordCall,
  performUpsert: unknown,
  inputs: unknown[],
  destructive: boolean,
  typecast: boolean,
  render: (r: RecordState) => unknown,
): unknown {
  if (typeof performUpsert !== 'object' || performUpsert === null || Array.isArray(performUpsert))
    throw errors.invalidRequest();
  checkKeys(performUpsert as Record<string, unknown>, ['fieldsToMergeOn']);
  const names = (performUpsert as { fieldsToMergeOn?: unknown }).fieldsToMergeOn;
  if (
    !Array.isArray(names) ||
    names.length < 1 ||
    names.length > 3 ||
    !names.every((n) => typeof n === 'string')
  ) {
    throw errors.invalidRequest(
      'Invalid request: performUpsert.fieldsToMergeOn must list 1 to 3 field names or ids.',
    );
  }
  const mergeFields = resolveFields(call.store, call.table, names as string[]);
  for (const field of mergeFields) {
    if (!MERGEABLE_TYPES.has(field.type)) {
      throw errors.invalidRequest(
        `Invalid request: field "${field.name}" of type ${field.type} cannot be used in fieldsToMergeOn (number, text, long text, single select, multiple select and date fields can).`,
      );
    }
  }
  // Matches are sought among the records as they were before this request.
  const existing = [...call.table.records];
  const createdIds: string[] = [];
  const updatedIds: string[] = [];
  const records = call.store.transaction((txn) => {
    const writer = new CellWriter(call.store, call.base, txn, { typecast, user: call.user, now: call.now });
    return inputs.map((input, index) => {
      if (typeof input === 'object' && input !== null)
        checkKeys(input as Record<string, unknown>, ['id', 'fields']);
      const fields = fieldsOf(input);
      const id = (input as { id?: unknown }).id;
      if (id !== undefined) {
        const record = recordOfTable(call, id);
        writer.writeFields(call.table, record, fields, destructive);
        updatedIds.push(record.id);
        return record;
      }
      const keys = mergeFields.map((field) => {
        const key = Object.keys(fields).find((k) => k === field.name || k === field.id);
        if (key === undefined) {
          throw errors.invalidRecords(
            `Record ${index} must include a value for every field in fieldsToMergeOn (missing "${field.name}")`,
          );
        }
        return {
          field,
          value: JSON.stringify(writer.normalizeForMatch(call.table, field, fields[key]) ?? null),
        };
      });
      const found = existing.filter(
        (r) =>
          call.base.records.has(r.id) &&
          keys.every(({ field, value }) => JSON.stringify(r.cells[field.id] ?? null) === value),
      );
      if (found.length > 1)
        throw errors.upsertAmbiguous(
          index,
          found.length,
          mergeFields.map((f) => f.name),
        );
      if (found.length === 1) {
        writer.writeFields(call.table, found[0]!, fields, destructive);
        updatedIds.push(found[0]!.id);
        return found[0]!;
      }
      const record = writer.createRecord(call.table);
      writer.writeFields(call.table, record, fields, false);
      record.lastModifiedBy = undefined;
      createdIds.push(record.id);
      return record;
    });
  });
  return { records: records.map(render), createdRecords: createdIds, updatedRecords: updatedIds };
}

/** `PATCH`/`PUT /v0/{base}/{table}/{recordId}` with `{fields}`. */
export function updateRecord(call: RecordCall, recordId: string, destructive: boolean): unknown {
  const record = call.base.records.get(recordId);
  if (!record || record.tableId !== call.table.id) throw errors.recordNotFound();
  const body = asObject(call.body);
  checkKeys(body, ['fields', 'typecast', 'returnFieldsByFieldId']);
  const { typecast, byFieldId } = writeOptions(call, body);
  const fields = fieldsOf(body);
  call.store.transaction((txn) => {
    new CellWriter(call.store, call.base, txn, { typecast, user: call.user, now: call.now }).writeFields(
      call.table,
      record,
      fields,
      destructive,
    );
  });
  return renderRecord(new RecordReader(call.store, call.base, call.now), call.table, record, {
    cellFormat: 'json',
    byFieldId,
  });
}

/** `DELETE /v0/{base}/{table}?records[]=…` (1–10). */
export function deleteRecords(call: RecordCall): unknown {
  const ids: string[] = [];
  let bare = false;
  for (const [key, value] of call.query) {
    if (key === 'records[]' || /^records\[\d+\]$/.test(key)) ids.push(value);
    else if (key === 'records') bare = true;
  }
  // Seen in clients: `records=rec…` without brackets, none, or more than 10 all get this answer.
  if (bare || ids.length === 0 || ids.length > MAX_RECORDS_PER_WRITE) {
    throw errors.invalidRecords('"records" must be an array of up to 10 record IDs.');
  }
  // Seen in clients: a batch delete naming a record that does not exist answers 404.
  const records = ids.map((id) => {
    const record = call.base.records.get(id);
    if (!record || record.tableId !== call.table.id) throw errors.recordNotFound();
    return record;
  });
  call.store.transaction((txn) => {
    const writer = new CellWriter(call.store, call.base, txn, {
      typecast: false,
      user: call.user,
      now: call.now,
    });
    for (const record of records) {
      if (!call.base.records.has(record.id)) continue;
      call.store.removeRecord(txn, call.base, call.table, record);
      writer.unlinkEverywhere(record, call.now);
    }
  });
  return { records: ids.map((id) => ({ id, deleted: true })) };
}

/** `DELETE /v0/{base}/{table}/{recordId}`. */
export function deleteRecord(call: RecordCall, recordId: string): unknown {
  const record = call.base.records.get(recordId);
  if (!record || record.tableId !== call.table.id) throw errors.recordNotFound();
  call.store.transaction((txn) => {
    call.store.removeRecord(txn, call.base, call.table, record);
    new CellWriter(call.store, call.base, txn, {
      typecast: false,
      user: call.user,
      now: call.now,
    }).unlinkEverywhere(record, call.now);
  });
  return { id: record.id, deleted: true };
}

export { ApiError, isAirtableId };
