/**
 * The value model of Airtable formulas. Booleans are numbers (TRUE() is 1), blanks are `null`,
 * dates carry whether they are a calendar date or an instant, and lookups are arrays.
 */
export interface FormulaDate {
  kind: 'date';
  ms: number;
  dateOnly: boolean;
}

export type FormulaValue = number | string | null | FormulaDate | FormulaValue[];

/** A runtime failure: a formula cell shows `#ERROR!`, a filter drops the record. */
export class FormulaRuntimeError extends Error {
  override name = 'FormulaRuntimeError';
}

export function isFormulaDate(value: unknown): value is FormulaDate {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    (value as FormulaDate).kind === 'date'
  );
}

export function formulaDate(ms: number, dateOnly = false): FormulaDate {
  return { kind: 'date', ms, dateOnly };
}

export function flatten(values: FormulaValue[]): FormulaValue[] {
  const out: FormulaValue[] = [];
  for (const value of values) {
    if (Array.isArray(value)) out.push(...flatten(value));
    else out.push(value);
  }
  return out;
}

export function isBlank(value: FormulaValue): boolean {
  return value === null || value === '' || (Array.isArray(value) && flatten(value).every(isBlank));
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_LOCAL_DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Reads a date the way Airtable reads date strings: ISO dates and instants, naive times as UTC. */
export function parseDateText(text: string): FormulaDate | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  if (ISO_DATE.test(trimmed)) {
    const ms = Date.parse(`${trimmed}T00:00:00.000Z`);
    return Number.isNaN(ms) ? null : formulaDate(ms, true);
  }
  if (ISO_LOCAL_DATETIME.test(trimmed)) {
    const ms = Date.parse(`${trimmed.replace(' ', 'T')}Z`);
    return Number.isNaN(ms) ? null : formulaDate(ms);
  }
  // Other shapes ("1/15/2024", "Jan 15 2024 10:00 GMT") as the JS parser reads them, pinned to UTC.
  const withZone = /(?:Z|GMT|UTC|[+-]\d{2}:?\d{2})$/i.test(trimmed) ? trimmed : `${trimmed} UTC`;
  const ms = Date.parse(withZone);
  if (!Number.isNaN(ms)) return formulaDate(ms);
  const fallback = Date.parse(trimmed);
  return Number.isNaN(fallback) ? null : formulaDate(fallback);
}

export function toNumber(value: FormulaValue): number {
  if (value === null) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    return trimmed === '' ? 0 : Number(trimmed);
  }
  if (Array.isArray(value)) {
    const items = flatten(value);
    if (items.length === 0) return 0;
    if (items.length === 1) return toNumber(items[0]!);
    throw new FormulaRuntimeError('cannot use a list as a number');
  }
  throw new FormulaRuntimeError('cannot use a date as a number');
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  return String(value);
}

export function dateToText(date: FormulaDate): string {
  const iso = new Date(date.ms).toISOString();
  return date.dateOnly ? iso.slice(0, 10) : iso;
}

export function toText(value: FormulaValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  if (Array.isArray(value)) return flatten(value).map(toText).join(', ');
  return dateToText(value);
}

export function truthy(value: FormulaValue): boolean {
  if (value === null) return false;
  if (typeof value === 'number') return value !== 0 && !Number.isNaN(value);
  if (typeof value === 'string') return value !== '';
  if (Array.isArray(value)) return flatten(value).some((item) => !isBlank(item));
  return true;
}

/** `null` for a blank; throws for text that is not a date. */
export function toDate(value: FormulaValue): FormulaDate | null {
  if (value === null || value === '') return null;
  if (isFormulaDate(value)) return value;
  if (typeof value === 'string') {
    const parsed = parseDateText(value);
    if (!parsed) throw new FormulaRuntimeError(`not a date: ${value}`);
    return parsed;
  }
  if (Array.isArray(value)) {
    const items = flatten(value).filter((item) => !isBlank(item));
    if (items.length === 0) return null;
    if (items.length === 1) return toDate(items[0]!);
    throw new FormulaRuntimeError('cannot use a list as a date');
  }
  throw new FormulaRuntimeError('cannot use a number as a date');
}

function numericText(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const n = Number(trimmed);
  return Number.isNaN(n) ? null : n;
}

/** Airtable's `=`: a blank equals "", 0 and an empty list; dates compare as instants. */
export function formulaEquals(a: FormulaValue, b: FormulaValue): boolean {
  if (a === null || b === null) {
    const other = a === null ? b : a;
    return other === null || other === '' || other === 0 || (Array.isArray(other) && isBlank(other));
  }
  if (isFormulaDate(a) || isFormulaDate(b)) {
    try {
      const left = toDate(a);
      const right = toDate(b);
      return left !== null && right !== null && left.ms === right.ms;
    } catch {
      return false;
    }
  }
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a === 'number' && typeof b === 'string') return numericText(b) === a || formatNumber(a) === b;
  if (typeof a === 'string' && typeof b === 'number') return numericText(a) === b || formatNumber(b) === a;
  return toText(a) === toText(b);
}

/** Order of two values, or null when they cannot be ordered (the comparison is then false). */
export function formulaCompare(a: FormulaValue, b: FormulaValue): number | null {
  if (isFormulaDate(a) || isFormulaDate(b)) {
    try {
      const left = toDate(a);
      const right = toDate(b);
      if (!left || !right) return null;
      return left.ms - right.ms;
    } catch {
      return null;
    }
  }
  const left = Array.isArray(a) && flatten(a).length === 1 ? flatten(a)[0]! : a;
  const right = Array.isArray(b) && flatten(b).length === 1 ? flatten(b)[0]! : b;
  if ((typeof left === 'number' || left === null) && (typeof right === 'number' || right === null)) {
    return (left ?? 0) - (right ?? 0);
  }
  if (typeof left === 'number' && typeof right === 'string') {
    const n = numericText(right);
    if (n !== null) return left - n;
  }
  if (typeof left === 'string' && typeof right === 'number') {
    const n = numericText(left);
    if (n !== null) return n - right;
  }
  const lt = toText(left);
  const rt = toText(right);
  return lt < rt ? -1 : lt > rt ? 1 : 0;
}
