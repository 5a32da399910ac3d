import { createHmac } from 'node:crypto';
import { RecordReader, formulaKindOfField } from './cells';
import { errors, typedError } from './errors';
import { COMPUTED_TYPES, isEmptyCell } from './field-types';
import { compileFormula, type CompiledFormula } from './formula/evaluate';
import { FormulaRuntimeError, truthy } from './formula/values';
import { describeField } from './meta';
import { isAirtableId, type IdFactory, type SeededRandom } from './random';
import {
  choicesOf,
  type BaseState,
  type EmulatorStore,
  type FieldState,
  type RecordState,
  type TableState,
  type Transaction,
  type WriteAction,
} from './store';
import type {
  EmulatorWebhook,
  WebhookActionSource,
  WebhookCellValues,
  WebhookChangePayload,
  WebhookCreatedTable,
  WebhookErrorCode,
  WebhookListing,
  WebhookNotificationResult,
  WebhookPayload,
  WebhookSpecification,
  WebhookTableChanges,
} from './types';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A webhook expires (and is disabled) 7 days after its creation, last refresh or payload listing. */
export const WEBHOOK_LIFETIME_MS = 7 * DAY_MS;
/** Payloads are deleted 7 days after they were made, read or not. */
export const PAYLOAD_RETENTION_MS = 7 * DAY_MS;
/** An expired webhook stays listed (disabled, its payloads readable) for 7 more days, then is gone. */
export const EXPIRED_WEBHOOK_RETENTION_MS = 7 * DAY_MS;
export const MAX_WEBHOOKS_PER_BASE = 10;
export const MAX_PAYLOADS_PER_PAGE = 50;
export const DEFAULT_MAX_RECORDS_PER_PAYLOAD = 100;

export const DATA_TYPES = ['tableData', 'tableFields', 'tableMetadata'] as const;
export const CHANGE_TYPES = ['add', 'remove', 'update'] as const;
export const ACTION_SOURCES: readonly WebhookActionSource[] = [
  'client',
  'publicApi',
  'formSubmission',
  'formPageSubmission',
  'automation',
  'system',
  'sync',
  'anonymousUser',
  'unknown',
];
export const WEBHOOK_ERROR_CODES: readonly WebhookErrorCode[] = [
  'INVALID_FILTERS',
  'INVALID_HOOK',
  'INTERNAL_ERROR',
];

/** The specification, read once for filtering. */
interface Filters {
  dataTypes: Set<string>;
  scopeTableId?: string;
  scopeViewId?: string;
  changeTypes?: Set<string>;
  fromSources?: Set<string>;
  watchData?: Set<string>;
  watchSchemas?: Set<string>;
  includeAll: boolean;
  includeFields: Set<string>;
  previousCells: boolean;
  previousFields: boolean;
}

interface StoredPayload {
  cursor: number;
  /** Emulator epoch ms when it was made (it is pruned 7 days later). */
  at: number;
  body: WebhookPayload;
}

interface HookState {
  id: string;
  baseId: string;
  notificationUrl: string | null;
  specification: WebhookSpecification;
  macSecretBase64: string;
  createdTime: number;
  expirationTime: number;
  /** Turned off by an error payload; an expired hook is disabled too, without this flag. */
  disabled: boolean;
  payloads: StoredPayload[];
  nextCursor: number;
  lastSuccessfulNotificationTime: number | null;
  lastNotificationResult: WebhookNotificationResult | null;
}

/** The saved form of the webhooks (`persistPath`). */
export interface PersistedWebhooks {
  hooks: HookState[];
  transactionNumbers: Record<string, number>;
}

export interface WebhookRegistryOptions {
  store: EmulatorStore;
  ids: IdFactory;
  random: SeededRandom;
  /** The emulator's clock (epoch ms), which tests can move forward. */
  now: () => number;
  maxRecordsPerPayload: number;
  sendPings: boolean;
  /** Called after webhook state changed (persistence). */
  onChange: () => void;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const invalidRequest = (detail: string) => errors.invalidRequest(`Invalid request: ${detail}`);
const invalidFilters = (detail: string) =>
  typedError(422, 'INVALID_FILTERS', `The webhook specification is invalid: ${detail}`);
const webhookNotFound = (id: string) =>
  typedError(404, 'NOT_FOUND', `Could not find a webhook with id ${JSON.stringify(id)} in this base`);

function checkKeys(object: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(object))
    if (!allowed.includes(key)) throw invalidRequest(`unknown key ${JSON.stringify(key)} in ${where}`);
}

/** An optional array of strings from `allowed` (or of ids when `allowed` is omitted); [] reads as absent. */
function stringList(value: unknown, where: string, allowed?: readonly string[]): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))
    throw invalidRequest(`${where} must be an array of strings`);
  for (const item of value as string[])
    if (allowed && !allowed.includes(item))
      throw invalidRequest(`${where} may contain ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  return value.length > 0 ? [...new Set(value as string[])] : undefined;
}

function optionalBoolean(value: unknown, where: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidRequest(`${where} must be a boolean`);
  return value;
}

function fieldExists(base: BaseState, id: string): boolean {
  return base.tables.some((t) => t.fields.some((f) => f.id === id));
}

/**
 * Checks a create request's `specification` and returns a clean copy (keys in Airtable's order,
 * empty optional lists dropped). Malformed input answers 422 `INVALID_REQUEST_UNKNOWN`; ids that
 * do not exist in the base answer 422 `INVALID_FILTERS`.
 */
export function readSpecification(base: BaseState, raw: unknown): WebhookSpecification {
  if (!isObject(raw)) throw invalidRequest('"specification" must be an object');
  checkKeys(raw, ['options'], 'specification');
  const options = raw.options;
  if (!isObject(options)) throw invalidRequest('"specification.options" must be an object');
  checkKeys(options, ['filters', 'includes'], 'specification.options');
  const filters = options.filters;
  if (!isObject(filters)) throw invalidRequest('"specification.options.filters" must be an object');
  checkKeys(
    filters,
    [
      'dataTypes',
      'recordChangeScope',
      'changeTypes',
      'fromSources',
      'sourceOptions',
      'watchDataInFieldIds',
      'watchSchemasOfFieldIds',
    ],
    'filters',
  );
  const dataTypes = stringList(filters.dataTypes, 'filters.dataTypes', DATA_TYPES);
  if (!dataTypes) throw invalidRequest('filters.dataTypes must list at least one data type');
  const out: WebhookSpecification['options']['filters'] = {
    dataTypes: dataTypes as WebhookSpecification['options']['filters']['dataTypes'],
  };
  if (filters.recordChangeScope !== undefined) {
    const scope = filters.recordChangeScope;
    if (typeof scope !== 'string')
      throw invalidRequest('filters.recordChangeScope must be a table or view id');
    const known = base.tables.some((t) => t.id === scope || t.views.some((v) => v.id === scope));
    if (!known) {
      if (!isAirtableId(scope, 'tbl') && !isAirtableId(scope, 'viw'))
        throw invalidFilters(`recordChangeScope ${JSON.stringify(scope)} is not a table or view id`);
      throw invalidFilters(`recordChangeScope ${scope} is not a table or view of this base`);
    }
    out.recordChangeScope = scope;
  }
  const changeTypes = stringList(filters.changeTypes, 'filters.changeTypes', CHANGE_TYPES);
  if (changeTypes) out.changeTypes = changeTypes as typeof out.changeTypes;
  const fromSources = stringList(filters.fromSources, 'filters.fromSources', ACTION_SOURCES);
  if (fromSources) out.fromSources = fromSources as typeof out.fromSources;
  if (filters.sourceOptions !== undefined) {
    if (!isObject(filters.sourceOptions)) throw invalidRequest('filters.sourceOptions must be an object');
    out.sourceOptions = structuredClone(filters.sourceOptions);
  }
  for (const key of ['watchDataInFieldIds', 'watchSchemasOfFieldIds'] as const) {
    const ids = stringList(filters[key], `filters.${key}`);
    if (!ids) continue;
    for (const id of ids)
      if (!fieldExists(base, id))
        throw invalidFilters(`${key} names ${JSON.stringify(id)}, not a field of this base`);
    out[key] = ids;
  }
  const specification: WebhookSpecification = { options: { filters: out } };
  if (options.includes !== undefined) {
    const includes = options.includes;
    if (!isObject(includes)) throw invalidRequest('"specification.options.includes" must be an object');
    checkKeys(
      includes,
      ['includeCellValuesInFieldIds', 'includePreviousCellValues', 'includePreviousFieldDefinitions'],
      'includes',
    );
    const clean: NonNullable<WebhookSpecification['options']['includes']> = {};
    const cells = includes.includeCellValuesInFieldIds;
    if (cells === 'all') clean.includeCellValuesInFieldIds = 'all';
    else if (cells !== undefined) {
      const ids = stringList(cells, 'includes.includeCellValuesInFieldIds');
      for (const id of ids ?? [])
        if (!fieldExists(base, id))
          throw invalidFilters(
            `includeCellValuesInFieldIds names ${JSON.stringify(id)}, not a field of this base`,
          );
      if (ids) clean.includeCellValuesInFieldIds = ids;
    }
    const previousCells = optionalBoolean(
      includes.includePreviousCellValues,
      'includes.includePreviousCellValues',
    );
    if (previousCells !== undefined) clean.includePreviousCellValues = previousCells;
    const previousFields = optionalBoolean(
      includes.includePreviousFieldDefinitions,
      'includes.includePreviousFieldDefinitions',
    );
    if (previousFields !== undefined) clean.includePreviousFieldDefinitions = previousFields;
    specification.options.includes = clean;
  }
  return specification;
}

function filtersOf(base: BaseState, specification: WebhookSpecification): Filters {
  const { filters, includes } = specification.options;
  const scope = filters.recordChangeScope;
  let scopeTableId: string | undefined;
  let scopeViewId: string | undefined;
  if (scope !== undefined) {
    if (scope.startsWith('viw')) {
      scopeViewId = scope;
      scopeTableId = base.tables.find((t) => t.views.some((v) => v.id === scope))?.id ?? '(gone)';
    } else scopeTableId = scope;
  }
  const set = (list: string[] | undefined) => (list && list.length > 0 ? new Set(list) : undefined);
  const cells = includes?.includeCellValuesInFieldIds;
  return {
    dataTypes: new Set(filters.dataTypes),
    scopeTableId,
    scopeViewId,
    changeTypes: set(filters.changeTypes),
    fromSources: set(filters.fromSources),
    watchData: set(filters.watchDataInFieldIds),
    watchSchemas: set(filters.watchSchemasOfFieldIds),
    includeAll: cells === 'all',
    includeFields: new Set(Array.isArray(cells) ? cells : []),
    previousCells: includes?.includePreviousCellValues === true,
    previousFields: includes?.includePreviousFieldDefinitions === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Schema snapshots: taken just before a transaction's first schema change, compared at commit.

interface FieldSnapshot {
  id: string;
  name: string;
  type: string;
  description: string | null;
  options: Record<string, unknown> | null;
}

interface TableSnapshot {
  id: string;
  name: string;
  description: string | null;
  fields: Map<string, FieldSnapshot>;
  viewIds: string[];
}

type SchemaSnapshot = Map<string, TableSnapshot>;

function snapshotSchema(store: EmulatorStore, base: BaseState): SchemaSnapshot {
  const snapshot: SchemaSnapshot = new Map();
  for (const table of base.tables) {
    const fields = new Map<string, FieldSnapshot>();
    for (const field of table.fields) {
      const described = describeField(store, table, field) as {
        description?: string;
        options?: Record<string, unknown>;
      };
      fields.set(field.id, {
        id: field.id,
        name: field.name,
        type: field.type,
        description: described.description ?? null,
        options: described.options ? structuredClone(described.options) : null,
      });
    }
    snapshot.set(table.id, {
      id: table.id,
      name: table.name,
      description: table.description ?? null,
      fields,
      viewIds: table.views.map((v) => v.id),
    });
  }
  return snapshot;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

interface FieldChange {
  id: string;
  current: Record<string, unknown>;
  previous: Record<string, unknown>;
}

interface TableSchemaChanges {
  metadata?: { current: Record<string, unknown>; previous: Record<string, unknown> };
  createdFields: FieldSnapshot[];
  changedFields: FieldChange[];
  destroyedFieldIds: string[];
}

interface SchemaDiff {
  createdTables: TableSnapshot[];
  destroyedTableIds: string[];
  tables: Map<string, TableSchemaChanges>;
  /** Every table, view and field id that no longer exists. */
  gone: Set<string>;
}

function diffSchema(before: SchemaSnapshot, after: SchemaSnapshot): SchemaDiff {
  const diff: SchemaDiff = { createdTables: [], destroyedTableIds: [], tables: new Map(), gone: new Set() };
  for (const [id, table] of before) {
    if (after.has(id)) continue;
    diff.destroyedTableIds.push(id);
    diff.gone.add(id);
    for (const viewId of table.viewIds) diff.gone.add(viewId);
    for (const fieldId of table.fields.keys()) diff.gone.add(fieldId);
  }
  for (const [id, table] of after) {
    const old = before.get(id);
    if (!old) {
      diff.createdTables.push(table);
      continue;
    }
    for (const viewId of old.viewIds) if (!table.viewIds.includes(viewId)) diff.gone.add(viewId);
    const changes: TableSchemaChanges = { createdFields: [], changedFields: [], destroyedFieldIds: [] };
    const current: Record<string, unknown> = {};
    const previous: Record<string, unknown> = {};
    for (const key of ['name', 'description'] as const) {
      if (old[key] !== table[key]) {
        current[key] = table[key];
        previous[key] = old[key];
      }
    }
    if (Object.keys(current).length > 0) changes.metadata = { current, previous };
    for (const [fieldId, field] of table.fields) {
      const was = old.fields.get(fieldId);
      if (!was) {
        changes.createdFields.push(field);
        continue;
      }
      const now: Record<string, unknown> = {};
      const then: Record<string, unknown> = {};
      for (const key of ['name', 'type', 'description', 'options'] as const) {
        if (!same(was[key], field[key])) {
          now[key] = field[key];
          then[key] = was[key];
        }
      }
      if (Object.keys(now).length > 0)
        changes.changedFields.push({ id: fieldId, current: now, previous: then });
    }
    for (const fieldId of old.fields.keys()) {
      if (table.fields.has(fieldId)) continue;
      changes.destroyedFieldIds.push(fieldId);
      diff.gone.add(fieldId);
    }
    if (
      changes.metadata ||
      changes.createdFields.length > 0 ||
      changes.changedFields.length > 0 ||
      changes.destroyedFieldIds.length > 0
    )
      diff.tables.set(id, changes);
  }
  return diff;
}

// ---------------------------------------------------------------------------------------------
// Record changes, folded from the transaction's journal.

interface ChangedRecord {
  record: RecordState;
  /** Stored value of each changed field before the action (only fields whose value differs now). */
  before: Map<string, unknown>;
}

interface TableRecordChanges {
  created: Map<string, RecordState>;
  changed: Map<string, ChangedRecord>;
  destroyed: Map<string, RecordState>;
}

function foldJournal(txn: Transaction): Map<string, TableRecordChanges> {
  const byTable = new Map<string, TableRecordChanges>();
  const forTable = (tableId: string): TableRecordChanges => {
    let entry = byTable.get(tableId);
    if (!entry) {
      entry = { created: new Map(), changed: new Map(), destroyed: new Map() };
      byTable.set(tableId, entry);
    }
    return entry;
  };
  for (const event of txn.events) {
    if (event.type === 'recordCreated') {
      forTable(event.table.id).created.set(event.record.id, event.record);
    } else if (event.type === 'recordDestroyed') {
      const entry = forTable(event.table.id);
      if (entry.created.delete(event.record.id)) continue;
      entry.changed.delete(event.record.id);
      entry.destroyed.set(event.record.id, event.record);
    } else {
      const entry = forTable(event.record.tableId);
      if (entry.created.has(event.record.id) || entry.destroyed.has(event.record.id)) continue;
      let changed = entry.changed.get(event.record.id);
      if (!changed) {
        changed = { record: event.record, before: new Map() };
        entry.changed.set(event.record.id, changed);
      }
      if (!changed.before.has(event.fieldId)) changed.before.set(event.fieldId, event.before);
    }
  }
  for (const entry of byTable.values()) {
    for (const [id, changed] of entry.changed) {
      for (const [fieldId, before] of changed.before)
        if (same(before ?? null, changed.record.cells[fieldId] ?? null)) changed.before.delete(fieldId);
      if (changed.before.size === 0) entry.changed.delete(id);
    }
  }
  return byTable;
}

// ---------------------------------------------------------------------------------------------
// Cell values in the webhooks' V2 format: selects as {id, name, color}, links as [{id, name}],
// lookups as {valuesByLinkedRecordId, linkedRecordIds}, anything empty as null.

class CellRenderer {
  readonly reader: RecordReader;

  constructor(
    private readonly store: EmulatorStore,
    private readonly base: BaseState,
    now: number,
    /** Records the action deleted: links to them still show their names in `previous`. */
    private readonly destroyed: ReadonlyMap<string, RecordState> = new Map(),
  ) {
    this.reader = new RecordReader(store, base, now);
  }

  /** The V2 value of a stored (non-computed) cell, or null when empty. */
  stored(field: FieldState, value: unknown): unknown {
    if (value === undefined || value === null) return null;
    switch (field.type) {
      case 'singleSelect':
        return this.choice(field, value);
      case 'multipleSelects':
        return Array.isArray(value) ? value.map((id) => this.choice(field, id)) : null;
      case 'multipleRecordLinks':
        return Array.isArray(value) ? value.map((id) => ({ id, name: this.primaryName(String(id)) })) : null;
      default:
        return isEmptyCell(value) ? null : structuredClone(value);
    }
  }

  /** The V2 value of any cell of the record as it is now (computed cells included), or null. */
  current(table: TableState, record: RecordState, field: FieldState): unknown {
    if (!COMPUTED_TYPES.has(field.type)) return this.stored(field, record.cells[field.id]);
    if (field.type === 'lookup' || field.type === 'multipleLookupValues')
      return this.lookup(table, record, field);
    const value = this.reader.jsonValue(table, record, field);
    return isEmptyCell(value) ? null : structuredClone(value);
  }

  private choice(field: FieldState, id: unknown): unknown {
    const choice = choicesOf(field).find((c) => c.id === id);
    if (!choice) return { id, name: String(id) };
    return choice.color
      ? { id: choice.id, name: choice.name, color: choice.color }
      : { id: choice.id, name: choice.name };
  }

  private primaryName(recordId: string): string {
    const record = this.base.records.get(recordId) ?? this.destroyed.get(recordId);
    if (!record) return '';
    const table = this.store.tableById(this.base, record.tableId);
    if (!table) return '';
    return (
      this.reader.stringValue(table, record, this.store.primaryField(table), {
        cellFormat: 'string',
        timeZone: 'UTC',
        userLocale: 'en-us',
      }) ?? ''
    );
  }

  private lookup(table: TableState, record: RecordState, field: FieldState): unknown {
    const linkField = this.store.fieldById(table, String(field.options?.recordLinkFieldId));
    const linkedTable =
      linkField && this.store.tableById(this.base, String(linkField.options?.linkedTableId));
    const target =
      linkedTable && this.store.fieldById(linkedTable, String(field.options?.fieldIdInLinkedTable));
    const ids = linkField ? record.cells[linkField.id] : undefined;
    if (!linkedTable || !target || !Array.isArray(ids) || ids.length === 0) return null;
    const valuesByLinkedRecordId: Record<string, unknown[]> = {};
    const linkedRecordIds: string[] = [];
    for (const id of ids as string[]) {
      const linked = this.base.records.get(id);
      if (!linked) continue;
      linkedRecordIds.push(id);
      const value = this.current(linkedTable, linked, target);
      valuesByLinkedRecordId[id] = value === null ? [] : Array.isArray(value) ? value : [value];
    }
    return linkedRecordIds.length > 0 ? { valuesByLinkedRecordId, linkedRecordIds } : null;
  }
}

/** Whether a record shows in a view (its filter formula), the way the record list endpoints decide. */
function viewMatcher(
  store: EmulatorStore,
  reader: RecordReader,
  table: TableState,
  viewId: string,
): (record: RecordState) => boolean {
  const view = table.views.find((v) => v.id === viewId);
  if (!view?.filterByFormula) return () => true;
  let compiled: CompiledFormula;
  try {
    compiled = compileFormula(view.filterByFormula, (nameOrId) => {
      const field = store.findField(table, nameOrId);
      return field ? { id: field.id, kind: formulaKindOfField(field) } : undefined;
    });
  } catch {
    return () => true;
  }
  return (record) => {
    try {
      return truthy(compiled.evaluate(reader.contextFor(table, record)));
    } catch (err) {
      if (err instanceof FormulaRuntimeError) return false;
      throw err;
    }
  };
}

/** The record as it was before the action (its changed cells put back). */
function recordBefore(changed: ChangedRecord): RecordState {
  const cells = { ...changed.record.cells };
  for (const [fieldId, value] of changed.before) {
    if (value === undefined) delete cells[fieldId];
    else cells[fieldId] = value;
  }
  return { ...changed.record, cells };
}

/** One record change, the unit payloads are split by. */
interface RecordUnit {
  tableId: string;
  /** The table was created by this action: the record goes to `createdTablesById…recordsById`. */
  inCreatedTable: boolean;
  kind: 'created' | 'changed' | 'destroyed';
  recordId: string;
  value?: unknown;
  /** Also listed under `changedViewsById[viewId]`. */
  viewId?: string;
}

interface ActionChanges {
  base: BaseState;
  action: WriteAction;
  transactionNumber: number;
  records: Map<string, TableRecordChanges>;
  schema: SchemaDiff | undefined;
}

/** The registry of every webhook, the payloads they keep, and the notification pings. */
export class WebhookRegistry {
  private readonly hooks = new Map<string, HookState>();
  private readonly transactionNumbers = new Map<string, number>();
  private readonly schemaBefore = new WeakMap<Transaction, SchemaSnapshot>();
  private readonly pings = new Set<AbortController>();
  maxRecordsPerPayload: number;
  sendPings: boolean;

  constructor(private readonly options: WebhookRegistryOptions) {
    this.maxRecordsPerPayload = options.maxRecordsPerPayload;
    this.sendPings = options.sendPings;
  }

  // --- housekeeping ------------------------------------------------------------------------

  /** Drops payloads older than 7 days and hooks expired for more than 7 days. */
  maintain(now = this.options.now()): void {
    let changed = false;
    for (const [id, hook] of this.hooks) {
      if (now >= hook.expirationTime + EXPIRED_WEBHOOK_RETENTION_MS) {
        this.hooks.delete(id);
        changed = true;
        continue;
      }
      const keep = hook.payloads.filter((p) => now - p.at < PAYLOAD_RETENTION_MS);
      if (keep.length !== hook.payloads.length) {
        hook.payloads = keep;
        changed = true;
      }
    }
    if (changed) this.options.onChange();
  }

  private isActive(hook: HookState, now: number): boolean {
    return !hook.disabled && now < hook.expirationTime;
  }

  private hooksOf(baseId: string): HookState[] {
    return [...this.hooks.values()].filter((h) => h.baseId === baseId);
  }

  private hookOf(base: BaseState, id: string): HookState {
    const hook = this.hooks.get(id);
    if (!hook || hook.baseId !== base.id) throw webhookNotFound(id);
    return hook;
  }

  private listing(hook: HookState, now: number): WebhookListing {
    const active = this.isActive(hook, now);
    return {
      id: hook.id,
      areNotificationsEnabled: active && hook.notificationUrl !== null,
      cursorForNextPayload: hook.nextCursor,
      isHookEnabled: active,
      lastSuccessfulNotificationTime:
        hook.lastSuccessfulNotificationTime === null ? null : iso(hook.lastSuccessfulNotificationTime),
      notificationUrl: hook.notificationUrl,
      expirationTime: iso(hook.expirationTime),
      specification: structuredClone(hook.specification),
      lastNotificationResult: hook.lastNotificationResult
        ? structuredClone(hook.lastNotificationResult)
        : null,
    };
  }

  // --- the Web API ---------------------------------------------------------------------------

  /** `POST /v0/bases/{baseId}/webhooks`. */
  create(base: BaseState, body: unknown): { id: string; macSecretBase64: string; expirationTime: string } {
    const now = this.options.now();
    this.maintain(now);
    if (!isObject(body)) throw errors.invalidBody();
    checkKeys(body, ['notificationUrl', 'specification'], 'the request body');
    let notificationUrl: string | null = null;
    if (body.notificationUrl !== undefined && body.notificationUrl !== null) {
      const url = body.notificationUrl;
      let valid = false;
      if (typeof url === 'string') {
        try {
          const protocol = new URL(url).protocol;
          valid = protocol === 'https:' || protocol === 'http:';
        } catch {
          valid = false;
        }
      }
      if (!valid) throw invalidRequest('"notificationUrl" must be an http or https URL');
      notificationUrl = url as string;
    }
    if (body.specification === undefined) throw invalidRequest('"specification" is required');
    const specification = readSpecification(base, body.specification);
    if (this.hooksOf(base.id).length >= MAX_WEBHOOKS_PER_BASE) {
      throw typedError(
        422,
        'TOO_MANY_WEBHOOKS_IN_BASE',
        `A base can have at most ${MAX_WEBHOOKS_PER_BASE} webhooks; delete one first`,
      );
    }
    const secret = Buffer.alloc(32);
    for (let i = 0; i < secret.length; i++) secret[i] = this.options.random.int(0, 255);
    const hook: HookState = {
      id: this.options.ids.next('ach'),
      baseId: base.id,
      notificationUrl,
      specification,
      macSecretBase64: secret.toString('base64'),
      createdTime: now,
      expirationTime: now + WEBHOOK_LIFETIME_MS,
      disabled: false,
      payloads: [],
      nextCursor: 1,
      lastSuccessfulNotificationTime: null,
      lastNotificationResult: null,
    };
    this.hooks.set(hook.id, hook);
    this.options.onChange();
    return { id: hook.id, macSecretBase64: hook.macSecretBase64, expirationTime: iso(hook.expirationTime) };
  }

  /** `GET /v0/bases/{baseId}/webhooks`. */
  list(base: BaseState): { webhooks: WebhookListing[] } {
    const now = this.options.now();
    this.maintain(now);
    return { webhooks: this.hooksOf(base.id).map((h) => this.listing(h, now)) };
  }

  /** `DELETE /v0/bases/{baseId}/webhooks/{id}`. */
  remove(base: BaseState, id: string): Record<string, never> {
    this.maintain();
    this.hookOf(base, id);
    this.hooks.delete(id);
    this.options.onChange();
    return {};
  }

  /** `POST /v0/bases/{baseId}/webhooks/{id}/refresh`: only an active hook can be refreshed. */
  refresh(base: BaseState, id: string): { expirationTime: string } {
    const now = this.options.now();
    this.maintain(now);
    const hook = this.hookOf(base, id);
    if (!this.isActive(hook, now)) {
      throw typedError(
        422,
        'CANNOT_REFRESH_DISABLED_WEBHOOK',
        'This webhook has expired or been disabled; create a new webhook instead',
      );
    }
    hook.expirationTime = now + WEBHOOK_LIFETIME_MS;
    this.options.onChange();
    return { expirationTime: iso(hook.expirationTime) };
  }

  /**
   * `GET /v0/bases/{baseId}/webhooks/{id}/payloads?cursor=N&limit=L`. Listing extends an active
   * hook's life by 7 days. Payloads come in cursor order from the first kept one numbered `cursor` or
   * more; the answer's `cursor` is the last returned one's number + 1, or the requested cursor when
   * none is returned. So the first returned payload is number `answer.cursor - payloads.length`, and
   * when that is above the cursor asked for, the payloads in between were pruned (7 days old). With
   * nothing returned, a `cursorForNextPayload` (list webhooks) above the cursor asked for means the
   * same.
   */
  listPayloads(
    base: BaseState,
    id: string,
    query: URLSearchParams,
  ): { payloads: WebhookPayload[]; cursor: number; mightHaveMore: boolean } {
    const now = this.options.now();
    this.maintain(now);
    const hook = this.hookOf(base, id);
    for (const key of query.keys())
      if (key !== 'cursor' && key !== 'limit')
        throw invalidRequest(`unknown parameter ${JSON.stringify(key)}`);
    const integer = (name: string, fallback: number, max: number): number => {
      const raw = query.get(name);
      if (raw === null || raw === '') return fallback;
      if (!/^\d+$/.test(raw.trim())) throw invalidRequest(`${name} must be a positive integer`);
      const value = Number(raw);
      if (value < 1 || value > max) throw invalidRequest(`${name} must be from 1 to ${max}`);
      return value;
    };
    const cursor = integer('cursor', 1, Number.MAX_SAFE_INTEGER);
    const limit = integer('limit', MAX_PAYLOADS_PER_PAGE, MAX_PAYLOADS_PER_PAGE);
    if (this.isActive(hook, now)) {
      hook.expirationTime = now + WEBHOOK_LIFETIME_MS;
      this.options.onChange();
    }
    const start = hook.payloads.findIndex((p) => p.cursor >= cursor);
    const page = start < 0 ? [] : hook.payloads.slice(start, start + limit);
    // As Airtable documents it: the number after the last payload returned, or the cursor asked for.
    const next = page.length > 0 ? page[page.length - 1]!.cursor + 1 : cursor;
    return {
      payloads: page.map((p) => structuredClone(p.body)),
      cursor: next,
      mightHaveMore: hook.payloads.some((p) => p.cursor >= next),
    };
  }

  // --- test controls -------------------------------------------------------------------------

  /** Every webhook of a base with its kept payloads (reading them does not extend the hook's life). */
  describe(baseId: string): EmulatorWebhook[] {
    const now = this.options.now();
    this.maintain(now);
    return this.hooksOf(baseId).map((hook) => ({
      ...this.listing(hook, now),
      baseId: hook.baseId,
      createdTime: iso(hook.createdTime),
      expired: now >= hook.expirationTime,
      payloads: hook.payloads.map((p) => ({
        cursor: p.cursor,
        createdTime: iso(p.at),
        payload: structuredClone(p.body),
      })),
    }));
  }

  /**
   * Appends an error payload `{error: true, code}` to a hook, as Airtable does when a hook breaks;
   * `disable` (default: true except for INTERNAL_ERROR) turns the hook off (`isHookEnabled: false`).
   */
  injectError(baseId: string, webhookId: string, code: WebhookErrorCode, disable?: boolean): EmulatorWebhook {
    if (!WEBHOOK_ERROR_CODES.includes(code))
      throw new TypeError(`code must be one of ${WEBHOOK_ERROR_CODES.join(', ')}`);
    if (disable !== undefined && typeof disable !== 'boolean')
      throw new TypeError('disable must be a boolean');
    const now = this.options.now();
    this.maintain(now);
    const hook = this.hooks.get(webhookId);
    if (!hook || hook.baseId !== baseId) throw new Error(`No webhook ${webhookId} in base ${baseId}`);
    this.append(hook, [{ error: true, code }], now);
    if (disable ?? code !== 'INTERNAL_ERROR') hook.disabled = true;
    this.options.onChange();
    return this.describe(baseId).find((h) => h.id === webhookId)!;
  }

  /** Stops pending pings (on close). */
  close(): void {
    for (const controller of this.pings) controller.abort();
    this.pings.clear();
  }

  serialize(): PersistedWebhooks {
    return {
      hooks: [...this.hooks.values()].map((h) => structuredClone(h)),
      transactionNumbers: Object.fromEntries(this.transactionNumbers),
    };
  }

  restore(saved: PersistedWebhooks | undefined): void {
    if (!saved) return;
    for (const hook of saved.hooks ?? []) {
      this.options.ids.reserve(hook.id);
      this.hooks.set(hook.id, structuredClone(hook));
    }
    for (const [baseId, n] of Object.entries(saved.transactionNumbers ?? {}))
      this.transactionNumbers.set(baseId, n);
  }

  // --- change capture ------------------------------------------------------------------------

  /** Store hook: the schema of the acting base, just before a transaction first changes it. */
  schemaWillChange(txn: Transaction, action: WriteAction | undefined): void {
    if (!action || this.hooksOf(action.baseId).length === 0) return;
    const base = this.options.store.bases.get(action.baseId);
    if (base) this.schemaBefore.set(txn, snapshotSchema(this.options.store, base));
  }

  /** Store hook: a transaction committed; turns its changes into payloads for every matching hook. */
  commit(txn: Transaction, action: WriteAction | undefined): void {
    if (!action) return;
    const { store } = this.options;
    const base = store.bases.get(action.baseId);
    if (!base) return;
    // Every committed change of a base is a base transaction, reported or not.
    const transactionNumber = (this.transactionNumbers.get(base.id) ?? 0) + 1;
    this.transactionNumbers.set(base.id, transactionNumber);
    if (this.hooksOf(base.id).length === 0) return;
    const before = this.schemaBefore.get(txn);
    const schema = before ? diffSchema(before, snapshotSchema(store, base)) : undefined;
    const schemaChanged =
      schema !== undefined &&
      (schema.createdTables.length > 0 || schema.destroyedTableIds.length > 0 || schema.tables.size > 0);
    const records = foldJournal(txn);
    const recordsChanged = [...records.values()].some(
      (r) => r.created.size > 0 || r.changed.size > 0 || r.destroyed.size > 0,
    );
    if (!schemaChanged && !recordsChanged) return;
    const now = action.at;
    this.maintain(now);
    const changes: ActionChanges = { base, action, transactionNumber, records, schema };
    const destroyed = new Map<string, RecordState>();
    for (const change of records.values())
      for (const [id, record] of change.destroyed) destroyed.set(id, record);
    const renderer = new CellRenderer(store, base, now, destroyed);
    let changed = false;
    for (const hook of this.hooksOf(base.id)) {
      if (!this.isActive(hook, now)) continue;
      const bodies = this.payloadsFor(hook, changes, renderer);
      if (bodies.length > 0) this.append(hook, bodies, now);
      // A table, view or field the specification names is gone: the hook's filters are invalid.
      const spec = hook.specification.options.filters;
      const named = [
        spec.recordChangeScope,
        ...(spec.watchDataInFieldIds ?? []),
        ...(spec.watchSchemasOfFieldIds ?? []),
      ];
      if (schema && named.some((id) => id !== undefined && schema.gone.has(id))) {
        this.append(hook, [{ error: true, code: 'INVALID_FILTERS' }], now);
        hook.disabled = true;
      }
      changed = changed || bodies.length > 0 || hook.disabled;
    }
    if (changed) this.options.onChange();
  }

  private append(hook: HookState, bodies: WebhookPayload[], now: number): void {
    for (const body of bodies) hook.payloads.push({ cursor: hook.nextCursor++, at: now, body });
    this.ping(hook, now);
  }

  /** The payloads one action makes for one hook (none when its filters leave nothing). */
  private payloadsFor(hook: HookState, changes: ActionChanges, renderer: CellRenderer): WebhookPayload[] {
    const { base, action, schema } = changes;
    const { store } = this.options;
    const f = filtersOf(base, hook.specification);
    if (f.fromSources && !f.fromSources.has(action.source)) return [];
    const allows = (type: 'add' | 'remove' | 'update') => !f.changeTypes || f.changeTypes.has(type);
    const inScope = (tableId: string) => !f.scopeTableId || f.scopeTableId === tableId;
    const wantsData = f.dataTypes.has('tableData');
    const wantsFields = f.dataTypes.has('tableFields');
    const wantsMetadata = f.dataTypes.has('tableMetadata');
    const watchesSchema = (fieldId: string) => !f.watchSchemas || f.watchSchemas.has(fieldId);
    const fieldDefinition = (field: FieldSnapshot) => ({ name: field.name, type: field.type });

    const tables: Record<string, WebhookTableChanges> = {};
    const createdTables: Record<string, WebhookCreatedTable> = {};
    const destroyedTableIds: string[] = [];
    const units: RecordUnit[] = [];
    const createdTableIds = new Set(schema?.createdTables.map((t) => t.id) ?? []);

    if (schema) {
      for (const id of schema.destroyedTableIds)
        if (inScope(id) && allows('remove')) destroyedTableIds.push(id);
      for (const table of schema.createdTables) {
        if (!inScope(table.id) || !allows('add')) continue;
        const entry: WebhookCreatedTable = {};
        if (wantsMetadata) entry.metadata = { name: table.name, description: table.description };
        if (wantsFields) {
          const fields = [...table.fields.values()].filter((fd) => watchesSchema(fd.id));
          if (fields.length > 0)
            entry.fieldsById = Object.fromEntries(fields.map((fd) => [fd.id, fieldDefinition(fd)]));
        }
        if (Object.keys(entry).length > 0) createdTables[table.id] = entry;
      }
      for (const [tableId, change] of schema.tables) {
        if (!inScope(tableId)) continue;
        const entry: WebhookTableChanges = {};
        if (wantsMetadata && change.metadata && allows('update')) {
          entry.changedMetadata = {
            current: change.metadata.current,
            previous: change.metadata.previous,
          };
        }
        if (wantsFields) {
          const created = change.createdFields.filter((fd) => watchesSchema(fd.id));
          if (created.length > 0 && allows('add'))
            entry.createdFieldsById = Object.fromEntries(created.map((fd) => [fd.id, fieldDefinition(fd)]));
          const changedFields = change.changedFields.filter((fd) => watchesSchema(fd.id));
          if (changedFields.length > 0 && allows('update')) {
            entry.changedFieldsById = Object.fromEntries(
              changedFields.map((fd) => [
                fd.id,
                f.previousFields ? { current: fd.current, previous: fd.previous } : { current: fd.current },
              ]),
            );
          }
          const destroyed = change.destroyedFieldIds.filter((id) => watchesSchema(id));
          if (destroyed.length > 0 && allows('remove')) entry.destroyedFieldIds = destroyed;
        }
        if (Object.keys(entry).length > 0) tables[tableId] = entry;
      }
    }

    if (wantsData) {
      for (const [tableId, change] of changes.records) {
        if (!inScope(tableId)) continue;
        const table = store.tableById(base, tableId);
        if (!table) continue;
        const inCreatedTable = createdTableIds.has(tableId);
        const inView = f.scopeViewId ? viewMatcher(store, renderer.reader, table, f.scopeViewId) : undefined;
        const included = (field: FieldState) => f.includeAll || f.includeFields.has(field.id);
        if (allows('add')) {
          for (const record of change.created.values()) {
            if (inView && !inView(record)) continue;
            const cells: Record<string, unknown> = {};
            for (const field of table.fields) {
              if (COMPUTED_TYPES.has(field.type) && !included(field)) continue;
              const value = renderer.current(table, record, field);
              if (value !== null) cells[field.id] = value;
            }
            units.push({
              tableId,
              inCreatedTable,
              kind: 'created',
              recordId: record.id,
              value: { cellValuesByFieldId: cells, createdTime: iso(record.createdTime) },
              viewId: f.scopeViewId,
            });
          }
        }
        if (allows('update')) {
          for (const changed of change.changed.values()) {
            const fieldIds = [...changed.before.keys()];
            if (f.watchData && !fieldIds.some((id) => f.watchData!.has(id))) continue;
            if (inView && !inView(changed.record) && !inView(recordBefore(changed))) continue;
            const shown = table.fields.filter(
              (field) =>
                changed.before.has(field.id) &&
                (!f.watchData || f.watchData.has(field.id) || included(field)),
            );
            const current: WebhookCellValues = { cellValuesByFieldId: {} };
            const previous: WebhookCellValues = { cellValuesByFieldId: {} };
            for (const field of shown) {
              current.cellValuesByFieldId[field.id] = renderer.stored(field, changed.record.cells[field.id]);
              previous.cellValuesByFieldId[field.id] = renderer.stored(field, changed.before.get(field.id));
            }
            const value: {
              current: WebhookCellValues;
              previous?: WebhookCellValues;
              unchanged?: WebhookCellValues;
            } = { current };
            if (f.previousCells) value.previous = previous;
            const unchangedFields = table.fields.filter(
              (field) => included(field) && !changed.before.has(field.id),
            );
            if (unchangedFields.length > 0) {
              value.unchanged = {
                cellValuesByFieldId: Object.fromEntries(
                  unchangedFields.map((field) => [field.id, renderer.current(table, changed.record, field)]),
                ),
              };
            }
            units.push({
              tableId,
              inCreatedTable,
              kind: 'changed',
              recordId: changed.record.id,
              value,
              viewId: f.scopeViewId,
            });
          }
        }
        if (allows('remove')) {
          for (const record of change.destroyed.values()) {
            if (inView && !inView(record)) continue;
            units.push({
              tableId,
              inCreatedTable,
              kind: 'destroyed',
              recordId: record.id,
              viewId: f.scopeViewId,
            });
          }
        }
      }
    }

    const schemaPart =
      Object.keys(tables).length > 0 || Object.keys(createdTables).length > 0 || destroyedTableIds.length > 0;
    if (!schemaPart && units.length === 0) return [];

    const max = Math.max(1, this.maxRecordsPerPayload);
    const chunks: RecordUnit[][] = [];
    for (let i = 0; i < units.length; i += max) chunks.push(units.slice(i, i + max));
    if (chunks.length === 0) chunks.push([]);
    return chunks.map((chunk, index) => {
      const body: WebhookChangePayload = {
        timestamp: iso(action.at),
        baseTransactionNumber: changes.transactionNumber,
        actionMetadata: {
          source: action.source,
          sourceMetadata: structuredClone(action.sourceMetadata),
        },
        payloadFormat: 'v0',
      };
      const changedTables: Record<string, WebhookTableChanges> = index === 0 ? structuredClone(tables) : {};
      const created: Record<string, WebhookCreatedTable> = index === 0 ? structuredClone(createdTables) : {};
      for (const unit of chunk) {
        if (unit.inCreatedTable) {
          if (unit.kind !== 'created') continue;
          const entry = (created[unit.tableId] ??= {});
          (entry.recordsById ??= {})[unit.recordId] = unit.value as WebhookCellValues & {
            createdTime: string;
          };
          continue;
        }
        const entry = (changedTables[unit.tableId] ??= {});
        const targets: Array<
          Pick<WebhookTableChanges, 'createdRecordsById' | 'changedRecordsById' | 'destroyedRecordIds'>
        > = [entry];
        if (unit.viewId) targets.push(((entry.changedViewsById ??= {})[unit.viewId] ??= {}));
        for (const target of targets) {
          if (unit.kind === 'created')
            (target.createdRecordsById ??= {})[unit.recordId] = structuredClone(
              unit.value as WebhookCellValues & { createdTime: string },
            );
          else if (unit.kind === 'changed')
            (target.changedRecordsById ??= {})[unit.recordId] = structuredClone(
              unit.value as NonNullable<WebhookTableChanges['changedRecordsById']>[string],
            );
          else (target.destroyedRecordIds ??= []).push(unit.recordId);
        }
      }
      if (Object.keys(changedTables).length > 0) body.changedTablesById = changedTables;
      if (Object.keys(created).length > 0) body.createdTablesById = created;
      if (index === 0 && destroyedTableIds.length > 0) body.destroyedTableIds = [...destroyedTableIds];
      return body;
    });
  }

  // --- notification pings ---------------------------------------------------------------------

  /**
   * POSTs `{base:{id}, webhook:{id}, timestamp}` to the hook's notification URL, signed with
   * `X-Airtable-Content-MAC: hmac-sha256=<hex>` (HMAC-SHA256 of the body, keyed with the decoded MAC
   * secret). One attempt; the outcome shows in `lastNotificationResult`.
   */
  private ping(hook: HookState, now: number): void {
    if (!this.sendPings || !hook.notificationUrl || !this.isActive(hook, now)) return;
    const body = JSON.stringify({ base: { id: hook.baseId }, webhook: { id: hook.id }, timestamp: iso(now) });
    const mac = createHmac('sha256', Buffer.from(hook.macSecretBase64, 'base64')).update(body).digest('hex');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    this.pings.add(controller);
    const started = Date.now();
    const finish = (result: WebhookNotificationResult): void => {
      clearTimeout(timer);
      this.pings.delete(controller);
      if (!this.hooks.has(hook.id)) return;
      hook.lastNotificationResult = result;
      if (result.success) hook.lastSuccessfulNotificationTime = Date.parse(result.completionTimestamp);
      this.options.onChange();
    };
    fetch(hook.notificationUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Airtable-Content-MAC': `hmac-sha256=${mac}` },
      body,
      signal: controller.signal,
    })
      .then(async (response) => {
        await response.arrayBuffer().catch(() => undefined);
        const base = {
          completionTimestamp: iso(this.options.now()),
          durationMs: Date.now() - started,
          retryNumber: 0,
        };
        finish(
          response.ok
            ? { success: true, ...base }
            : {
                success: false,
                error: { message: `The notification URL answered HTTP ${response.status}` },
                ...base,
                willBeRetried: false,
              },
        );
      })
      .catch((err: unknown) => {
        finish({
          success: false,
          error: { message: err instanceof Error ? err.message : String(err) },
          completionTimestamp: iso(this.options.now()),
          durationMs: Date.now() - started,
          retryNumber: 0,
          willBeRetried: false,
        });
      });
  }
}
