import { createHash } from 'node:crypto';
import { errors, ApiError } from './errors';
import { COMPUTED_TYPES, NUMBER_TYPES, SELECT_COLORS, TEXT_TYPES, isEmptyCell } from './field-types';
import {
  compileFormula,
  type CompiledFormula,
  type FormulaContext,
  type FormulaResultKind,
} from './formula/evaluate';
import {
  FormulaRuntimeError,
  flatten,
  formulaDate,
  parseDateText,
  toText,
  type FormulaValue,
} from './formula/values';
import { isAirtableId } from './random';
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

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The formula-facing kind of a field, used to type formula results in the meta API. */
export function formulaKindOfField(field: FieldState): FormulaResultKind {
  if (NUMBER_TYPES.has(field.type) || ['checkbox', 'count', 'autoNumber'].includes(field.type))
    return 'number';
  if (['date', 'dateTime', 'createdTime', 'lastModifiedTime'].includes(field.type)) return 'date';
  if (
    [
      'multipleSelects',
      'multipleRecordLinks',
      'multipleAttachments',
      'lookup',
      'multipleLookupValues',
      'multipleCollaborators',
    ].includes(field.type)
  ) {
    return 'array';
  }
  if (field.type === 'formula') {
    const result = (field.options?.result as { type?: string } | undefined)?.type;
    if (result === 'number' || result === 'currency' || result === 'percent') return 'number';
    if (result === 'dateTime' || result === 'date') return 'date';
    return result ? 'text' : 'unknown';
  }
  if (field.type === 'rollup') return 'unknown';
  return 'text';
}

/** Compiled formulas, reused while the formula text stays the same. */
const compiledCache = new WeakMap<FieldState, { text: string; compiled: CompiledFormula | Error }>();

export function compileFieldFormula(
  store: EmulatorStore,
  table: TableState,
  field: FieldState,
  text: string,
  allowValues = false,
): CompiledFormula {
  const cached = compiledCache.get(field);
  if (cached && cached.text === text) {
    if (cached.compiled instanceof Error) throw cached.compiled;
    return cached.compiled;
  }
  try {
    const compiled = compileFormula(
      text,
      (nameOrId) => {
        const target = store.findField(table, nameOrId);
        return target ? { id: target.id, kind: formulaKindOfField(target) } : undefined;
      },
      { allowValues },
    );
    compiledCache.set(field, { text, compiled });
    return compiled;
  } catch (err) {
    compiledCache.set(field, { text, compiled: err as Error });
    throw err;
  }
}

/** Forgets a compiled formula after the schema it depends on changed. */
export function forgetCompiledFormulas(table: TableState): void {
  for (const field of table.fields) compiledCache.delete(field);
}

/** The user a token acts as: stable per token, never revealing it. */
export function collaboratorForToken(token: string): Collaborator {
  const hash = createHash('sha256').update(token).digest('hex');
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let body = '';
  for (let i = 0; i < 14; i++) body += alphabet[parseInt(hash.slice(i * 2, i * 2 + 2), 16) % alphabet.length];
  return {
    id: `usr${body}`,
    email: `api-${hash.slice(0, 8)}@emulator.local`,
    name: `API user ${hash.slice(0, 4)}`,
  };
}

const MIME_BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  csv: 'text/csv',
  txt: 'text/plain',
  json: 'application/json',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

export interface WriteOptions {
  typecast: boolean;
  user: Collaborator;
  now: number;
}

/**
 * Validates and stores the cells of one request. Everything goes through the transaction, so a bad
 * value anywhere undoes the whole request.
 */
export class CellWriter {
  constructor(
    private readonly store: EmulatorStore,
    private readonly base: BaseState,
    private readonly txn: Transaction,
    private readonly options: WriteOptions,
  ) {}

  /** A new, empty record in `table` (cells are written afterwards). */
  createRecord(table: TableState, id?: string, createdTime?: number): RecordState {
    const record: RecordState = {
      id: id ?? this.store.ids.next('rec'),
      tableId: table.id,
      createdTime: createdTime ?? this.options.now,
      cells: {},
      modified: {},
      autoNumber: this.store.takeAutoNumber(this.txn, table),
      createdBy: this.options.user,
      comments: [],
    };
    this.store.insertRecord(this.txn, this.base, table, record);
    return record;
  }

  /**
   * Applies `input` (keys are field names or ids). With `destructive` (PUT) every editable field not
   * in `input` is cleared.
   */
  writeFields(
    table: TableState,
    record: RecordState,
    input: Record<string, unknown>,
    destructive: boolean,
    at = this.options.now,
  ): void {
    const resolved = new Map<FieldState, unknown>();
    for (const [key, raw] of Object.entries(input)) {
      const field = this.store.findField(table, key);
      if (!field) throw errors.unknownFieldName(key);
      resolved.set(field, raw);
    }
    let changed = false;
    for (const [field, raw] of resolved) {
      if (COMPUTED_TYPES.has(field.type)) throw errors.computedField(field.name);
      const value = this.convert(table, field, raw);
      changed = this.storeCell(table, record, field, value, at) || changed;
    }
    if (destructive) {
      for (const field of table.fields) {
        if (resolved.has(field) || COMPUTED_TYPES.has(field.type)) continue;
        changed = this.storeCell(table, record, field, undefined, at) || changed;
      }
    }
    if (changed) this.store.setLastModifiedBy(this.txn, record, this.options.user);
  }

  /** The stored form of a value for `field`, as matching uses it (upsert keys); no side effects on error. */
  normalizeForMatch(table: TableState, field: FieldState, raw: unknown): unknown {
    return this.convert(table, field, raw);
  }

  private storeCell(
    table: TableState,
    record: RecordState,
    field: FieldState,
    value: unknown,
    at: number,
  ): boolean {
    if (field.type !== 'multipleRecordLinks')
      return this.store.setCell(this.txn, record, field.id, value, at);
    const before = (record.cells[field.id] as string[] | undefined) ?? [];
    const changed = this.store.setCell(this.txn, record, field.id, value, at);
    if (!changed) return false;
    const after = (value as string[] | undefined) ?? [];
    this.syncInverse(table, field, record, before, after, at);
    return true;
  }

  /** Keeps the other side of a two-way link in step, as Airtable does. */
  private syncInverse(
    table: TableState,
    field: FieldState,
    record: RecordState,
    before: string[],
    after: string[],
    at: number,
  ): void {
    const inverseId = field.options?.inverseLinkFieldId;
    const linkedTable = this.store.tableById(this.base, String(field.options?.linkedTableId));
    if (typeof inverseId !== 'string' || !linkedTable) return;
    const inverse = this.store.fieldById(linkedTable, inverseId);
    if (!inverse) return;
    for (const removed of before.filter((id) => !after.includes(id))) {
      const other = this.base.records.get(removed);
      if (!other || other.tableId !== linkedTable.id) continue;
      const current = (other.cells[inverse.id] as string[] | undefined) ?? [];
      const next = current.filter((id) => id !== record.id);
      this.store.setCell(
        this.txn,
        other,
        inverse.id,
        next.length > 0 ? next : undefined,
        Math.max(at, other.createdTime),
      );
    }
    for (const added of after.filter((id) => !before.includes(id))) {
      const other = this.base.records.get(added);
      if (!other || other.tableId !== linkedTable.id) continue;
      const current = (other.cells[inverse.id] as string[] | undefined) ?? [];
      // A seeded link may predate the record it lands on; a change never precedes a creation.
      if (!current.includes(record.id))
        this.store.setCell(
          this.txn,
          other,
          inverse.id,
          [...current, record.id],
          Math.max(at, other.createdTime),
        );
    }
    void table;
  }

  /** Drops a deleted record from every link that points at it. */
  unlinkEverywhere(record: RecordState, at: number): void {
    for (const table of this.base.tables) {
      for (const field of table.fields) {
        if (field.type !== 'multipleRecordLinks' || field.options?.linkedTableId !== record.tableId) continue;
        for (const other of table.records) {
          const current = other.cells[field.id] as string[] | undefined;
          if (!current || !current.includes(record.id)) continue;
          const next = current.filter((id) => id !== record.id);
          this.store.setCell(this.txn, other, field.id, next.length > 0 ? next : undefined, at);
        }
      }
    }
  }

  private convert(table: TableState, field: FieldState, raw: unknown): unknown {
    if (raw === null || raw === undefined) return undefined;
    const { typecast } = this.options;
    const reject = (): never => {
      throw errors.cannotAccept(field.name);
    };
    if (TEXT_TYPES.has(field.type) || field.type === 'aiText') {
      if (typeof raw === 'string') return raw === '' ? undefined : raw;
      if (!typecast) return reject();
      const text = Array.isArray(raw)
        ? raw.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')
        : typeof raw === 'object'
          ? JSON.stringify(raw)
          : String(raw);
      return text === '' ? undefined : text;
    }
    switch (field.type) {
      case 'number':
      case 'currency':
      case 'percent':
      case 'duration': {
        if (typeof raw === 'number') return Number.isFinite(raw) ? raw : reject();
        if (!typecast) return reject();
        if (typeof raw === 'boolean') return raw ? 1 : 0;
        if (typeof raw !== 'string') return reject();
        const percent = raw.includes('%');
        const n = Number(raw.replace(/[\s,$€£¥%]/g, ''));
        if (raw.trim() === '' || Number.isNaN(n)) return undefined;
        return percent && field.type === 'percent' ? n / 100 : n;
      }
      case 'rating': {
        const max = typeof field.options?.max === 'number' ? field.options.max : 5;
        let n = raw;
        if (typeof n === 'string' && typecast) n = Number(n);
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) return reject();
        return n === 0 ? undefined : n;
      }
      case 'checkbox': {
        if (typeof raw === 'boolean') return raw ? true : undefined;
        if (!typecast) return reject();
        if (typeof raw === 'number') return raw !== 0 ? true : undefined;
        if (typeof raw === 'string')
          return /^(true|checked|yes|y|1|x|on)$/i.test(raw.trim()) ? true : undefined;
        return reject();
      }
      case 'singleSelect': {
        const name =
          typeof raw === 'string'
            ? raw
            : typecast && (typeof raw === 'number' || typeof raw === 'boolean')
              ? String(raw)
              : reject();
        return name === '' ? undefined : this.choiceId(field, name);
      }
      case 'multipleSelects': {
        let names: unknown[];
        if (Array.isArray(raw)) names = raw;
        else if (typecast && typeof raw === 'string') names = raw.split(',').map((s) => s.trim());
        else return reject();
        const ids: string[] = [];
        for (const name of names) {
          if (typeof name !== 'string') {
            if (!typecast) return reject();
          }
          const text = String(name);
          if (text === '') continue;
          const id = this.choiceId(field, text);
          if (!ids.includes(id)) ids.push(id);
        }
        return ids.length > 0 ? ids : undefined;
      }
      case 'date': {
        if (typeof raw !== 'string') return typecast ? undefined : reject();
        if (raw === '') return undefined;
        if (ISO_DATE.test(raw) && !Number.isNaN(Date.parse(`${raw}T00:00:00Z`))) return raw;
        const parsed = parseDateText(raw);
        if (!parsed) return typecast ? undefined : reject();
        return new Date(parsed.ms).toISOString().slice(0, 10);
      }
      case 'dateTime': {
        if (typeof raw !== 'string') return typecast ? undefined : reject();
        if (raw === '') return undefined;
        const parsed = parseDateText(raw);
        if (!parsed) return typecast ? undefined : reject();
        return new Date(parsed.ms).toISOString();
      }
      case 'multipleRecordLinks':
        return this.convertLinks(field, raw);
      case 'multipleAttachments':
        return this.convertAttachments(table, field, raw);
      case 'singleCollaborator': {
        const value = typecast && typeof raw === 'string' ? { email: raw } : raw;
        return this.collaborator(field, value);
      }
      case 'multipleCollaborators': {
        const list = Array.isArray(raw)
          ? raw
          : typecast && typeof raw === 'string'
            ? raw.split(',').map((s) => ({ email: s.trim() }))
            : reject();
        const out = list.map((item) =>
          this.collaborator(field, typecast && typeof item === 'string' ? { email: item } : item),
        );
        return out.length > 0 ? out : undefined;
      }
      case 'barcode': {
        if (typecast && (typeof raw === 'string' || typeof raw === 'number')) return { text: String(raw) };
        if (
          typeof raw !== 'object' ||
          Array.isArray(raw) ||
          typeof (raw as { text?: unknown }).text !== 'string'
        )
          return reject();
        const { text, type } = raw as { text: string; type?: unknown };
        return typeof type === 'string' ? { text, type } : { text };
      }
      default:
        return raw;
    }
  }

  private choiceId(field: FieldState, name: string): string {
    const choices = choicesOf(field);
    const existing = choices.find((c) => c.name === name) ?? choices.find((c) => c.id === name);
    if (existing) return existing.id;
    if (!this.options.typecast) throw errors.newSelectOption(name);
    const choice = {
      id: this.store.ids.next('sel'),
      name,
      color: SELECT_COLORS[choices.length % SELECT_COLORS.length]!,
    };
    this.store.addChoice(this.txn, field, choice);
    return choice.id;
  }

  private convertLinks(field: FieldState, raw: unknown): string[] | undefined {
    const linkedTable = this.store.tableById(this.base, String(field.options?.linkedTableId));
    if (!linkedTable) throw errors.cannotAccept(field.name);
    let items: unknown[];
    if (Array.isArray(raw)) items = raw;
    else if (this.options.typecast && typeof raw === 'string') items = raw === '' ? [] : [raw];
    else throw errors.notRecordIds();
    const ids: string[] = [];
    for (const item of items) {
      let id: string;
      if (typeof item !== 'string') throw errors.notRecordIds();
      const existing = this.base.records.get(item);
      if (existing && existing.tableId === linkedTable.id) id = item;
      else if (!this.options.typecast) {
        if (!isAirtableId(item, 'rec')) throw errors.notRecordIds();
        throw errors.linkedRowDoesNotExist(item, linkedTable.name);
      } else {
        // Typecast matches the linked table's primary field, creating the record when nothing matches.
        const primary = this.store.primaryField(linkedTable);
        const match = linkedTable.records.find((r) => {
          const value = r.cells[primary.id];
          return value !== undefined && stringifyStored(value) === item;
        });
        if (match) id = match.id;
        else {
          const created = this.createRecord(linkedTable);
          this.writeFields(linkedTable, created, { [primary.id]: item }, false);
          id = created.id;
        }
      }
      if (!ids.includes(id)) ids.push(id);
    }
    return ids.length > 0 ? ids : undefined;
  }

  private convertAttachments(table: TableState, field: FieldState, raw: unknown): unknown[] | undefined {
    void table;
    let items: unknown[];
    if (Array.isArray(raw)) items = raw;
    else if (this.options.typecast && typeof raw === 'string')
      items = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    else throw errors.cannotAccept(field.name);
    const out: unknown[] = [];
    for (const item of items) {
      const value = this.options.typecast && typeof item === 'string' ? { url: item } : item;
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw errors.cannotAccept(field.name);
      const { id, url, filename } = value as { id?: unknown; url?: unknown; filename?: unknown };
      if (typeof id === 'string' && id.startsWith('att') && typeof url !== 'string') {
        const known = this.findAttachment(id);
        if (!known) throw errors.cannotAccept(field.name);
        out.push(typeof filename === 'string' ? { ...known, filename } : known);
        continue;
      }
      if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw errors.cannotAccept(field.name);
      const name =
        typeof filename === 'string'
          ? filename
          : decodeURIComponent(new URL(url).pathname.split('/').pop() || 'file');
      const extension = name.includes('.') ? name.split('.').pop()!.toLowerCase() : '';
      out.push({
        id: this.store.ids.next('att'),
        url,
        filename: name,
        size: typeof (value as { size?: unknown }).size === 'number' ? (value as { size: number }).size : 0,
        type: MIME_BY_EXTENSION[extension] ?? 'application/octet-stream',
      });
    }
    return out.length > 0 ? out : undefined;
  }

  private findAttachment(id: string): Record<string, unknown> | undefined {
    for (const record of this.base.records.values()) {
      for (const value of Object.values(record.cells)) {
        if (!Array.isArray(value)) continue;
        for (const item of value) {
          if (typeof item === 'object' && item !== null && (item as { id?: unknown }).id === id)
            return item as Record<string, unknown>;
        }
      }
    }
    return undefined;
  }

  private collaborator(field: FieldState, value: unknown): Collaborator {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw errors.cannotAccept(field.name);
    const { id, email, name } = value as { id?: unknown; email?: unknown; name?: unknown };
    if (typeof id !== 'string' && typeof email !== 'string') throw errors.cannotAccept(field.name);
    const address = typeof email === 'string' ? email : `${String(id)}@emulator.local`;
    return {
      id: typeof id === 'string' ? id : collaboratorForToken(address).id,
      email: address,
      name: typeof name === 'string' ? name : address.split('@')[0]!,
    };
  }
}

/** The text a stored cell shows in formulas and typecast matching. */
function stringifyStored(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** Options for rendering records. */
export interface RenderOptions {
  cellFormat: 'json' | 'string';
  timeZone?: string;
  userLocale?: string;
}

/**
 * What a formula sees of one record. A class, not an object of closures: a filter makes one per
 * record of the table, and closures cost an allocation each (and, under tsx, a naming call each).
 */
class RecordFormulaContext implements FormulaContext {
  constructor(
    private readonly reader: RecordReader,
    private readonly table: TableState,
    private readonly record: RecordState,
    readonly now: number,
    readonly values?: FormulaValue[],
  ) {}

  get recordId(): string {
    return this.record.id;
  }

  get createdTime(): number {
    return this.record.createdTime;
  }

  field(fieldId: string): FormulaValue {
    return this.reader.fieldValue(this.table, this.record, fieldId);
  }

  lastModifiedTime(fieldIds: string[]): number | null {
    return this.reader.lastModified(this.record, fieldIds);
  }
}

/**
 * Computes what the API shows of a record: stored cells in their JSON or string form and every
 * computed field (formulas, lookups, rollups, counts, times, autonumbers, collaborators).
 */
export class RecordReader {
  private readonly evaluating = new Set<string>();

  constructor(
    private readonly store: EmulatorStore,
    private readonly base: BaseState,
    private readonly now: number,
  ) {}

  /** The JSON cell value, or undefined when the cell is empty. */
  jsonValue(table: TableState, record: RecordState, field: FieldState): unknown {
    const stored = record.cells[field.id];
    switch (field.type) {
      case 'singleSelect': {
        if (typeof stored !== 'string') return undefined;
        return choicesOf(field).find((c) => c.id === stored)?.name;
      }
      case 'multipleSelects': {
        if (!Array.isArray(stored)) return undefined;
        const choices = choicesOf(field);
        return stored
          .map((id) => choices.find((c) => c.id === id)?.name)
          .filter((name): name is string => name !== undefined);
      }
      case 'formula': {
        const value = this.computeFormulaField(table, record, field);
        return formulaValueToJson(value);
      }
      case 'rollup':
        return formulaValueToJson(this.computeRollup(table, record, field));
      case 'lookup':
      case 'multipleLookupValues': {
        const target = this.lookupTarget(table, field);
        if (!target) return undefined;
        const out: unknown[] = [];
        for (const linked of this.linkedRecords(table, record, field)) {
          const value = this.jsonValue(target.table, linked, target.field);
          if (value === undefined || value === null) continue;
          if (Array.isArray(value)) out.push(...value);
          else out.push(value);
        }
        return out;
      }
      case 'count':
        return this.linkedRecords(table, record, field).length;
      case 'createdTime':
        return new Date(record.createdTime).toISOString();
      case 'lastModifiedTime': {
        const ids = Array.isArray(field.options?.referencedFieldIds)
          ? (field.options.referencedFieldIds as string[])
          : [];
        const at = this.lastModified(record, ids);
        return at === null ? undefined : new Date(at).toISOString();
      }
      case 'autoNumber':
        return record.autoNumber;
      case 'createdBy':
        return record.createdBy;
      case 'lastModifiedBy':
        return record.lastModifiedBy ?? record.createdBy;
      case 'button':
        return {
          label: typeof field.options?.label === 'string' ? field.options.label : field.name,
          url: null,
        };
      default:
        return stored;
    }
  }

  /** The user-facing text of a cell (`cellFormat=string`). */
  stringValue(
    table: TableState,
    record: RecordState,
    field: FieldState,
    options: RenderOptions,
  ): string | undefined {
    const json = this.jsonValue(table, record, field);
    if (isEmptyCell(json)) return undefined;
    const locale = options.userLocale ?? 'en-us';
    switch (field.type) {
      case 'number':
      case 'percent':
      case 'currency': {
        const precision =
          typeof field.options?.precision === 'number'
            ? field.options.precision
            : field.type === 'number'
              ? 0
              : 2;
        const n = Number(json) * (field.type === 'percent' ? 100 : 1);
        const digits = new Intl.NumberFormat(locale, {
          minimumFractionDigits: precision,
          maximumFractionDigits: precision,
          useGrouping: field.type === 'currency',
        }).format(n);
        if (field.type === 'percent') return `${digits}%`;
        if (field.type === 'currency')
          return `${typeof field.options?.symbol === 'string' ? field.options.symbol : '$'}${digits}`;
        return digits;
      }
      case 'duration': {
        const total = Number(json);
        const h = Math.floor(total / 3600);
        const m = Math.floor((total % 3600) / 60);
        const s = Math.floor(total % 60);
        const format = String((field.options?.durationFormat as string | undefined) ?? 'h:mm');
        return format.startsWith('h:mm:ss') ? `${h}:${pad(m)}:${pad(s)}` : `${h}:${pad(m)}`;
      }
      case 'checkbox':
        return 'checked';
      case 'date':
        return formatCalendarDate(String(json), field.options?.dateFormat, locale);
      case 'dateTime':
      case 'createdTime':
      case 'lastModifiedTime':
        return formatInstant(String(json), field, options);
      case 'multipleRecordLinks':
        return (json as string[]).map((id) => this.primaryText(id, options)).join(', ');
      case 'multipleAttachments':
        return (json as Array<{ filename: string; url: string }>)
          .map((a) => `${a.filename} (${a.url})`)
          .join(', ');
      case 'singleCollaborator':
      case 'createdBy':
      case 'lastModifiedBy':
        return (json as Collaborator).name;
      case 'multipleCollaborators':
        return (json as Collaborator[]).map((c) => c.name).join(', ');
      case 'barcode':
        return (json as { text: string }).text;
      case 'button':
        return (json as { label: string }).label;
      default:
        if (Array.isArray(json))
          return json
            .map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)))
            .join(', ');
        if (typeof json === 'object' && json !== null) {
          const special = json as { error?: string; specialValue?: string };
          return special.error ?? special.specialValue ?? JSON.stringify(json);
        }
        return String(json);
    }
  }

  private primaryText(recordId: string, options: RenderOptions): string {
    const record = this.base.records.get(recordId);
    if (!record) return recordId;
    const table = this.store.tableById(this.base, record.tableId);
    if (!table) return recordId;
    return this.stringValue(table, record, this.store.primaryField(table), options) ?? 'Unnamed record';
  }

  /** The value of a field as formulas see it. */
  formulaValue(table: TableState, record: RecordState, field: FieldState): FormulaValue {
    const stored = record.cells[field.id];
    switch (field.type) {
      case 'checkbox':
        return stored === true ? 1 : 0;
      case 'date':
        return typeof stored === 'string' ? formulaDate(Date.parse(`${stored}T00:00:00.000Z`), true) : null;
      case 'dateTime':
        return typeof stored === 'string' ? formulaDate(Date.parse(stored)) : null;
      case 'createdTime':
        return formulaDate(record.createdTime);
      case 'lastModifiedTime': {
        const ids = Array.isArray(field.options?.referencedFieldIds)
          ? (field.options.referencedFieldIds as string[])
          : [];
        const at = this.lastModified(record, ids);
        return at === null ? null : formulaDate(at);
      }
      case 'formula':
      case 'rollup': {
        // A formula that errors makes every formula that reads it error too.
        const value =
          field.type === 'formula'
            ? this.computeFormulaField(table, record, field)
            : this.computeRollup(table, record, field);
        if (value === FAILURE) throw new FormulaRuntimeError(`field ${field.name} has an error`);
        return value;
      }
      case 'multipleRecordLinks':
        return this.linkedRecords(table, record, field).map((linked) => {
          const linkedTable = this.store.tableById(this.base, linked.tableId)!;
          return toText(this.formulaValue(linkedTable, linked, this.store.primaryField(linkedTable)));
        });
      case 'lookup':
      case 'multipleLookupValues': {
        const target = this.lookupTarget(table, field);
        if (!target) return null;
        return flatten(
          this.linkedRecords(table, record, field).map((linked) =>
            this.formulaValue(target.table, linked, target.field),
          ),
        );
      }
      case 'multipleAttachments':
        return Array.isArray(stored)
          ? (stored as Array<{ filename: string; url: string }>).map((a) => `${a.filename} (${a.url})`)
          : null;
      case 'singleCollaborator':
        return stored ? (stored as Collaborator).name : null;
      case 'multipleCollaborators':
        return Array.isArray(stored) ? (stored as Collaborator[]).map((c) => c.name) : null;
      case 'createdBy':
        return record.createdBy.name;
      case 'lastModifiedBy':
        return (record.lastModifiedBy ?? record.createdBy).name;
      case 'barcode':
        return stored ? (stored as { text: string }).text : null;
      case 'button':
        return typeof field.options?.label === 'string' ? field.options.label : field.name;
      default: {
        const json = this.jsonValue(table, record, field);
        if (json === undefined || json === null) return null;
        if (typeof json === 'number' || typeof json === 'string') return json;
        if (Array.isArray(json))
          return json.map((v) => (typeof v === 'number' || typeof v === 'string' ? v : JSON.stringify(v)));
        return JSON.stringify(json);
      }
    }
  }

  /** A formula context for evaluating against `record` (filters, formula fields). */
  contextFor(table: TableState, record: RecordState, values?: FormulaValue[]): FormulaContext {
    return new RecordFormulaContext(this, table, record, this.now, values);
  }

  /** A field's value (by id) in formula terms; null for a field the table does not have. */
  fieldValue(table: TableState, record: RecordState, fieldId: string): FormulaValue {
    const field = this.store.fieldById(table, fieldId);
    return field ? this.formulaValue(table, record, field) : null;
  }

  lastModified(record: RecordState, fieldIds: string[]): number | null {
    if (fieldIds.length === 0) {
      let latest = record.createdTime;
      for (const at of Object.values(record.modified)) if (at > latest) latest = at;
      return latest;
    }
    let latest: number | null = null;
    for (const id of fieldIds) {
      const at = record.modified[id];
      if (at !== undefined && (latest === null || at > latest)) latest = at;
    }
    return latest;
  }

  private computeFormulaField(
    table: TableState,
    record: RecordState,
    field: FieldState,
  ): FormulaValue | FormulaFailure {
    const text = typeof field.options?.formula === 'string' ? field.options.formula : '';
    const key = `${record.id}:${field.id}`;
    if (this.evaluating.has(key)) return FAILURE;
    this.evaluating.add(key);
    try {
      return compileFieldFormula(this.store, table, field, text).evaluate(this.contextFor(table, record));
    } catch (err) {
      if (err instanceof FormulaRuntimeError || err instanceof Error) return FAILURE;
      throw err;
    } finally {
      this.evaluating.delete(key);
    }
  }

  private computeRollup(
    table: TableState,
    record: RecordState,
    field: FieldState,
  ): FormulaValue | FormulaFailure {
    const target = this.lookupTarget(table, field);
    if (!target) return FAILURE;
    const values = this.linkedRecords(table, record, field).map((linked) =>
      this.formulaValue(target.table, linked, target.field),
    );
    const text = typeof field.options?.formula === 'string' ? field.options.formula : 'ARRAYJOIN(values)';
    try {
      return compileFieldFormula(this.store, table, field, text, true).evaluate(
        this.contextFor(table, record, values),
      );
    } catch {
      return FAILURE;
    }
  }

  private lookupTarget(
    table: TableState,
    field: FieldState,
  ): { table: TableState; field: FieldState } | undefined {
    const linkField = this.store.fieldById(table, String(field.options?.recordLinkFieldId));
    if (!linkField) return undefined;
    const linkedTable = this.store.tableById(this.base, String(linkField.options?.linkedTableId));
    if (!linkedTable) return undefined;
    const target = this.store.fieldById(linkedTable, String(field.options?.fieldIdInLinkedTable));
    return target ? { table: linkedTable, field: target } : undefined;
  }

  private linkedRecords(table: TableState, record: RecordState, field: FieldState): RecordState[] {
    const linkField =
      field.type === 'multipleRecordLinks'
        ? field
        : this.store.fieldById(table, String(field.options?.recordLinkFieldId));
    if (!linkField) return [];
    const ids = record.cells[linkField.id];
    if (!Array.isArray(ids)) return [];
    return ids
      .map((id) => this.base.records.get(id as string))
      .filter((r): r is RecordState => r !== undefined);
  }
}

/** Marks a formula cell that errored (shown as `{"error":"#ERROR!"}`). */
const FAILURE = Symbol('formula failure');
type FormulaFailure = typeof FAILURE;

function formulaValueToJson(value: FormulaValue | FormulaFailure): unknown {
  if (value === FAILURE) return { error: '#ERROR!' };
  if (value === null) return undefined;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { specialValue: 'NaN' };
    if (!Number.isFinite(value)) return { specialValue: value > 0 ? 'Infinity' : '-Infinity' };
    return value;
  }
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => formulaValueToJson(v)).filter((v) => v !== undefined);
  return new Date(value.ms).toISOString();
}

export { isEmptyCell };

const pad = (n: number): string => String(n).padStart(2, '0');

function formatCalendarDate(iso: string, dateFormat: unknown, locale: string): string {
  const [y, m, d] = iso.split('-').map(Number) as [number, number, number];
  const name =
    typeof dateFormat === 'object' && dateFormat !== null
      ? (dateFormat as { name?: string }).name
      : undefined;
  switch (name) {
    case 'iso':
      return iso;
    case 'us':
      return `${m}/${d}/${y}`;
    case 'european':
      return `${d}/${m}/${y}`;
    case 'friendly':
      return new Intl.DateTimeFormat('en-US', {
        timeZone: 'UTC',
        month: 'long',
        day: 'numeric',
        year: 'numeric',
      }).format(Date.UTC(y, m - 1, d));
    default:
      return new Intl.DateTimeFormat(locale, { timeZone: 'UTC' }).format(Date.UTC(y, m - 1, d));
  }
}

function formatInstant(iso: string, field: FieldState, options: RenderOptions): string {
  const fieldZone =
    typeof field.options?.timeZone === 'string' && field.options.timeZone !== 'client'
      ? field.options.timeZone
      : undefined;
  const timeZone = fieldZone === 'utc' ? 'UTC' : (fieldZone ?? options.timeZone ?? 'UTC');
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(Date.parse(iso));
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const dateIso = `${part('year')}-${pad(Number(part('month')))}-${pad(Number(part('day')))}`;
  const date = formatCalendarDate(
    dateIso,
    field.options?.dateFormat ?? { name: 'iso' },
    options.userLocale ?? 'en-us',
  );
  const hour = Number(part('hour')) % 24;
  const timeFormat = (field.options?.timeFormat as { name?: string } | undefined)?.name;
  const time =
    timeFormat === '12hour'
      ? `${hour % 12 === 0 ? 12 : hour % 12}:${part('minute')}${hour < 12 ? 'am' : 'pm'}`
      : `${pad(hour)}:${part('minute')}`;
  return `${date} ${time}`;
}

export { ApiError };
