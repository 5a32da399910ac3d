import type { AirtableFieldSchema } from '../../airtable/meta';
import type { AirtableRecord } from '../../airtable/records';
import { isEmptyCell } from '../../airtable/field-types';

// Airtable has no idempotency keys, so a create whose answer was lost (timeout, a worker killed
// after Airtable answered) is reconciled instead of repeated: the records created since the intent
// was journaled are compared with the ones the request carried. This module is the comparison.

/**
 * How far before the journaled send time a created record may carry its `createdTime`: the send
 * time comes from our database's clock, `createdTime` from Airtable's.
 */
export const CLOCK_SKEW_MS = 120_000;

/**
 * Finds, for every record a create request carried, a distinct candidate holding the same values.
 * Returns the matched ids in request order, or `undefined` when the request did not land (no
 * candidate matches any record). Airtable applies a request wholly or not at all, so a partial
 * match means the values were transformed beyond recognition (typecast); the matched ids are
 * returned with the count of unmatched ones so the caller can decide.
 */
export function matchCreatedRecords(
  sent: Array<{ fields?: Record<string, unknown> }>,
  candidates: AirtableRecord[],
  fieldTypes: ReadonlyMap<string, AirtableFieldSchema>,
  options: { typecast: boolean },
): { ids: string[]; unmatched: number } | undefined {
  const taken = new Set<string>();
  const ids: string[] = [];
  let unmatched = 0;
  for (const record of sent) {
    const match = candidates.find(
      (c) => !taken.has(c.id) && sameValues(record.fields ?? {}, c.fields, fieldTypes, options.typecast),
    );
    if (match) {
      taken.add(match.id);
      ids.push(match.id);
    } else unmatched++;
  }
  return ids.length === 0 ? undefined : { ids, unmatched };
}

/** Whether a stored record holds every value that was sent (fields not sent are not compared). */
export function sameValues(
  sent: Record<string, unknown>,
  stored: Record<string, unknown>,
  fieldTypes: ReadonlyMap<string, AirtableFieldSchema>,
  typecast: boolean,
): boolean {
  return Object.entries(sent).every(([name, value]) =>
    sameCell(fieldTypes.get(name)?.type, value, stored[name], typecast),
  );
}

/** Compares a sent value with the stored cell, as Airtable normalizes it on the way in. */
export function sameCell(
  type: string | undefined,
  sent: unknown,
  stored: unknown,
  typecast: boolean,
): boolean {
  if (isEmptyCell(sent)) return isEmptyCell(stored);
  if (isEmptyCell(stored)) return type === 'checkbox' ? sent === false : false;
  switch (type) {
    case 'number':
    case 'currency':
    case 'percent':
    case 'duration':
    case 'rating':
      return Number(sent) === Number(stored);
    case 'checkbox':
      return Boolean(sent) === Boolean(stored);
    case 'date':
      return typeof sent === 'string' && typeof stored === 'string' && sameDay(sent, stored);
    case 'dateTime':
      return (
        typeof sent === 'string' && typeof stored === 'string' && Date.parse(sent) === Date.parse(stored)
      );
    case 'multipleSelects':
    case 'multipleRecordLinks':
      return sameSet(asList(sent), asList(stored));
    case 'multipleAttachments':
      // Airtable replaces the url with its own copy; the number of files is what survives.
      return Array.isArray(sent) && Array.isArray(stored) && sent.length === stored.length;
    case 'singleCollaborator':
      return sameCollaborator(sent, stored);
    case 'multipleCollaborators':
      return (
        Array.isArray(sent) &&
        Array.isArray(stored) &&
        sent.length === stored.length &&
        sent.every((s) => stored.some((t) => sameCollaborator(s, t)))
      );
    case 'barcode':
      return (sent as { text?: unknown }).text === (stored as { text?: unknown }).text;
    default:
      if (typeof sent === 'string' && typeof stored === 'string') return sent === stored;
      // With typecast a value may arrive as another type ("5" into a number); compare its text.
      return typecast ? String(sent) === String(stored) : JSON.stringify(sent) === JSON.stringify(stored);
  }
}

function sameDay(a: string, b: string): boolean {
  const day = (s: string) =>
    /^\d{4}-\d{2}-\d{2}/.test(s) ? s.slice(0, 10) : new Date(s).toISOString().slice(0, 10);
  try {
    return day(a) === day(b);
  } catch {
    return false;
  }
}

function asList(value: unknown): string[] {
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'string' ? v : String((v as { id?: unknown })?.id)));
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()) : [];
}

function sameSet(a: string[], b: string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((v) => right.has(v));
}

function sameCollaborator(sent: unknown, stored: unknown): boolean {
  const s = sent as { id?: string; email?: string };
  const t = stored as { id?: string; email?: string };
  if (typeof sent === 'string') return sent === t?.email;
  return (s?.id !== undefined && s.id === t?.id) || (s?.email !== undefined && s.email === t?.email);
}
