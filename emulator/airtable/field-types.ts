/** The field types of the Web API and what each allows. */

export const TEXT_TYPES = new Set([
  'singleLineText',
  'multilineText',
  'richText',
  'email',
  'url',
  'phoneNumber',
]);

export const NUMBER_TYPES = new Set(['number', 'currency', 'percent', 'duration', 'rating']);

/** Types whose cells Airtable computes; writes to them are refused. */
export const COMPUTED_TYPES = new Set([
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

/** Types `performUpsert.fieldsToMergeOn` may name. */
export const MERGEABLE_TYPES = new Set([
  'singleLineText',
  'multilineText',
  'number',
  'singleSelect',
  'multipleSelects',
  'date',
]);

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
