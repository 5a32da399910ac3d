import type { AirtableFieldSchema } from '../../airtable/meta';
import { AirtableApiError } from '../../airtable/errors';
import { formulaField, formulaNumber, formulaString } from '../../airtable/formula';
import { COMPUTED_TYPES } from '../../airtable/field-types';
import { chunk, type AirtableRecords } from '../../airtable/records';
import { readRecordsById } from '../../airtable/streaming';

// What change sets need beyond one request each (reads by id and by creation time live with the
// adapter, in airtable/streaming.ts): deleting what still exists, matching merge values, and turning
// a read value back into one Airtable accepts as a write.

/** Field name → schema, for one table. */
export type FieldTypes = ReadonlyMap<string, AirtableFieldSchema>;

/** Deletes whichever of `ids` still exist (a record already gone counts as deleted). */
export async function deleteExisting(records: AirtableRecords, table: string, ids: string[]): Promise<void> {
  for (const batch of chunk(ids)) {
    try {
      await records.destroy(table, batch);
    } catch (err) {
      // One unknown id fails the whole request; delete what is left.
      if (!(err instanceof AirtableApiError) || err.status !== 404) throw err;
      const left = [...(await readRecordsById(records, table, batch)).keys()];
      if (left.length > 0) await records.destroy(table, left);
    }
  }
}

/**
 * A formula matching records whose merge fields hold any of the given records' values: a superset
 * is fine (it only decides which before-images are kept), a miss is caught by the created-time check.
 */
export function mergeMatchFormula(
  records: Array<{ fields?: Record<string, unknown> }>,
  mergeFields: string[],
  fieldTypes: FieldTypes,
): string {
  const clauses = records.map((record) => {
    const parts = mergeFields.map((name) => {
      const value = record.fields?.[name];
      const type = fieldTypes.get(name)?.type;
      const ref = formulaField(name);
      if (typeof value === 'number') return `${ref} = ${formulaNumber(value)}`;
      if (type === 'date' && typeof value === 'string')
        return `DATESTR(${ref}) = ${formulaString(value.slice(0, 10))}`;
      if (Array.isArray(value)) return `${ref} = ${formulaString(value.map(String).join(', '))}`;
      return `${ref} = ${formulaString(String(value ?? ''))}`;
    });
    return parts.length === 1 ? parts[0]! : `AND(${parts.join(', ')})`;
  });
  return clauses.length === 1 ? clauses[0]! : `OR(${clauses.join(', ')})`;
}

/** What compensation needs to know about records it rewrites. */
export interface RestoreContext {
  fieldTypes: FieldTypes;
  /** Deleted records already recreated: old id → new id. */
  idMap: Readonly<Record<string, string>>;
  /** Records deleted by this change set and not recreated yet: links to them are left out for now. */
  gone: ReadonlySet<string>;
}

/**
 * A value as read (`fields` of a record) turned into one Airtable accepts as a write: links follow
 * recreated records, attachments are re-sent by url, collaborators by id. `undefined` = not writable.
 */
export function writableValue(name: string, value: unknown, context: RestoreContext): unknown {
  const type = context.fieldTypes.get(name)?.type;
  if (type !== undefined && COMPUTED_TYPES.has(type)) return undefined;
  if (value === undefined || value === null) return null;
  switch (type) {
    case 'multipleRecordLinks':
      return (value as string[]).map((id) => context.idMap[id] ?? id).filter((id) => !context.gone.has(id));
    case 'multipleAttachments':
      return (value as Array<{ url: string; filename?: string }>).map((a) => ({
        url: a.url,
        ...(a.filename ? { filename: a.filename } : {}),
      }));
    case 'singleCollaborator':
      return collaboratorRef(value);
    case 'multipleCollaborators':
      return (value as unknown[]).map(collaboratorRef);
    default:
      return value;
  }
}

/** The writable fields of a record as it was read, ready to recreate it. */
export function recreatableFields(
  fields: Record<string, unknown>,
  context: RestoreContext,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!context.fieldTypes.has(name)) continue; // a field removed since: nothing to write it to
    const writable = writableValue(name, value, context);
    if (writable === undefined || writable === null) continue;
    if (Array.isArray(writable) && writable.length === 0) continue;
    out[name] = writable;
  }
  return out;
}

function collaboratorRef(value: unknown): unknown {
  const c = value as { id?: string; email?: string };
  return c.id ? { id: c.id } : { email: c.email };
}
