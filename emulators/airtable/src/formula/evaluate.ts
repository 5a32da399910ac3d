import { addToDate, diffDates, formatDate, parseUnit, parseWithFormat, startOf } from './dates';
import { FormulaSyntaxError, parseFormula, type FormulaNode } from './parser';
import {
  FormulaRuntimeError,
  flatten,
  formulaCompare,
  formulaDate,
  formulaEquals,
  isBlank,
  isFormulaDate,
  parseDateText,
  toDate,
  toNumber,
  toText,
  truthy,
  type FormulaValue,
} from './values';

/** What a formula can see of the record it runs on. */
export interface FormulaContext {
  /** The value of a field (by id) in formula terms. */
  field(fieldId: string): FormulaValue;
  recordId: string;
  createdTime: number;
  /** Latest change to the given fields, or to any editable field when the list is empty. */
  lastModifiedTime(fieldIds: string[]): number | null;
  now: number;
  /** The linked values a rollup aggregates. */
  values?: FormulaValue[];
}

/** The formula names fields that the table does not have. */
export class UnknownFieldsError extends Error {
  override name = 'UnknownFieldsError';
  constructor(readonly names: string[]) {
    super(`Unknown field names: ${names.join(', ')}`);
  }
}

export { FormulaSyntaxError, FormulaRuntimeError };

/** The static result kind of a formula, for the meta API's `options.result`. */
export type FormulaResultKind = 'number' | 'text' | 'date' | 'array' | 'unknown';

interface FunctionSpec {
  min: number;
  max: number;
  result: FormulaResultKind | 'branches';
  /** Gets unevaluated nodes: for branching functions and field arguments. */
  lazy?: (
    args: FormulaNode[],
    ctx: FormulaContext,
    evaluate: (node: FormulaNode) => FormulaValue,
  ) => FormulaValue;
  eager?: (args: FormulaValue[], ctx: FormulaContext) => FormulaValue;
}

const num = (v: FormulaValue | undefined): number => toNumber(v ?? null);
const text = (v: FormulaValue | undefined): string => toText(v ?? null);
const bool = (b: boolean): number => (b ? 1 : 0);
const numbers = (args: FormulaValue[]): number[] =>
  flatten(args)
    .filter(
      (v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))),
    )
    .map((v) => toNumber(v));

function roundTo(value: number, precision: number, mode: 'half' | 'up' | 'down'): number {
  const factor = 10 ** Math.trunc(precision);
  const scaled = Math.abs(value) * factor;
  // Guards against 1.005 * 100 = 100.49999.
  const nudged = Math.abs(scaled - Math.round(scaled)) < 1e-9 ? Math.round(scaled) : scaled;
  const rounded =
    mode === 'half' ? Math.round(nudged) : mode === 'up' ? Math.ceil(nudged) : Math.floor(nudged);
  return (Math.sign(value) * rounded) / factor;
}

function dateArg(value: FormulaValue | undefined): ReturnType<typeof toDate> {
  return toDate(value ?? null);
}

function regex(pattern: FormulaValue | undefined, flags = ''): RegExp {
  try {
    return new RegExp(text(pattern), flags);
  } catch {
    throw new FormulaRuntimeError('invalid regular expression');
  }
}

const FUNCTIONS: Record<string, FunctionSpec> = {
  // Logic
  TRUE: { min: 0, max: 0, result: 'number', eager: () => 1 },
  FALSE: { min: 0, max: 0, result: 'number', eager: () => 0 },
  BLANK: { min: 0, max: 0, result: 'unknown', eager: () => null },
  ERROR: {
    min: 0,
    max: 1,
    result: 'unknown',
    eager: () => {
      throw new FormulaRuntimeError('ERROR()');
    },
  },
  AND: { min: 1, max: Infinity, result: 'number', eager: (args) => bool(flatten(args).every(truthy)) },
  OR: { min: 1, max: Infinity, result: 'number', eager: (args) => bool(flatten(args).some(truthy)) },
  XOR: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => bool(flatten(args).filter(truthy).length % 2 === 1),
  },
  NOT: { min: 1, max: 1, result: 'number', eager: ([v]) => bool(!truthy(v ?? null)) },
  IF: {
    min: 2,
    max: 3,
    result: 'branches',
    lazy: ([condition, whenTrue, whenFalse], _ctx, evaluate) =>
      truthy(evaluate(condition!)) ? evaluate(whenTrue!) : whenFalse ? evaluate(whenFalse) : null,
  },
  SWITCH: {
    min: 2,
    max: Infinity,
    result: 'branches',
    lazy: (args, _ctx, evaluate) => {
      const subject = evaluate(args[0]!);
      let i = 1;
      for (; i + 1 < args.length; i += 2) {
        if (formulaEquals(subject, evaluate(args[i]!))) return evaluate(args[i + 1]!);
      }
      return i < args.length ? evaluate(args[i]!) : null;
    },
  },
  ISERROR: {
    min: 1,
    max: 1,
    result: 'number',
    lazy: ([expr], _ctx, evaluate) => {
      try {
        const value = evaluate(expr!);
        return bool(typeof value === 'number' && Number.isNaN(value));
      } catch (err) {
        if (err instanceof FormulaRuntimeError) return 1;
        throw err;
      }
    },
  },

  // Text
  CONCATENATE: { min: 1, max: Infinity, result: 'text', eager: (args) => args.map(text).join('') },
  FIND: {
    min: 2,
    max: 3,
    result: 'number',
    eager: ([needle, haystack, start]) =>
      text(haystack).indexOf(text(needle), Math.max(0, num(start ?? 1) - 1)) + 1,
  },
  SEARCH: {
    min: 2,
    max: 3,
    result: 'number',
    eager: ([needle, haystack, start]) => {
      const index = text(haystack).indexOf(text(needle), Math.max(0, num(start ?? 1) - 1));
      return index < 0 ? null : index + 1;
    },
  },
  LOWER: { min: 1, max: 1, result: 'text', eager: ([v]) => text(v).toLowerCase() },
  UPPER: { min: 1, max: 1, result: 'text', eager: ([v]) => text(v).toUpperCase() },
  LEN: { min: 1, max: 1, result: 'number', eager: ([v]) => text(v).length },
  TRIM: { min: 1, max: 1, result: 'text', eager: ([v]) => text(v).trim() },
  LEFT: { min: 2, max: 2, result: 'text', eager: ([v, n]) => text(v).slice(0, Math.max(0, num(n))) },
  RIGHT: {
    min: 2,
    max: 2,
    result: 'text',
    eager: ([v, n]) => {
      const s = text(v);
      const count = Math.max(0, num(n));
      return count === 0 ? '' : s.slice(-count);
    },
  },
  MID: {
    min: 3,
    max: 3,
    result: 'text',
    eager: ([v, start, count]) => {
      const from = Math.max(0, num(start) - 1);
      return text(v).slice(from, from + Math.max(0, num(count)));
    },
  },
  REPT: {
    min: 2,
    max: 2,
    result: 'text',
    eager: ([v, n]) => text(v).repeat(Math.max(0, Math.trunc(num(n)))),
  },
  SUBSTITUTE: {
    min: 3,
    max: 4,
    result: 'text',
    eager: ([v, from, to, which]) => {
      const s = text(v);
      const needle = text(from);
      const replacement = text(to);
      if (needle === '') return s;
      if (which === undefined) return s.split(needle).join(replacement);
      const target = Math.trunc(num(which));
      let count = 0;
      let index = s.indexOf(needle);
      while (index >= 0) {
        count++;
        if (count === target) return s.slice(0, index) + replacement + s.slice(index + needle.length);
        index = s.indexOf(needle, index + needle.length);
      }
      return s;
    },
  },
  REPLACE: {
    min: 4,
    max: 4,
    result: 'text',
    eager: ([v, start, count, replacement]) => {
      const s = text(v);
      const from = Math.max(0, num(start) - 1);
      return s.slice(0, from) + text(replacement) + s.slice(from + Math.max(0, num(count)));
    },
  },
  T: { min: 1, max: 1, result: 'text', eager: ([v]) => (typeof v === 'string' ? v : '') },
  VALUE: {
    min: 1,
    max: 1,
    result: 'number',
    eager: ([v]) => {
      const cleaned = text(v).replace(/[^0-9.eE+-]/g, '');
      const n = Number(cleaned);
      if (cleaned === '' || Number.isNaN(n)) throw new FormulaRuntimeError('VALUE of non-numeric text');
      return n;
    },
  },
  ENCODE_URL_COMPONENT: { min: 1, max: 1, result: 'text', eager: ([v]) => encodeURIComponent(text(v)) },
  REGEX_MATCH: { min: 2, max: 2, result: 'number', eager: ([v, re]) => bool(regex(re).test(text(v))) },
  REGEX_EXTRACT: {
    min: 2,
    max: 2,
    result: 'text',
    eager: ([v, re]) => regex(re).exec(text(v))?.[0] ?? null,
  },
  REGEX_REPLACE: {
    min: 3,
    max: 3,
    result: 'text',
    eager: ([v, re, replacement]) => text(v).replace(regex(re, 'g'), text(replacement)),
  },

  // Numbers
  ABS: { min: 1, max: 1, result: 'number', eager: ([v]) => Math.abs(num(v)) },
  SUM: { min: 1, max: Infinity, result: 'number', eager: (args) => numbers(args).reduce((a, b) => a + b, 0) },
  AVERAGE: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => {
      const list = numbers(args);
      if (list.length === 0) throw new FormulaRuntimeError('AVERAGE of nothing');
      return list.reduce((a, b) => a + b, 0) / list.length;
    },
  },
  MAX: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => {
      const list = numbers(args);
      return list.length === 0 ? 0 : Math.max(...list);
    },
  },
  MIN: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => {
      const list = numbers(args);
      return list.length === 0 ? 0 : Math.min(...list);
    },
  },
  COUNT: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => flatten(args).filter((v) => typeof v === 'number').length,
  },
  COUNTA: {
    min: 1,
    max: Infinity,
    result: 'number',
    eager: (args) => flatten(args).filter((v) => !isBlank(v)).length,
  },
  COUNTALL: { min: 1, max: Infinity, result: 'number', eager: (args) => flatten(args).length },
  ROUND: { min: 1, max: 2, result: 'number', eager: ([v, p]) => roundTo(num(v), num(p ?? 0), 'half') },
  ROUNDUP: { min: 1, max: 2, result: 'number', eager: ([v, p]) => roundTo(num(v), num(p ?? 0), 'up') },
  ROUNDDOWN: { min: 1, max: 2, result: 'number', eager: ([v, p]) => roundTo(num(v), num(p ?? 0), 'down') },
  CEILING: {
    min: 1,
    max: 2,
    result: 'number',
    eager: ([v, s]) => {
      const significance = num(s ?? 1) || 1;
      return Math.ceil(num(v) / significance) * significance;
    },
  },
  FLOOR: {
    min: 1,
    max: 2,
    result: 'number',
    eager: ([v, s]) => {
      const significance = num(s ?? 1) || 1;
      return Math.floor(num(v) / significance) * significance;
    },
  },
  INT: { min: 1, max: 1, result: 'number', eager: ([v]) => Math.floor(num(v)) },
  EVEN: {
    min: 1,
    max: 1,
    result: 'number',
    eager: ([v]) => awayFromZeroTo(num(v), 0),
  },
  ODD: {
    min: 1,
    max: 1,
    result: 'number',
    eager: ([v]) => awayFromZeroTo(num(v), 1),
  },
  MOD: {
    min: 2,
    max: 2,
    result: 'number',
    eager: ([a, b]) => {
      const divisor = num(b);
      if (divisor === 0) throw new FormulaRuntimeError('MOD by zero');
      const n = num(a);
      // Excel-style: the result takes the divisor's sign.
      return n - divisor * Math.floor(n / divisor);
    },
  },
  POWER: { min: 2, max: 2, result: 'number', eager: ([a, b]) => num(a) ** num(b) },
  SQRT: {
    min: 1,
    max: 1,
    result: 'number',
    eager: ([v]) => {
      const n = num(v);
      if (n < 0) throw new FormulaRuntimeError('SQRT of a negative number');
      return Math.sqrt(n);
    },
  },
  EXP: { min: 1, max: 1, result: 'number', eager: ([v]) => Math.exp(num(v)) },
  LOG: {
    min: 1,
    max: 2,
    result: 'number',
    eager: ([v, base]) => Math.log(num(v)) / Math.log(num(base ?? 10)),
  },

  // Dates
  NOW: { min: 0, max: 0, result: 'date', eager: (_args, ctx) => formulaDate(ctx.now) },
  TODAY: {
    min: 0,
    max: 0,
    result: 'date',
    eager: (_args, ctx) => formulaDate(Math.floor(ctx.now / 86_400_000) * 86_400_000, true),
  },
  CREATED_TIME: { min: 0, max: 0, result: 'date', eager: (_args, ctx) => formulaDate(ctx.createdTime) },
  LAST_MODIFIED_TIME: {
    min: 0,
    max: Infinity,
    result: 'date',
    lazy: (args, ctx) => {
      const fieldIds = args.map((arg) => {
        if (arg.kind !== 'field') throw new FormulaRuntimeError('LAST_MODIFIED_TIME takes field references');
        return arg.name;
      });
      const ms = ctx.lastModifiedTime(fieldIds);
      return ms === null ? null : formulaDate(ms);
    },
  },
  IS_AFTER: {
    min: 2,
    max: 2,
    result: 'number',
    eager: ([a, b]) => {
      const left = dateArg(a);
      const right = dateArg(b);
      return left && right ? bool(left.ms > right.ms) : null;
    },
  },
  IS_BEFORE: {
    min: 2,
    max: 2,
    result: 'number',
    eager: ([a, b]) => {
      const left = dateArg(a);
      const right = dateArg(b);
      return left && right ? bool(left.ms < right.ms) : null;
    },
  },
  IS_SAME: {
    min: 2,
    max: 3,
    result: 'number',
    eager: ([a, b, unit]) => {
      const left = dateArg(a);
      const right = dateArg(b);
      if (!left || !right) return null;
      if (unit === undefined) return bool(left.ms === right.ms);
      const u = parseUnit(text(unit));
      return bool(startOf(left, u) === startOf(right, u));
    },
  },
  DATETIME_PARSE: {
    min: 1,
    max: 3,
    result: 'date',
    eager: ([v, format]) => {
      if (isFormulaDate(v)) return v;
      const source = text(v);
      const parsed =
        format === undefined || text(format) === ''
          ? parseDateText(source)
          : parseWithFormat(source, text(format));
      if (!parsed) throw new FormulaRuntimeError(`cannot parse date ${source}`);
      return parsed;
    },
  },
  DATETIME_FORMAT: {
    min: 1,
    max: 2,
    result: 'text',
    eager: ([v, format]) => {
      const date = dateArg(v);
      if (!date) return null;
      return format === undefined ? new Date(date.ms).toISOString() : formatDate(date, text(format));
    },
  },
  DATEADD: {
    min: 3,
    max: 3,
    result: 'date',
    eager: ([v, count, unit]) => {
      const date = dateArg(v);
      return date ? addToDate(date, num(count), parseUnit(text(unit))) : null;
    },
  },
  DATETIME_DIFF: {
    min: 2,
    max: 3,
    result: 'number',
    eager: ([a, b, unit]) => {
      const left = dateArg(a);
      const right = dateArg(b);
      if (!left || !right) return null;
      return diffDates(left, right, parseUnit(unit === undefined ? 'seconds' : text(unit)));
    },
  },
  DATESTR: {
    min: 1,
    max: 1,
    result: 'text',
    eager: ([v]) => {
      const date = dateArg(v);
      return date ? new Date(date.ms).toISOString().slice(0, 10) : null;
    },
  },
  TIMESTR: {
    min: 1,
    max: 1,
    result: 'text',
    eager: ([v]) => {
      const date = dateArg(v);
      return date ? new Date(date.ms).toISOString().slice(11, 19) : null;
    },
  },
  YEAR: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCFullYear()) },
  MONTH: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCMonth() + 1) },
  DAY: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCDate()) },
  HOUR: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCHours()) },
  MINUTE: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCMinutes()) },
  SECOND: { min: 1, max: 1, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCSeconds()) },
  WEEKDAY: { min: 1, max: 2, result: 'number', eager: ([v]) => datePart(v, (d) => d.getUTCDay()) },
  // Time zones and locales change how a date is shown, not the instant.
  SET_TIMEZONE: { min: 2, max: 2, result: 'date', eager: ([v]) => dateArg(v) },
  SET_LOCALE: { min: 2, max: 2, result: 'date', eager: ([v]) => dateArg(v) },

  // Records and lists
  RECORD_ID: { min: 0, max: 0, result: 'text', eager: (_args, ctx) => ctx.recordId },
  ARRAYJOIN: {
    min: 1,
    max: 2,
    result: 'text',
    eager: ([list, separator]) =>
      flatten([list ?? null])
        .filter((v) => v !== null)
        .map((v) => toText(v))
        .join(separator === undefined ? ', ' : text(separator)),
  },
  ARRAYUNIQUE: {
    min: 1,
    max: 1,
    result: 'array',
    eager: ([list]) => {
      const seen = new Set<string>();
      return flatten([list ?? null]).filter((v) => {
        const key = JSON.stringify(v);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    },
  },
  ARRAYCOMPACT: {
    min: 1,
    max: 1,
    result: 'array',
    eager: ([list]) => flatten([list ?? null]).filter((v) => !isBlank(v)),
  },
  ARRAYFLATTEN: { min: 1, max: 1, result: 'array', eager: ([list]) => flatten([list ?? null]) },
  ARRAYSLICE: {
    min: 2,
    max: 3,
    result: 'array',
    eager: ([list, start, end]) => {
      const items = flatten([list ?? null]);
      const from = num(start);
      const begin = from > 0 ? from - 1 : items.length + from;
      const stop = end === undefined ? items.length : num(end) > 0 ? num(end) : items.length + num(end) + 1;
      return items.slice(Math.max(0, begin), stop);
    },
  },
};

function datePart(value: FormulaValue | undefined, part: (d: Date) => number): FormulaValue {
  const date = dateArg(value);
  return date ? part(new Date(date.ms)) : null;
}

/** The functions this emulator evaluates, for documentation and tests. */
export const SUPPORTED_FUNCTIONS: readonly string[] = Object.keys(FUNCTIONS).sort();

function evaluateNode(node: FormulaNode, ctx: FormulaContext): FormulaValue {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'string':
      return node.value;
    case 'field':
      return ctx.field(node.name);
    case 'values':
      return ctx.values ?? [];
    case 'unary': {
      const n = toNumber(evaluateNode(node.operand, ctx));
      return node.op === '-' ? -n : n;
    }
    case 'binary': {
      const left = evaluateNode(node.left, ctx);
      const right = evaluateNode(node.right, ctx);
      switch (node.op) {
        case '&':
          return toText(left) + toText(right);
        case '+':
          return toNumber(left) + toNumber(right);
        case '-':
          return toNumber(left) - toNumber(right);
        case '*':
          return toNumber(left) * toNumber(right);
        case '/': {
          const divisor = toNumber(right);
          if (divisor === 0) throw new FormulaRuntimeError('division by zero');
          return toNumber(left) / divisor;
        }
        case '=':
          return bool(formulaEquals(left, right));
        case '!=':
          return bool(!formulaEquals(left, right));
        default: {
          const order = formulaCompare(left, right);
          if (order === null || Number.isNaN(order)) return 0;
          if (node.op === '<') return bool(order < 0);
          if (node.op === '>') return bool(order > 0);
          if (node.op === '<=') return bool(order <= 0);
          return bool(order >= 0);
        }
      }
    }
    case 'call': {
      const spec = FUNCTIONS[node.name]!;
      if (spec.lazy) return spec.lazy(node.args, ctx, (arg) => evaluateNode(arg, ctx));
      return spec.eager!(
        node.args.map((arg) => evaluateNode(arg, ctx)),
        ctx,
      );
    }
  }
}

/** A checked formula whose field references are resolved to field ids. */
export interface CompiledFormula {
  readonly referencedFieldIds: string[];
  readonly resultKind: FormulaResultKind;
  /** Throws {@link FormulaRuntimeError} when the formula errors on this record. */
  evaluate(ctx: FormulaContext): FormulaValue;
}

/**
 * Parses and checks a formula against a table. `resolveField` maps a name or id to a field id.
 * Throws {@link FormulaSyntaxError} for text that is not a formula (also unknown functions and wrong
 * argument counts) and {@link UnknownFieldsError} for references to missing fields.
 */
export function compileFormula(
  text: string,
  resolveField: (nameOrId: string) => { id: string; kind: FormulaResultKind } | undefined,
  options: { allowValues?: boolean } = {},
): CompiledFormula {
  const root = parseFormula(text, options);
  const unknown: string[] = [];
  const referenced: string[] = [];

  function resolve(node: FormulaNode): FormulaNode {
    switch (node.kind) {
      case 'field': {
        const field = resolveField(node.name);
        if (!field) {
          if (!unknown.includes(node.name)) unknown.push(node.name);
          return node;
        }
        if (!referenced.includes(field.id)) referenced.push(field.id);
        return { kind: 'field', name: field.id, braced: node.braced };
      }
      case 'call': {
        const spec = FUNCTIONS[node.name];
        if (!spec) throw new FormulaSyntaxError(`unknown function ${node.name}`);
        if (node.args.length < spec.min || node.args.length > spec.max) {
          throw new FormulaSyntaxError(`wrong number of arguments to ${node.name}`);
        }
        return { kind: 'call', name: node.name, args: node.args.map(resolve) };
      }
      case 'binary':
        return { kind: 'binary', op: node.op, left: resolve(node.left), right: resolve(node.right) };
      case 'unary':
        return { kind: 'unary', op: node.op, operand: resolve(node.operand) };
      default:
        return node;
    }
  }

  const resolved = resolve(root);
  if (unknown.length > 0) throw new UnknownFieldsError(unknown);

  function kindOf(node: FormulaNode): FormulaResultKind {
    switch (node.kind) {
      case 'number':
        return 'number';
      case 'string':
        return 'text';
      case 'field':
        return resolveField(node.name)?.kind ?? 'unknown';
      case 'values':
        return 'array';
      case 'unary':
        return 'number';
      case 'binary':
        return node.op === '&' ? 'text' : 'number';
      case 'call': {
        const spec = FUNCTIONS[node.name]!;
        if (spec.result !== 'branches') return spec.result;
        const branches =
          node.name === 'IF'
            ? node.args.slice(1)
            : node.args.filter((_, i) => i > 0 && (i % 2 === 0 || i === node.args.length - 1));
        for (const branch of branches) {
          const kind = kindOf(branch);
          if (kind !== 'unknown') return kind;
        }
        return 'unknown';
      }
    }
  }

  return {
    referencedFieldIds: referenced,
    resultKind: kindOf(resolved),
    evaluate: (ctx) => evaluateNode(resolved, ctx),
  };
}

/** EVEN() and ODD(): rounds away from zero to the nearest integer whose remainder by 2 is `parity`. */
function awayFromZeroTo(n: number, parity: 0 | 1): number {
  const up = Math.ceil(Math.abs(n));
  return Math.sign(n || 1) * (up % 2 === parity ? up : up + 1);
}
