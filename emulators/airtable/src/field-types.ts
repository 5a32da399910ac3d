/** The field types of the Web API and what each allows. */

// The emulator keeps its own reading of the facts (shared/airtable-api-facts.md): it must not share
// the platform adapter's tables, or a wrong fact would be wrong on both sides and no test would notice.

/** Text-like types: the cell is a string. */
export const TEXT_TYPES: ReadonlySet<string> = new Set([
  'singleLineText',
  'multilineText',
  'richText',
  'email',
  'url',
  'phoneNumber',
]);

/** Numeric types: the cell is a number. */
export const NUMBER_TYPES: ReadonlySet<string> = new Set([
  'number',
  'currency',
  'percent',
  'rating',
  'duration',
]);

/** Types Airtable computes; it refuses writes to them. */
export const COMPUTED_TYPES: ReadonlySet<string> = new Set([
  'formula',
  'rollup',
  'lookup',
  'multipleLookupValues',
  'count',
  'createdTime',
  'lastModifiedTime',
  'autoNumber',
  'createdBy',
  'lastModifiedBy',
  'button',
  'externalSyncSource',
  'aiText',
]);

/** What `performUpsert.fieldsToMergeOn` accepts: text, long text, number, selects, date. */
export const MERGEABLE_TYPES: ReadonlySet<string> = new Set([
  'singleLineText',
  'multilineText',
  'number',
  'singleSelect',
  'multipleSelects',
  'date',
]);

/** An empty cell (`""`, `[]`, `false`, null): Airtable leaves it out of `fields`. */
export function isEmptyCell(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    (Array.isArray(value) && value.length === 0)
  );
}

/** Every type the emulator stores or computes. */
export const KNOWN_TYPES = new Set([
  ...TEXT_TYPES,
  ...NUMBER_TYPES,
  ...COMPUTED_TYPES,
  'checkbox',
  'singleSelect',
  'multipleSelects',
  'date',
  'dateTime',
  'multipleRecordLinks',
  'multipleAttachments',
  'barcode',
  'singleCollaborator',
  'multipleCollaborators',
]);

/** The meta API creates only non-computed types (Airtable refuses formula, rollup, … there). */
export function isCreatableType(type: string): boolean {
  return KNOWN_TYPES.has(type) && !COMPUTED_TYPES.has(type);
}

export const SELECT_COLORS = [
  'blueLight2',
  'cyanLight2',
  'tealLight2',
  'greenLight2',
  'yellowLight2',
  'orangeLight2',
  'redLight2',
  'pinkLight2',
  'purpleLight2',
  'grayLight2',
];

/**
 * Types a table's primary (first) field may have. Airtable's support article on the primary field
 * lists single line text, long text, date, phone number, email, URL, number, currency, percent,
 * duration, formula, autonumber and barcode; date covers `date` and `dateTime`, and the created /
 * last modified time fields are date fields too. Checkboxes, selects, links, attachments,
 * collaborators, ratings, rollups, lookups, counts, rich text and buttons cannot be primary.
 */
export const PRIMARY_FIELD_TYPES: ReadonlySet<string> = new Set([
  'singleLineText',
  'multilineText',
  'email',
  'url',
  'phoneNumber',
  'number',
  'currency',
  'percent',
  'duration',
  'formula',
  'autoNumber',
  'barcode',
  'date',
  'dateTime',
  'createdTime',
  'lastModifiedTime',
]);

/** `options.dateFormat.name` → the moment.js `format` Airtable pairs it with (always present when read). */
export const DATE_FORMATS: Readonly<Record<string, string>> = {
  local: 'l',
  friendly: 'LL',
  us: 'M/D/YYYY',
  european: 'D/M/YYYY',
  iso: 'YYYY-MM-DD',
};

/** `options.timeFormat.name` → its `format`. */
export const TIME_FORMATS: Readonly<Record<string, string>> = {
  '12hour': 'h:mma',
  '24hour': 'HH:mm',
};

/**
 * Defaults for a date or dateTime field given without (some of) its options, which only a seed may
 * do (the meta API requires them). They keep `cellFormat=string` as it was before these options were
 * filled in: local dates, and ISO dates with a 24-hour time in the caller's time zone.
 */
export const DEFAULT_DATE_FORMAT = 'local';
export const DEFAULT_DATE_TIME_OPTIONS = {
  dateFormat: 'iso',
  timeFormat: '24hour',
  timeZone: 'client',
} as const;

/** A date or dateTime `options` object that cannot be used; the message says why. */
export class DateOptionsError extends Error {
  override name = 'DateOptionsError';
}

function isTimeZone(value: string): boolean {
  if (value === 'client' || value === 'utc') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function completeFormat(
  what: 'dateFormat' | 'timeFormat',
  raw: unknown,
  formats: Readonly<Record<string, string>>,
  fallback: string | undefined,
  lenient: boolean,
): { name: string; format: string } {
  if (raw === undefined || raw === null) {
    if (fallback === undefined) throw new DateOptionsError(`${what} is required`);
    return { name: fallback, format: formats[fallback]! };
  }
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new DateOptionsError(`${what} must be an object with a name`);
  const { name, format } = raw as { name?: unknown; format?: unknown };
  let resolved = typeof name === 'string' ? name : undefined;
  // A seed may give only the format; the meta API needs the name (the format is optional there).
  if (resolved === undefined && lenient && typeof format === 'string')
    resolved = Object.keys(formats).find((key) => formats[key] === format);
  if (resolved === undefined || !Object.hasOwn(formats, resolved)) {
    throw new DateOptionsError(
      `${what}.name must be one of ${Object.keys(formats)
        .map((n) => `"${n}"`)
        .join(', ')}`,
    );
  }
  if (format !== undefined && format !== formats[resolved]) {
    throw new DateOptionsError(
      `${what}.format ${JSON.stringify(format)} does not match name "${resolved}" (expected "${formats[resolved]}")`,
    );
  }
  return { name: resolved, format: formats[resolved]! };
}

/**
 * The options of a `date` or `dateTime` field with `dateFormat.format` (and `timeFormat.format`)
 * filled in from their names, as Airtable always returns them. `lenient` (seeds, and reading back
 * stored fields) fills missing parts with the defaults; otherwise (the meta API) they are required.
 * Throws {@link DateOptionsError} for unknown names, a format that does not match its name, or an
 * unknown time zone.
 */
export function completeDateOptions(
  type: 'date' | 'dateTime',
  options: Record<string, unknown> | undefined,
  lenient: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(options ?? {}) };
  if (type === 'date') {
    out.dateFormat = completeFormat(
      'dateFormat',
      out.dateFormat,
      DATE_FORMATS,
      lenient ? DEFAULT_DATE_FORMAT : undefined,
      lenient,
    );
    return out;
  }
  out.dateFormat = completeFormat(
    'dateFormat',
    out.dateFormat,
    DATE_FORMATS,
    lenient ? DEFAULT_DATE_TIME_OPTIONS.dateFormat : undefined,
    lenient,
  );
  out.timeFormat = completeFormat(
    'timeFormat',
    out.timeFormat,
    TIME_FORMATS,
    lenient ? DEFAULT_DATE_TIME_OPTIONS.timeFormat : undefined,
    lenient,
  );
  if (out.timeZone === undefined || out.timeZone === null) {
    if (!lenient) throw new DateOptionsError('timeZone is required');
    out.timeZone = DEFAULT_DATE_TIME_OPTIONS.timeZone;
  }
  if (typeof out.timeZone !== 'string' || !isTimeZone(out.timeZone))
    throw new DateOptionsError(
      `timeZone ${JSON.stringify(out.timeZone)} is not "utc", "client" or an IANA zone`,
    );
  return out;
}
