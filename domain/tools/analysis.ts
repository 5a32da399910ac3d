import { z } from 'zod';
import type { AirtableRecord } from '../../airtable/records';
import { MAX_ANALYSED, readRecords } from './reading';
import {
  BaseIdArg,
  checkBase,
  defineTool,
  resolveField,
  resolveTable,
  tableOf,
  TableIdArg,
  ToolError,
  type ToolContext,
} from './registry';

// Tools that compute over whole tables (up to MAX_ANALYSED records each), so the model gets an
// answer rather than thousands of records to add up itself.

async function allRecords(
  context: ToolContext,
  tableId: string,
  params: { filterByFormula?: string; view?: string; fields?: string[] },
): Promise<{ records: AirtableRecord[]; capped: boolean }> {
  const { records, more } = await readRecords(context, tableId, params, MAX_ANALYSED);
  return { records, capped: more };
}

const capNote = (capped: boolean) =>
  capped
    ? { note: `Only the first ${MAX_ANALYSED} records were read; narrow the filter for an exact answer.` }
    : {};

/** A cell as a comparable key: lists joined, objects by their text. */
function cellKey(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(cellKey).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).trim().toLowerCase();
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value) && value.length === 1) return toNumber(value[0]);
  return undefined;
}

/** RFC 4180 CSV: every cell quoted when it holds a quote, comma or line break; lists joined. */
function csvCell(value: unknown): string {
  const text =
    value === undefined || value === null
      ? ''
      : Array.isArray(value)
        ? value
            .map((v) =>
              typeof v === 'object'
                ? ((v as { name?: string; url?: string }).name ??
                  (v as { url?: string }).url ??
                  JSON.stringify(v))
                : String(v),
            )
            .join(', ')
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  // A leading =, +, - or @ would run as a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const analysisTools = [
  defineTool({
    name: 'count_records',
    kind: 'read',
    description: 'Counts the records of a table, optionally those a formula or view selects.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      filterByFormula: z.string().optional(),
      view: z.string().optional(),
    }),
    annotations: { title: 'Count records', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const primary = table.fields.find((f) => f.id === table.primaryFieldId)?.name;
      const { records, capped } = await allRecords(context, table.id, {
        filterByFormula: args.filterByFormula,
        view: args.view,
        fields: primary ? [primary] : undefined,
      });
      return { table: table.name, count: records.length, ...capNote(capped) };
    },
  }),
  defineTool({
    name: 'aggregate_records',
    kind: 'read',
    description:
      'Computes sum, avg, min, max or count of a field over a table, optionally grouped by another field and filtered.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      field: z.string().min(1).describe('The field to aggregate (numbers for sum/avg/min/max).'),
      operation: z.enum(['sum', 'avg', 'min', 'max', 'count']),
      groupBy: z.string().optional().describe('A field whose values form the groups.'),
      filterByFormula: z.string().optional(),
    }),
    annotations: { title: 'Aggregate records', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const field = resolveField(table, args.field);
      const group = args.groupBy ? resolveField(table, args.groupBy) : undefined;
      const { records, capped } = await allRecords(context, table.id, {
        filterByFormula: args.filterByFormula,
        fields: [field.name, ...(group ? [group.name] : [])],
      });
      const groups = new Map<string, number[]>();
      const counts = new Map<string, number>();
      for (const record of records) {
        const key = group ? cellKey(record.fields[group.name]) || '(empty)' : 'all';
        counts.set(key, (counts.get(key) ?? 0) + (record.fields[field.name] === undefined ? 0 : 1));
        const n = toNumber(record.fields[field.name]);
        if (n !== undefined) groups.set(key, [...(groups.get(key) ?? []), n]);
        else if (!groups.has(key)) groups.set(key, []);
      }
      const compute = (values: number[], key: string) => {
        switch (args.operation) {
          case 'count':
            return counts.get(key) ?? 0;
          case 'sum':
            return values.reduce((a, b) => a + b, 0);
          case 'avg':
            return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
          case 'min':
            return values.length ? Math.min(...values) : null;
          case 'max':
            return values.length ? Math.max(...values) : null;
        }
      };
      const results = [...groups.entries()].map(([key, values]) => ({
        ...(group ? { group: key } : {}),
        value: compute(values, key),
        records: values.length,
      }));
      return {
        table: table.name,
        field: field.name,
        operation: args.operation,
        ...(group ? { groupBy: group.name, groups: results } : { value: results[0]?.value ?? null }),
        recordsRead: records.length,
        ...capNote(capped),
      };
    },
  }),
  defineTool({
    name: 'find_duplicates',
    kind: 'read',
    description:
      'Finds records that share the same values in the given fields (compared ignoring case and spaces).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      fields: z.array(z.string().min(1)).min(1).max(5),
    }),
    annotations: { title: 'Find duplicates', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const fields = args.fields.map((f) => resolveField(table, f).name);
      const { records, capped } = await allRecords(context, table.id, { fields });
      const byKey = new Map<string, string[]>();
      for (const record of records) {
        const key = fields.map((f) => cellKey(record.fields[f])).join('\u0001');
        if (fields.every((f) => cellKey(record.fields[f]) === '')) continue;
        byKey.set(key, [...(byKey.get(key) ?? []), record.id]);
      }
      const duplicates = [...byKey.entries()]
        .filter(([, ids]) => ids.length > 1)
        .map(([key, ids]) => ({
          values: Object.fromEntries(fields.map((f, i) => [f, key.split('\u0001')[i]])),
          recordIds: ids,
        }));
      return { table: table.name, fields, groups: duplicates, ...capNote(capped) };
    },
  }),
  defineTool({
    name: 'compare_tables',
    kind: 'read',
    description:
      'Compares two tables (or two views) by a key field: which keys are only on one side, and which records differ in the compared fields.',
    input: z.object({
      baseId: BaseIdArg,
      left: z.object({ tableId: TableIdArg, view: z.string().optional() }),
      right: z.object({ tableId: TableIdArg, view: z.string().optional() }),
      keyField: z.string().min(1).describe('The field that identifies a record on both sides (same name).'),
      compareFields: z
        .array(z.string())
        .optional()
        .describe('Fields to compare (default: those both sides have).'),
    }),
    annotations: { title: 'Compare tables', readOnlyHint: true },
    async run(context, args) {
      checkBase(context, args.baseId);
      const [left, right] = [
        await resolveTable(context, args.left.tableId),
        await resolveTable(context, args.right.tableId),
      ];
      resolveField(left, args.keyField);
      resolveField(right, args.keyField);
      const shared = left.fields.map((f) => f.name).filter((n) => right.fields.some((g) => g.name === n));
      const compared = (args.compareFields ?? shared).filter((n) => n !== args.keyField);
      for (const name of compared)
        if (!shared.includes(name)) throw new ToolError(`Field "${name}" is not in both tables`);
      const read = async (table: typeof left, view?: string) => {
        const { records, capped } = await allRecords(context, table.id, {
          view,
          fields: [args.keyField, ...compared],
        });
        return { byKey: new Map(records.map((r) => [cellKey(r.fields[args.keyField]), r])), capped };
      };
      const [l, r] = [await read(left, args.left.view), await read(right, args.right.view)];
      const onlyLeft = [...l.byKey.keys()].filter((k) => !r.byKey.has(k));
      const onlyRight = [...r.byKey.keys()].filter((k) => !l.byKey.has(k));
      const differing = [...l.byKey.entries()]
        .filter(([k]) => r.byKey.has(k))
        .map(([k, rec]) => {
          const other = r.byKey.get(k)!;
          const fields = compared.filter((f) => cellKey(rec.fields[f]) !== cellKey(other.fields[f]));
          return { key: k, leftId: rec.id, rightId: other.id, fields };
        })
        .filter((d) => d.fields.length > 0);
      return {
        left: left.name,
        right: right.name,
        keyField: args.keyField,
        onlyInLeft: onlyLeft,
        onlyInRight: onlyRight,
        differing,
        ...capNote(l.capped || r.capped),
      };
    },
  }),
  defineTool({
    name: 'export_csv',
    kind: 'read',
    description:
      'Exports a table (or a view, or the records a formula selects) as a CSV file the user downloads.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      view: z.string().optional(),
      fields: z.array(z.string()).optional().describe('Columns to export (default: every field).'),
      filterByFormula: z.string().optional(),
    }),
    annotations: { title: 'Export to CSV', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const columns = (args.fields ?? table.fields.map((f) => f.name)).map(
        (f) => resolveField(table, f).name,
      );
      const { records, capped } = await allRecords(context, table.id, {
        view: args.view,
        filterByFormula: args.filterByFormula,
        fields: columns,
      });
      const lines = [
        ['id', ...columns].map(csvCell).join(','),
        ...records.map((r) => [r.id, ...columns.map((c) => r.fields[c])].map(csvCell).join(',')),
      ];
      const filename = `${table.name.replace(/[^\w.-]+/g, '_')}.csv`;
      const url = await context.saveExport({
        filename,
        contentType: 'text/csv; charset=utf-8',
        body: `${lines.join('\r\n')}\r\n`,
      });
      return { file: filename, rows: records.length, columns, downloadUrl: url, ...capNote(capped) };
    },
  }),
  defineTool({
    name: 'job_status',
    kind: 'read',
    description: "Tells where one of this workspace's jobs stands (a change set, a provisioning…) by its id.",
    input: z.object({ jobId: z.string().min(1) }),
    annotations: { title: 'Job status', readOnlyHint: true },
    async run(context, args) {
      return context.jobStatus(args.jobId);
    },
  }),
];
