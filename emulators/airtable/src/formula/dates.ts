import { FormulaRuntimeError, formulaDate, type FormulaDate } from './values';

/** Formula date math runs in UTC, as Airtable's does unless SET_TIMEZONE is used for display. */

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

type Unit =
  'milliseconds' | 'seconds' | 'minutes' | 'hours' | 'days' | 'weeks' | 'months' | 'quarters' | 'years';

const UNIT_ALIASES: Record<string, Unit> = {
  ms: 'milliseconds',
  millisecond: 'milliseconds',
  milliseconds: 'milliseconds',
  s: 'seconds',
  second: 'seconds',
  seconds: 'seconds',
  m: 'minutes',
  minute: 'minutes',
  minutes: 'minutes',
  h: 'hours',
  hour: 'hours',
  hours: 'hours',
  d: 'days',
  day: 'days',
  days: 'days',
  w: 'weeks',
  week: 'weeks',
  weeks: 'weeks',
  M: 'months',
  month: 'months',
  months: 'months',
  Q: 'quarters',
  quarter: 'quarters',
  quarters: 'quarters',
  y: 'years',
  year: 'years',
  years: 'years',
};

export function parseUnit(text: string): Unit {
  const unit = UNIT_ALIASES[text] ?? UNIT_ALIASES[text.toLowerCase()];
  if (!unit) throw new FormulaRuntimeError(`unknown unit ${text}`);
  return unit;
}

const FIXED_UNIT_MS: Partial<Record<Unit, number>> = {
  milliseconds: 1,
  seconds: 1000,
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 7 * 86_400_000,
};

export function addToDate(date: FormulaDate, count: number, unit: Unit): FormulaDate {
  const fixed = FIXED_UNIT_MS[unit];
  if (fixed !== undefined) return formulaDate(date.ms + count * fixed, date.dateOnly && fixed >= 86_400_000);
  const months = unit === 'months' ? count : unit === 'quarters' ? count * 3 : count * 12;
  const d = new Date(date.ms);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + Math.trunc(months));
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return formulaDate(d.getTime(), date.dateOnly);
}

/** `a - b` in whole units, truncated toward zero. */
export function diffDates(a: FormulaDate, b: FormulaDate, unit: Unit): number {
  const fixed = FIXED_UNIT_MS[unit];
  if (fixed !== undefined) return Math.trunc((a.ms - b.ms) / fixed);
  const da = new Date(a.ms);
  const db = new Date(b.ms);
  let months = (da.getUTCFullYear() - db.getUTCFullYear()) * 12 + (da.getUTCMonth() - db.getUTCMonth());
  // A month counts only once its day and time are reached.
  const restA = a.ms - Date.UTC(da.getUTCFullYear(), da.getUTCMonth(), 1);
  const restB = b.ms - Date.UTC(db.getUTCFullYear(), db.getUTCMonth(), 1);
  if (months > 0 && restA < restB) months--;
  if (months < 0 && restA > restB) months++;
  if (unit === 'months') return months;
  if (unit === 'quarters') return Math.trunc(months / 3);
  return Math.trunc(months / 12);
}

export function startOf(date: FormulaDate, unit: Unit): number {
  const d = new Date(date.ms);
  switch (unit) {
    case 'milliseconds':
      return date.ms;
    case 'seconds':
      return Math.floor(date.ms / 1000) * 1000;
    case 'minutes':
      return Math.floor(date.ms / 60_000) * 60_000;
    case 'hours':
      return Math.floor(date.ms / 3_600_000) * 3_600_000;
    case 'days':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'weeks':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - d.getUTCDay());
    case 'months':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'quarters':
      return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1);
    case 'years':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

const FORMAT_TOKENS =
  /\[([^\]]*)\]|YYYY|YY|Q|MMMM|MMM|MM|M|Do|DD|D|dddd|ddd|d|HH|H|hh|h|mm|m|ss|s|SSS|A|a|X|x|LLLL|LLL|LL|L|ZZ|Z/g;

/** Moment-style formatting, the subset Airtable users write. */
export function formatDate(date: FormulaDate, format: string): string {
  const d = new Date(date.ms);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  const day = d.getUTCDate();
  const hours = d.getUTCHours();
  const minutes = d.getUTCMinutes();
  const seconds = d.getUTCSeconds();
  const h12 = hours % 12 === 0 ? 12 : hours % 12;
  return format.replace(FORMAT_TOKENS, (token, literal: string | undefined) => {
    if (literal !== undefined) return literal;
    switch (token) {
      case 'YYYY':
        return String(year);
      case 'YY':
        return pad(year % 100);
      case 'Q':
        return String(Math.floor(month / 3) + 1);
      case 'MMMM':
        return MONTHS[month]!;
      case 'MMM':
        return MONTHS[month]!.slice(0, 3);
      case 'MM':
        return pad(month + 1);
      case 'M':
        return String(month + 1);
      case 'Do': {
        const suffix =
          day % 10 === 1 && day !== 11
            ? 'st'
            : day % 10 === 2 && day !== 12
              ? 'nd'
              : day % 10 === 3 && day !== 13
                ? 'rd'
                : 'th';
        return `${day}${suffix}`;
      }
      case 'DD':
        return pad(day);
      case 'D':
        return String(day);
      case 'dddd':
        return WEEKDAYS[d.getUTCDay()]!;
      case 'ddd':
        return WEEKDAYS[d.getUTCDay()]!.slice(0, 3);
      case 'd':
        return String(d.getUTCDay());
      case 'HH':
        return pad(hours);
      case 'H':
        return String(hours);
      case 'hh':
        return pad(h12);
      case 'h':
        return String(h12);
      case 'mm':
        return pad(minutes);
      case 'm':
        return String(minutes);
      case 'ss':
        return pad(seconds);
      case 's':
        return String(seconds);
      case 'SSS':
        return pad(d.getUTCMilliseconds(), 3);
      case 'A':
        return hours < 12 ? 'AM' : 'PM';
      case 'a':
        return hours < 12 ? 'am' : 'pm';
      case 'X':
        return String(Math.floor(date.ms / 1000));
      case 'x':
        return String(date.ms);
      case 'L':
        return `${pad(month + 1)}/${pad(day)}/${year}`;
      case 'LL':
        return `${MONTHS[month]} ${day}, ${year}`;
      case 'LLL':
        return `${MONTHS[month]} ${day}, ${year} ${h12}:${pad(minutes)} ${hours < 12 ? 'AM' : 'PM'}`;
      case 'LLLL':
        return `${WEEKDAYS[d.getUTCDay()]}, ${MONTHS[month]} ${day}, ${year} ${h12}:${pad(minutes)} ${hours < 12 ? 'AM' : 'PM'}`;
      case 'Z':
        return '+00:00';
      case 'ZZ':
        return '+0000';
      default:
        return token;
    }
  });
}

/** Reads `text` laid out as `format` (moment-style tokens); null when it does not fit. */
export function parseWithFormat(text: string, format: string): FormulaDate | null {
  const parts: Array<'Y' | 'YY' | 'M' | 'MMM' | 'D' | 'H' | 'h' | 'm' | 's' | 'S' | 'A' | 'X' | 'x'> = [];
  const pattern = format.replace(
    /\[([^\]]*)\]|YYYY|YY|MMMM|MMM|MM|M|DD|D|HH|H|hh|h|mm|m|ss|s|SSS|A|a|X|x|[.*+?^${}()|\\]/g,
    (token, literal: string | undefined) => {
      if (literal !== undefined) return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      switch (token) {
        case 'YYYY':
          parts.push('Y');
          return '(\\d{4})';
        case 'YY':
          parts.push('YY');
          return '(\\d{2})';
        case 'MMMM':
        case 'MMM':
          parts.push('MMM');
          return '([A-Za-z]+)';
        case 'MM':
        case 'M':
          parts.push('M');
          return '(\\d{1,2})';
        case 'DD':
        case 'D':
          parts.push('D');
          return '(\\d{1,2})';
        case 'HH':
        case 'H':
          parts.push('H');
          return '(\\d{1,2})';
        case 'hh':
        case 'h':
          parts.push('h');
          return '(\\d{1,2})';
        case 'mm':
        case 'm':
          parts.push('m');
          return '(\\d{1,2})';
        case 'ss':
        case 's':
          parts.push('s');
          return '(\\d{1,2})';
        case 'SSS':
          parts.push('S');
          return '(\\d{1,3})';
        case 'A':
        case 'a':
          parts.push('A');
          return '([AaPp][Mm])';
        case 'X':
          parts.push('X');
          return '(\\d+)';
        case 'x':
          parts.push('x');
          return '(\\d+)';
        default:
          return `\\${token}`;
      }
    },
  );
  const match = new RegExp(`^\\s*${pattern}\\s*$`).exec(text);
  if (!match) return null;
  let year = 1970;
  let month = 0;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let milli = 0;
  let pm: boolean | undefined;
  let twelveHour = false;
  let hasTime = false;
  for (let i = 0; i < parts.length; i++) {
    const raw = match[i + 1]!;
    switch (parts[i]) {
      case 'Y':
        year = Number(raw);
        break;
      case 'YY':
        year = 2000 + Number(raw);
        break;
      case 'M':
        month = Number(raw) - 1;
        break;
      case 'MMM': {
        const index = MONTHS.findIndex((name) =>
          name.toLowerCase().startsWith(raw.toLowerCase().slice(0, 3)),
        );
        if (index < 0) return null;
        month = index;
        break;
      }
      case 'D':
        day = Number(raw);
        break;
      case 'H':
        hour = Number(raw);
        hasTime = true;
        break;
      case 'h':
        hour = Number(raw);
        twelveHour = true;
        hasTime = true;
        break;
      case 'm':
        minute = Number(raw);
        hasTime = true;
        break;
      case 's':
        second = Number(raw);
        break;
      case 'S':
        milli = Number(raw.padEnd(3, '0'));
        break;
      case 'A':
        pm = raw.toLowerCase() === 'pm';
        break;
      case 'X':
        return formulaDate(Number(raw) * 1000);
      case 'x':
        return formulaDate(Number(raw));
    }
  }
  if (twelveHour || pm !== undefined) {
    if (pm === true && hour < 12) hour += 12;
    if (pm === false && hour === 12) hour = 0;
  }
  const ms = Date.UTC(year, month, day, hour, minute, second, milli);
  if (Number.isNaN(ms) || month > 11 || day > 31) return null;
  return formulaDate(ms, !hasTime);
}
