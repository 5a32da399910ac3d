// Facts of Airtable's Web API about field types (shared/airtable-api-facts.md), in one place for the
// adapter, change-set validation and the emulator alike.

export const TEXT_TYPES: ReadonlySet<string> = new Set([
  'singleLineText',
  'multilineText',
  'richText',
  'email',
  'url',
  'phoneNumber',
]);

export const NUMBER_TYPES: ReadonlySet<string> = new Set([
  'number',
  'currency',
  'percent',
  'duration',
  'rating',
]);

/** Types whose cells Airtable computes; writes to them are refused. */
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

/** Types `performUpsert.fieldsToMergeOn` may name. */
export const MERGEABLE_TYPES: ReadonlySet<string> = new Set([
  'singleLineText',
  'multilineText',
  'number',
  'singleSelect',
  'multipleSelects',
  'date',
]);

/** Airtable's empty cell (`""`, `[]`, `false`, null): left out of `fields` when read. */
export function isEmptyCell(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === false ||
    (Array.isArray(value) && value.length === 0)
  );
}
