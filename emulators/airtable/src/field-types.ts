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
