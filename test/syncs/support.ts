import type { AirtableEmulator, EmulatorSeed } from '@airtable-ops/airtable-emulator';
import type { Pool } from 'pg';
import { escapeIdentifier } from 'pg';
import type { AirtableAccess } from '../../airtable/access';
import { metaOptions } from '../../airtable/access';
import { getBaseSchema, type AirtableTableSchema } from '../../airtable/meta';

// Helpers of the sync tests: a base with every common cell type, and an exact comparison of a
// workspace's mirror with the base, written apart from the mirror's own conversions.

export const SYNC_BASE_ID = 'appSYNCtestBase01';

/** Projects and tasks linked both ways, with text, numbers, checkboxes, dates, selects, attachments and formulas. */
export function syncSeed(options: { baseId?: string; tasks?: number } = {}): EmulatorSeed {
  const tasks = options.tasks ?? 25;
  return {
    bases: [
      {
        id: options.baseId ?? SYNC_BASE_ID,
        name: 'Sync test base',
        tables: [
          {
            name: 'Projects',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              { name: 'Budget', type: 'currency', options: { precision: 2, symbol: '$' } },
              { name: 'Active', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Start', type: 'date', options: { dateFormat: { name: 'iso' } } },
              {
                name: 'Kick-off',
                type: 'dateTime',
                options: { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' }, timeZone: 'utc' },
              },
              {
                name: 'Stage',
                type: 'singleSelect',
                options: { choices: [{ name: 'Idea' }, { name: 'Doing' }, { name: 'Done' }] },
              },
              {
                name: 'Tags',
                type: 'multipleSelects',
                options: { choices: [{ name: 'web' }, { name: 'ops' }, { name: 'urgent' }] },
              },
              { name: 'Owner Email', type: 'email' },
              { name: 'Notes', type: 'multilineText' },
              { name: 'Files', type: 'multipleAttachments' },
              { name: 'Label', type: 'formula', options: { formula: "{Name} & ' #' & {Stage}" } },
              { name: 'Double Budget', type: 'formula', options: { formula: '{Budget} * 2' } },
            ],
            records: ['Website', 'Warehouse', 'Mobile app', 'Data platform'].map((Name, i) => ({
              fields: {
                Name,
                Budget: 1000.5 * (i + 1),
                Active: i % 2 === 0,
                Start: `2026-0${i + 1}-10`,
                'Kick-off': `2026-0${i + 1}-10T09:30:00.000Z`,
                Stage: ['Idea', 'Doing', 'Done'][i % 3],
                Tags: i % 2 ? ['web', 'ops'] : ['urgent'],
                'Owner Email': `owner${i}@example.com`,
                ...(i === 0 ? { Notes: 'Line one\nLine "two"' } : {}),
                ...(i === 1
                  ? { Files: [{ url: 'https://example.com/plan.pdf', filename: 'plan.pdf' }] }
                  : {}),
              },
            })),
          },
          {
            name: 'Tasks',
            fields: [
              { name: 'Title', type: 'singleLineText' },
              { name: 'Done', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso' } } },
              { name: 'Hours', type: 'number', options: { precision: 1 } },
              {
                name: 'Project',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Projects' },
              },
            ],
            records: Array.from({ length: tasks }, (_, i) => ({
              fields: {
                Title: `Task ${String(i + 1).padStart(3, '0')}`,
                Done: i % 3 === 0,
                Due: `2026-12-${String((i % 28) + 1).padStart(2, '0')}`,
                Hours: (i % 7) + 0.5,
                Project: [['Website', 'Warehouse', 'Mobile app', 'Data platform'][i % 4]!],
              },
            })),
          },
        ],
      },
    ],
  };
}

/** The mirror's names as a sync's answer gives them. */
export type MirrorMap = Record<string, { table: string; columns: Record<string, string> }>;

function isoInstant(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isFinite(at) ? at : undefined;
}

/** JSON with sorted keys: equal values, equal text, whichever realm built them. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/**
 * Whether a mirror cell (as `to_jsonb` renders it) holds the base's cell (as the records API answers
 * it, absent when empty). Numbers compare as numbers, instants as instants, the rest exactly.
 */
export function sameCell(field: { type: string }, base: unknown, mirror: unknown): boolean {
  if (base === undefined || base === null || base === '' || (Array.isArray(base) && base.length === 0))
    return field.type === 'checkbox' ? mirror === false : mirror === null;
  if (typeof base === 'number') return typeof mirror === 'number' && mirror === base;
  const instant = isoInstant(base);
  if (instant !== undefined) return isoInstant(mirror) === instant;
  return canonical(mirror) === canonical(base);
}

/** Every difference between the mirror and the base (ids, created times, every cell); empty when equal. */
export async function mirrorDifferences(options: {
  pool: Pool;
  emulator: AirtableEmulator;
  airtable: AirtableAccess;
  token: string;
  baseId: string;
  schemaName: string;
  tables: MirrorMap;
  /** Only these Airtable tables. @default every table of the base */
  tableIds?: string[];
  /** Leave out fields of these types (e.g. rollups a webhook does not report). */
  skipTypes?: string[];
}): Promise<string[]> {
  const schema: AirtableTableSchema[] = await getBaseSchema(
    metaOptions(options.airtable, options.token),
    options.baseId,
  );
  const problems: string[] = [];
  const wanted = schema.filter((t) => !options.tableIds || options.tableIds.includes(t.id));
  const mirrored = new Set(Object.keys(options.tables));
  for (const table of wanted) {
    mirrored.delete(table.id);
    const mapping = options.tables[table.id];
    if (!mapping) {
      problems.push(`table ${table.name} (${table.id}) is not mirrored`);
      continue;
    }
    const { rows } = await options.pool.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM ${escapeIdentifier(options.schemaName)}.${escapeIdentifier(mapping.table)} t`,
    );
    const mirror = new Map(rows.map((r) => [r.row.id as string, r.row]));
    const records = options.emulator.listRecords(options.baseId, table.id);
    if (records.length !== mirror.size)
      problems.push(
        `${table.name}: ${records.length} records in the base, ${mirror.size} rows in the mirror`,
      );
    const expectedColumns = new Set(['id', 'created_time']);
    for (const field of table.fields) {
      if (options.skipTypes?.includes(field.type)) continue;
      const column = mapping.columns[field.id];
      if (!column) problems.push(`${table.name}.${field.name} (${field.id}) has no column`);
      else expectedColumns.add(column);
    }
    const sample = rows[0]?.row;
    if (sample)
      for (const column of Object.keys(sample))
        if (!expectedColumns.has(column) && !Object.values(mapping.columns).includes(column))
          problems.push(`${table.name}: column ${column} is not a field of the base`);
    for (const record of records) {
      const row = mirror.get(record.id);
      if (!row) {
        problems.push(`${table.name}: record ${record.id} is missing`);
        continue;
      }
      if (isoInstant(row.created_time) !== Date.parse(record.createdTime))
        problems.push(
          `${table.name}/${record.id}: created_time ${String(row.created_time)} ≠ ${record.createdTime}`,
        );
      for (const field of table.fields) {
        if (options.skipTypes?.includes(field.type)) continue;
        const column = mapping.columns[field.id];
        if (!column) continue;
        const base = (record.fields as Record<string, unknown>)[field.name];
        if (!sameCell(field, base, row[column]))
          problems.push(
            `${table.name}/${record.id}.${field.name} (${field.type}): base ${JSON.stringify(base)} ≠ mirror ${JSON.stringify(row[column])}`,
          );
      }
    }
    for (const id of mirror.keys())
      if (!records.some((r) => r.id === id)) problems.push(`${table.name}: row ${id} has no record`);
  }
  for (const tableId of mirrored) problems.push(`mirror table for ${tableId} has no Airtable table`);
  return problems;
}
