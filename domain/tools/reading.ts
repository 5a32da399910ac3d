import { z } from 'zod';
import { listComments } from '../../airtable/comments';
import { TEXT_TYPES } from '../../airtable/field-types';
import { formulaField, formulaString, recordIdIn } from '../../airtable/formula';
import type { AirtableTableSchema } from '../../airtable/meta';
import type { AirtableRecord } from '../../airtable/records';
import { readAllPages } from '../../airtable/streaming';
import {
  BaseIdArg,
  baseSchema,
  checkBase,
  defineTool,
  resolveField,
  resolveTable,
  tableOf,
  TableIdArg,
  ToolError,
  type ToolContext,
} from './registry';

// Tools that read the workspace's base. Names and arguments follow `airtable-mcp-server` where it
// has the same tool, so agents configured for it work unchanged.

const DetailLevel = z
  .enum(['tableIdentifiersOnly', 'identifiersOnly', 'full'])
  .optional()
  .describe(
    'tableIdentifiersOnly: table ids and names; identifiersOnly: also field and view ids and names; full (default): field types, descriptions and options. Ask for the least you need.',
  );

const Sort = z
  .array(z.object({ field: z.string(), direction: z.enum(['asc', 'desc']).optional() }))
  .optional()
  .describe('Fields to sort by, in order.');

/** The most records a listing tool reads, whatever `maxRecords` asks. */
const MAX_LISTED = 1_000;
/** The most records an analysis tool reads from one table. */
export const MAX_ANALYSED = 20_000;

function describeTable(table: AirtableTableSchema, level: z.output<typeof DetailLevel>) {
  if (level === 'tableIdentifiersOnly') return { id: table.id, name: table.name };
  if (level === 'identifiersOnly')
    return {
      id: table.id,
      name: table.name,
      fields: table.fields.map((f) => ({ id: f.id, name: f.name })),
      views: table.views.map((v) => ({ id: v.id, name: v.name })),
    };
  return table;
}

/** Up to `max` records of a listing, page by page; says whether more were left. */
export async function readRecords(
  context: ToolContext,
  table: string,
  params: {
    filterByFormula?: string;
    view?: string;
    sort?: Array<{ field: string; direction?: 'asc' | 'desc' }>;
    fields?: string[];
  },
  max: number,
): Promise<{ records: AirtableRecord[]; more: boolean }> {
  const records: AirtableRecord[] = [];
  let more = false;
  const stop = new AbortController();
  await readAllPages(
    context.records,
    table,
    { ...params, pageSize: Math.min(100, max) },
    (page) => {
      records.push(...page);
      if (records.length >= max) {
        more = records.length > max;
        stop.abort();
      }
    },
    undefined,
    stop.signal,
  ).catch((err: unknown) => {
    if (!stop.signal.aborted) throw err;
  });
  return { records: records.slice(0, max), more: more || records.length > max };
}

export const readingTools = [
  defineTool({
    name: 'list_bases',
    kind: 'read',
    description: "Lists the Airtable bases this conversation can reach: only the workspace's own base.",
    input: z.object({}),
    annotations: { title: 'List bases', readOnlyHint: true },
    async run(context) {
      return { bases: [{ id: context.baseId, name: context.workspaceName, permissionLevel: 'create' }] };
    },
  }),
  defineTool({
    name: 'list_tables',
    kind: 'read',
    description: 'Lists the tables of the base, with their fields and views as detailed as asked.',
    input: z.object({ baseId: BaseIdArg, detailLevel: DetailLevel }),
    annotations: { title: 'List tables', readOnlyHint: true },
    async run(context, args) {
      checkBase(context, args.baseId);
      return { tables: (await baseSchema(context)).map((t) => describeTable(t, args.detailLevel ?? 'full')) };
    },
  }),
  defineTool({
    name: 'describe_table',
    kind: 'read',
    description: 'Describes one table: its fields (types, options) and views.',
    input: z.object({ baseId: BaseIdArg, tableId: TableIdArg, detailLevel: DetailLevel }),
    annotations: { title: 'Describe a table', readOnlyHint: true },
    async run(context, args) {
      checkBase(context, args.baseId);
      return describeTable(await resolveTable(context, args.tableId), args.detailLevel ?? 'full');
    },
  }),
  defineTool({
    name: 'list_records',
    kind: 'read',
    description:
      'Lists records of a table, optionally through a view, filtered by an Airtable formula and sorted. Returns at most maxRecords (default 100).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      view: z.string().optional().describe('A view name or id: its filters and sorts apply.'),
      maxRecords: z.number().int().positive().optional().describe('Most records to return (default 100).'),
      filterByFormula: z
        .string()
        .optional()
        .describe('An Airtable formula; records where it is true are returned.'),
      sort: Sort,
      fields: z
        .array(z.string())
        .optional()
        .describe('Fields to return (names or ids); default: every field.'),
    }),
    annotations: { title: 'List records', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const max = Math.min(args.maxRecords ?? 100, MAX_LISTED);
      // Resolved first, so a misspelt field is named in the error instead of refused by Airtable.
      const fields = args.fields?.map((f) => resolveField(table, f).name);
      const { records, more } = await readRecords(
        context,
        table.id,
        { filterByFormula: args.filterByFormula, view: args.view, sort: args.sort, fields },
        max,
      );
      return {
        records,
        ...(more ? { note: `More than ${max} records match; narrow the filter or raise maxRecords.` } : {}),
      };
    },
  }),
  defineTool({
    name: 'search_records',
    kind: 'read',
    description: 'Finds records whose text fields contain a search term (case-insensitive).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      searchTerm: z.string().min(1).describe('Text to look for.'),
      fieldIds: z
        .array(z.string())
        .optional()
        .describe('Fields to search in (ids or names); default: every text field.'),
      maxRecords: z.number().int().positive().optional().describe('Most records to return (default 100).'),
      view: z.string().optional(),
    }),
    annotations: { title: 'Search records', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const fields = args.fieldIds
        ? args.fieldIds.map((f) => resolveField(table, f))
        : table.fields.filter((f) => TEXT_TYPES.has(f.type) || f.type === 'singleSelect');
      if (fields.length === 0) throw new ToolError(`Table ${table.name} has no text fields to search`);
      // The term enters the formula only as an escaped string literal.
      const term = formulaString(args.searchTerm.toLowerCase());
      const formula = `OR(${fields.map((f) => `FIND(${term}, LOWER(${formulaField(f.name)} & ""))`).join(', ')})`;
      const max = Math.min(args.maxRecords ?? 100, MAX_LISTED);
      const { records } = await readRecords(
        context,
        table.id,
        { filterByFormula: formula, view: args.view },
        max,
      );
      return { records };
    },
  }),
  defineTool({
    name: 'get_record',
    kind: 'read',
    description: 'Reads one record by its id.',
    input: z.object({ baseId: BaseIdArg, tableId: TableIdArg, recordId: z.string().min(1) }),
    annotations: { title: 'Get a record', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const { records } = await readRecords(
        context,
        table.id,
        { filterByFormula: recordIdIn([args.recordId]) },
        1,
      );
      if (!records[0]) throw new ToolError(`No record ${args.recordId} in table ${table.name}`);
      return records[0];
    },
  }),
  defineTool({
    name: 'get_records',
    kind: 'read',
    description: 'Reads several records by their ids (up to 100).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      recordIds: z.array(z.string().min(1)).min(1).max(100),
    }),
    annotations: { title: 'Get records', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      const { records } = await readRecords(
        context,
        table.id,
        { filterByFormula: recordIdIn(args.recordIds) },
        100,
      );
      const found = new Set(records.map((r) => r.id));
      const missing = args.recordIds.filter((id) => !found.has(id));
      return { records, ...(missing.length ? { missing } : {}) };
    },
  }),
  defineTool({
    name: 'list_comments',
    kind: 'read',
    description: "Lists a record's comments, newest first.",
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      recordId: z.string().min(1),
      pageSize: z
        .number()
        .int()
        .min(1)
        .max(100)
        .optional()
        .describe('Comments per page (max 100, default 100).'),
      offset: z.string().optional().describe('The offset of the next page, from a previous answer.'),
    }),
    annotations: { title: 'List comments', readOnlyHint: true },
    async run(context, args) {
      const table = await tableOf(context, args);
      return listComments(context.meta, context.baseId, table.id, args.recordId, {
        pageSize: args.pageSize,
        offset: args.offset,
      });
    },
  }),
];
