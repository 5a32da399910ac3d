/** The field types of the Web API and what each allows. */

import {
  COMPUTED_TYPES,
  MERGEABLE_TYPES,
  NUMBER_TYPES,
  TEXT_TYPES,
} from '../../activities/airtable/field-types';

export { COMPUTED_TYPES, MERGEABLE_TYPES, NUMBER_TYPES, TEXT_TYPES };

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
