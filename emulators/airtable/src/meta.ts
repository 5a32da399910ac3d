import { compileFieldFormula, forgetCompiledFormulas } from './cells';
import { errors, typedError } from './errors';
import {
  COMPUTED_TYPES,
  DEFAULT_DATE_TIME_OPTIONS,
  DateOptionsError,
  KNOWN_TYPES,
  PRIMARY_FIELD_TYPES,
  SELECT_COLORS,
  completeDateOptions,
  isCreatableType,
} from './field-types';
import { rewriteFieldReferences } from './formula/parser';
import { DEFAULT_VIEW_NAME } from './seed';
import {
  choicesOf,
  type BaseState,
  type EmulatorStore,
  type FieldState,
  type SelectChoice,
  type TableState,
} from './store';

/** Bases per page of `GET /v0/meta/bases`. */
export const BASES_PAGE_SIZE = 1000;

/** What a meta endpoint gets from the router. */
export interface MetaCall {
  store: EmulatorStore;
  query: URLSearchParams;
  body: unknown;
}

const RESULT_FOR_KIND = {
  number: { type: 'number', options: { precision: 0 } },
  text: { type: 'singleLineText' },
  date: {
    type: 'dateTime',
    options: {
      dateFormat: { name: 'iso', format: 'YYYY-MM-DD' },
      timeFormat: { name: '24hour', format: 'HH:mm' },
      timeZone: 'utc',
    },
  },
  array: { type: 'multipleLookupValues' },
  unknown: { type: 'singleLineText' },
} as const;

/** The date options of a field or of a computed field's `result`, completed; unusable ones are kept as stored. */
function completedOrAsIs(
  type: string,
  options: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (type !== 'date' && type !== 'dateTime') return options;
  try {
    return completeDateOptions(type, options, true);
  } catch (err) {
    if (err instanceof DateOptionsError) return options;
    throw err;
  }
}

const DEFAULT_TIME_RESULT = {
  type: 'dateTime',
  options: {
    dateFormat: { name: DEFAULT_DATE_TIME_OPTIONS.dateFormat },
    timeFormat: { name: DEFAULT_DATE_TIME_OPTIONS.timeFormat },
    timeZone: DEFAULT_DATE_TIME_OPTIONS.timeZone,
  },
};

/**
 * A copy of the field's options with `dateFormat.format` / `timeFormat.format` always present, as
 * Airtable returns them: on date and dateTime fields, and on the date `result` of computed fields
 * (created and last-modified times always have one).
 */
function withDateFormats(field: FieldState): Record<string, unknown> | undefined {
  let options = field.options ? structuredClone(field.options) : undefined;
  options = completedOrAsIs(field.type, options);
  if ((field.type === 'createdTime' || field.type === 'lastModifiedTime') && !options?.result)
    options = { ...(options ?? {}), result: structuredClone(DEFAULT_TIME_RESULT) };
  const result = options?.result;
  if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
    const { type, options: resultOptions } = result as { type?: unknown; options?: unknown };
    if (type === 'date' || type === 'dateTime') {
      const completed = completedOrAsIs(
        type,
        typeof resultOptions === 'object' && resultOptions !== null
          ? (resultOptions as Record<string, unknown>)
          : undefined,
      );
      options = { ...options, result: { ...result, options: completed } };
    }
  }
  return options;
}

/** A field as the meta API describes it, with computed options filled in. */
export function describeField(
  store: EmulatorStore,
  table: TableState,
  field: FieldState,
): Record<string, unknown> {
  const out: Record<string, unknown> = { id: field.id, name: field.name, type: field.type };
  if (field.description) out.description = field.description;
  let options = withDateFormats(field);
  if (field.type === 'formula') {
    const formula = typeof options?.formula === 'string' ? options.formula : '';
    try {
      const compiled = compileFieldFormula(store, table, field, formula);
      options = {
        ...options,
        formula,
        isValid: true,
        referencedFieldIds: compiled.referencedFieldIds,
        result: RESULT_FOR_KIND[compiled.resultKind],
      };
    } catch {
      options = { ...options, formula, isValid: false, referencedFieldIds: [], result: null };
    }
  }
  if (options && Object.keys(options).length > 0) out.options = options;
  return out;
}

export function describeTable(
  store: EmulatorStore,
  table: TableState,
  includeVisibleFieldIds = false,
): Record<string, unknown> {
  return {
    id: table.id,
    name: table.name,
    ...(table.description ? { description: table.description } : {}),
    primaryFieldId: table.primaryFieldId,
    fields: table.fields.map((f) => describeField(store, table, f)),
    views: table.views.map((v) => ({
      id: v.id,
      name: v.name,
      type: v.type,
      ...(includeVisibleFieldIds ? { visibleFieldIds: table.fields.map((f) => f.id) } : {}),
    })),
  };
}

/** `GET /v0/meta/bases`, limited to the bases the token may see. */
export function listBases(call: MetaCall, visible: (baseId: string) => boolean): unknown {
  const bases = [...call.store.bases.values()].filter((b) => visible(b.id));
  const offset = call.query.get('offset');
  let start = 0;
  if (offset) {
    start = bases.findIndex((b) => b.id === offset);
    if (start < 0) throw errors.invalidOffset(offset);
  }
  const page = bases.slice(start, start + BASES_PAGE_SIZE);
  const next = bases[start + BASES_PAGE_SIZE];
  return {
    bases: page.map((b) => ({ id: b.id, name: b.name, permissionLevel: 'create' })),
    ...(next ? { offset: next.id } : {}),
  };
}

/** `GET /v0/meta/bases/{baseId}/tables`. */
export function getBaseSchema(call: MetaCall, base: BaseState): unknown {
  const include = call.query.getAll('include[]');
  return {
    tables: base.tables.map((t) => describeTable(call.store, t, include.includes('visibleFieldIds'))),
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.invalidBody();
  return body as Record<string, unknown>;
}

function checkKeys(object: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) throw errors.invalidRequest();
}

const duplicateFieldName = (name: string) =>
  typedError(
    422,
    'DUPLICATE_OR_EMPTY_FIELD_NAME',
    `Field names must be unique and non-empty (ignoring case): "${name}"`,
  );

interface FieldSpec {
  name: string;
  type: string;
  description?: string;
  options?: Record<string, unknown>;
}

function readFieldSpec(raw: unknown): FieldSpec {
  const spec = objectBody(raw);
  checkKeys(spec, ['name', 'type', 'description', 'options']);
  if (typeof spec.name !== 'string' || spec.name.trim() === '')
    throw duplicateFieldName(String(spec.name ?? ''));
  if (typeof spec.type !== 'string') throw errors.invalidRequest();
  if (spec.description !== undefined && typeof spec.description !== 'string') throw errors.invalidRequest();
  if (
    spec.options !== undefined &&
    (typeof spec.options !== 'object' || spec.options === null || Array.isArray(spec.options))
  ) {
    throw errors.invalidRequest();
  }
  if (!KNOWN_TYPES.has(spec.type))
    throw typedError(422, 'INVALID_FIELD_TYPE', `Unknown field type "${spec.type}"`);
  if (!isCreatableType(spec.type)) {
    throw typedError(
      422,
      'UNSUPPORTED_FIELD_TYPE_FOR_CREATE',
      `Creating fields of type "${spec.type}" is not supported`,
    );
  }
  return spec as unknown as FieldSpec;
}

const invalidOptions = (type: string, why: string) =>
  typedError(422, 'INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE', `Invalid options for field type ${type}: ${why}`);

/** Options Airtable requires on create, checked and completed. */
function checkOptions(
  store: EmulatorStore,
  base: BaseState,
  spec: FieldSpec,
): Record<string, unknown> | undefined {
  const options = spec.options ? structuredClone(spec.options) : undefined;
  const need = (condition: boolean, why: string): void => {
    if (!condition) throw invalidOptions(spec.type, why);
  };
  const precision = (o: Record<string, unknown> | undefined) =>
    need(
      typeof o?.precision === 'number' &&
        Number.isInteger(o.precision) &&
        o.precision >= 0 &&
        o.precision <= 8,
      'precision must be an integer 0–8',
    );
  switch (spec.type) {
    case 'number':
    case 'percent':
      precision(options);
      break;
    case 'currency':
      precision(options);
      need(typeof options?.symbol === 'string', 'symbol is required');
      break;
    case 'singleSelect':
    case 'multipleSelects': {
      need(Array.isArray(options?.choices), 'choices is required');
      const choices = options!.choices as Array<{ name?: unknown; color?: unknown }>;
      options!.choices = choices.map((c, i) => {
        need(typeof c?.name === 'string' && c.name !== '', 'every choice needs a name');
        return {
          id: store.ids.next('sel'),
          name: c.name,
          color: typeof c.color === 'string' ? c.color : SELECT_COLORS[i % SELECT_COLORS.length],
        };
      });
      break;
    }
    case 'date':
    case 'dateTime':
      // The name is required, the format optional (it must match the name when given).
      try {
        return completeDateOptions(spec.type, options, false);
      } catch (err) {
        if (err instanceof DateOptionsError) throw invalidOptions(spec.type, err.message);
        throw err;
      }
    case 'multipleRecordLinks': {
      need(typeof options?.linkedTableId === 'string', 'linkedTableId is required');
      const linked = base.tables.find((t) => t.id === options!.linkedTableId);
      need(linked !== undefined, `no table ${String(options!.linkedTableId)} in this base`);
      break;
    }
    default:
      break;
  }
  return options;
}

function uniqueName(table: TableState, wanted: string): string {
  const taken = new Set(table.fields.map((f) => f.name.toLowerCase()));
  if (!taken.has(wanted.toLowerCase())) return wanted;
  for (let i = 2; ; i++) if (!taken.has(`${wanted} ${i}`.toLowerCase())) return `${wanted} ${i}`;
}

/**
 * Adds a field (inside a transaction). A new link field gets its inverse in the linked table,
 * named after this table, as Airtable creates it.
 */
function addField(
  call: MetaCall,
  base: BaseState,
  table: TableState,
  spec: FieldSpec,
  txnAdd: (apply: () => void, undo: () => void) => void,
): FieldState {
  const options = checkOptions(call.store, base, spec);
  const field: FieldState = {
    id: call.store.ids.next('fld'),
    name: spec.name,
    type: spec.type,
    ...(spec.description ? { description: spec.description } : {}),
    ...(options ? { options } : {}),
  };
  txnAdd(
    () => table.fields.push(field),
    () => table.fields.splice(table.fields.indexOf(field), 1),
  );
  if (field.type === 'multipleRecordLinks') {
    const linked = base.tables.find((t) => t.id === field.options!.linkedTableId)!;
    field.options = {
      linkedTableId: linked.id,
      isReversed: false,
      prefersSingleRecordLink: Boolean(options?.prefersSingleRecordLink),
    };
    if (linked !== table) {
      const inverse: FieldState = {
        id: call.store.ids.next('fld'),
        name: uniqueName(linked, table.name),
        type: 'multipleRecordLinks',
        options: {
          linkedTableId: table.id,
          inverseLinkFieldId: field.id,
          isReversed: false,
          prefersSingleRecordLink: false,
        },
      };
      field.options.inverseLinkFieldId = inverse.id;
      txnAdd(
        () => linked.fields.push(inverse),
        () => linked.fields.splice(linked.fields.indexOf(inverse), 1),
      );
    }
  }
  return field;
}

/** `POST /v0/meta/bases/{baseId}/tables`. */
export function createTable(call: MetaCall, base: BaseState): unknown {
  const body = objectBody(call.body);
  checkKeys(body, ['name', 'description', 'fields']);
  if (typeof body.name !== 'string' || body.name.trim() === '')
    throw typedError(422, 'INVALID_TABLE_NAME', 'A table needs a non-empty name');
  if (base.tables.some((t) => t.name.toLowerCase() === (body.name as string).toLowerCase())) {
    throw typedError(422, 'DUPLICATE_TABLE_NAME', `A table named "${body.name}" already exists in this base`);
  }
  if (!Array.isArray(body.fields) || body.fields.length === 0)
    throw errors.invalidRequest('Invalid request: a table needs at least one field.');
  const specs = body.fields.map(readFieldSpec);
  const primary = specs[0]!;
  if (!PRIMARY_FIELD_TYPES.has(primary.type)) throw errors.invalidPrimaryField(primary.name, primary.type);
  const names = new Set<string>();
  for (const spec of specs) {
    const key = spec.name.toLowerCase();
    if (names.has(key)) throw duplicateFieldName(spec.name);
    names.add(key);
  }
  const table = call.store.transaction((txn) => {
    const created: TableState = {
      id: call.store.ids.next('tbl'),
      name: body.name as string,
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      primaryFieldId: '',
      fields: [],
      views: [{ id: call.store.ids.next('viw'), name: DEFAULT_VIEW_NAME, type: 'grid' }],
      records: [],
      nextAutoNumber: 1,
    };
    call.store.changeSchema(
      txn,
      () => base.tables.push(created),
      () => base.tables.splice(base.tables.indexOf(created), 1),
    );
    for (const spec of specs)
      addField(call, base, created, spec, (apply, undo) => call.store.changeSchema(txn, apply, undo));
    created.primaryFieldId = created.fields[0]!.id;
    return created;
  });
  return describeTable(call.store, table);
}

/** `PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}`: name and description. */
export function updateTable(call: MetaCall, base: BaseState, table: TableState): unknown {
  const body = objectBody(call.body);
  checkKeys(body, ['name', 'description']);
  if (body.name !== undefined) {
    if (typeof body.name !== 'string' || body.name.trim() === '')
      throw typedError(422, 'INVALID_TABLE_NAME', 'A table needs a non-empty name');
    if (
      base.tables.some((t) => t !== table && t.name.toLowerCase() === (body.name as string).toLowerCase())
    ) {
      throw typedError(
        422,
        'DUPLICATE_TABLE_NAME',
        `A table named "${body.name}" already exists in this base`,
      );
    }
  }
  if (body.description !== undefined && typeof body.description !== 'string') throw errors.invalidRequest();
  call.store.transaction((txn) => {
    const before = { name: table.name, description: table.description };
    call.store.changeSchema(
      txn,
      () => {
        if (typeof body.name === 'string') table.name = body.name;
        if (typeof body.description === 'string') table.description = body.description;
      },
      () => Object.assign(table, before),
    );
  });
  return describeTable(call.store, table);
}

/** `POST /v0/meta/bases/{baseId}/tables/{tableId}/fields`. */
export function createField(call: MetaCall, base: BaseState, table: TableState): unknown {
  const spec = readFieldSpec(call.body);
  if (table.fields.some((f) => f.name.toLowerCase() === spec.name.toLowerCase()))
    throw duplicateFieldName(spec.name);
  const field = call.store.transaction((txn) =>
    addField(call, base, table, spec, (apply, undo) => call.store.changeSchema(txn, apply, undo)),
  );
  return describeField(call.store, table, field);
}

/** `PATCH …/fields/{fieldId}`: name, description and options (select choices are matched by id or name). */
export function updateField(call: MetaCall, table: TableState, field: FieldState): unknown {
  const body = objectBody(call.body);
  checkKeys(body, ['name', 'description', 'options']);
  if (body.name !== undefined) {
    if (typeof body.name !== 'string' || body.name.trim() === '') throw duplicateFieldName(String(body.name));
    if (table.fields.some((f) => f !== field && f.name.toLowerCase() === (body.name as string).toLowerCase()))
      throw duplicateFieldName(body.name);
  }
  if (body.description !== undefined && typeof body.description !== 'string') throw errors.invalidRequest();
  if (
    body.options !== undefined &&
    (typeof body.options !== 'object' || body.options === null || Array.isArray(body.options))
  ) {
    throw errors.invalidRequest();
  }
  if (body.options !== undefined && COMPUTED_TYPES.has(field.type) && field.type !== 'formula') {
    throw typedError(
      422,
      'INVALID_FIELD_TYPE_OPTIONS',
      `The options of a ${field.type} field cannot be changed`,
    );
  }
  if (body.options !== undefined && (field.type === 'date' || field.type === 'dateTime')) {
    try {
      completeDateOptions(
        field.type,
        { ...(field.options ?? {}), ...(body.options as Record<string, unknown>) },
        true,
      );
    } catch (err) {
      if (err instanceof DateOptionsError)
        throw typedError(
          422,
          'INVALID_FIELD_TYPE_OPTIONS',
          `Invalid options for field type ${field.type}: ${err.message}`,
        );
      throw err;
    }
  }
  call.store.transaction((txn) => {
    const before = structuredClone({
      name: field.name,
      description: field.description,
      options: field.options,
    });
    call.store.changeSchema(
      txn,
      () => {
        if (typeof body.name === 'string') field.name = body.name;
        if (typeof body.description === 'string') field.description = body.description;
        if (body.options)
          field.options = mergeOptions(call.store, table, field, body.options as Record<string, unknown>);
      },
      () => {
        field.name = before.name;
        if (before.description === undefined) delete field.description;
        else field.description = before.description;
        if (before.options === undefined) delete field.options;
        else field.options = before.options;
      },
    );
    forgetCompiledFormulas(table);
  });
  return describeField(call.store, table, field);
}

function mergeOptions(
  store: EmulatorStore,
  table: TableState,
  field: FieldState,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  let next = { ...(field.options ?? {}), ...structuredClone(patch) };
  // Checked before the change is applied, so this cannot throw here.
  if (field.type === 'date' || field.type === 'dateTime') next = completeDateOptions(field.type, next, true);
  if ((field.type === 'singleSelect' || field.type === 'multipleSelects') && Array.isArray(patch.choices)) {
    // Choices keep their ids (and so the cells that use them) when named by id or by name.
    const current = choicesOf(field);
    next.choices = (patch.choices as Array<Partial<SelectChoice>>).map((c, i) => {
      const known = current.find((k) => (c.id && k.id === c.id) || (!c.id && k.name === c.name));
      return {
        id: known?.id ?? store.ids.next('sel'),
        name: String(c.name ?? known?.name ?? ''),
        color: c.color ?? known?.color ?? SELECT_COLORS[i % SELECT_COLORS.length],
      };
    });
  }
  if (field.type === 'formula' && typeof patch.formula === 'string') {
    try {
      next.formula = rewriteFieldReferences(
        patch.formula,
        (name) => store.findField(table, name)?.id ?? name,
      );
    } catch {
      // Unreadable text is kept as given; the field then reports isValid: false.
      next.formula = patch.formula;
    }
  }
  return next;
}
