import { z } from 'zod';
import { createComment } from '../../airtable/comments';
import { recordIdIn } from '../../airtable/formula';
import { CHANGE_SET_LIMITS } from '../change-sets/model';
import { readRecords } from './reading';
import {
  BaseIdArg,
  checkBase,
  defineTool,
  resolveField,
  tableOf,
  TableIdArg,
  type ToolContext,
} from './registry';

// Tools that change the base. Record writes only plan a change set: whoever calls them (the agent's
// workflow, the MCP endpoint) applies it all-or-nothing, exactly once, compensable. Schema and
// comment writes go straight to Airtable, paced, and drop the cached schema.

const Fields = z.record(z.string(), z.unknown()).describe('Field names (or ids) and their values.');

/** Current values of records, for a preview (before/after). */
async function currentValues(context: ToolContext, tableId: string, ids: string[]) {
  const found = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < ids.length; i += 100) {
    const batch = ids.slice(i, i + 100);
    const { records } = await readRecords(
      context,
      tableId,
      { filterByFormula: recordIdIn(batch) },
      batch.length,
    );
    for (const r of records) found.set(r.id, r.fields);
  }
  return found;
}

const FieldConfig = z
  .looseObject({
    name: z.string().min(1),
    type: z.string().min(1),
    description: z.string().optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .describe('A field: its name, type (e.g. singleLineText, number, singleSelect) and options.');

export const writingTools = [
  defineTool({
    name: 'create_record',
    kind: 'records',
    description: 'Creates one record.',
    input: z.object({ baseId: BaseIdArg, tableId: TableIdArg, fields: Fields }),
    annotations: { title: 'Create a record', readOnlyHint: false, destructiveHint: false },
    async plan(context, args) {
      const table = await tableOf(context, args);
      return {
        steps: [{ table: table.id, action: 'create', records: [{ fields: args.fields }] }],
        preview: { table: table.name, create: [args.fields] },
      };
    },
  }),
  defineTool({
    name: 'create_records',
    kind: 'records',
    description: 'Creates many records at once (all or none), up to 10,000.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      records: z
        .array(z.object({ fields: Fields }))
        .min(1)
        .max(CHANGE_SET_LIMITS.maxRecords),
      typecast: z.boolean().optional().describe('Let Airtable convert values (and create select options).'),
    }),
    annotations: { title: 'Create records', readOnlyHint: false, destructiveHint: false },
    async plan(context, args) {
      const table = await tableOf(context, args);
      return {
        steps: [{ table: table.id, action: 'create', records: args.records, typecast: args.typecast }],
        preview: { table: table.name, create: args.records.map((r) => r.fields) },
      };
    },
  }),
  defineTool({
    name: 'update_records',
    kind: 'records',
    description: 'Updates fields of existing records (all or none). Fields not given keep their values.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      records: z
        .array(z.object({ id: z.string().min(1), fields: Fields }))
        .min(1)
        .max(CHANGE_SET_LIMITS.maxRecords),
    }),
    annotations: { title: 'Update records', readOnlyHint: false, destructiveHint: true },
    async plan(context, args) {
      const table = await tableOf(context, args);
      const before = await currentValues(
        context,
        table.id,
        args.records.map((r) => r.id),
      );
      return {
        steps: [{ table: table.id, action: 'update', records: args.records }],
        preview: {
          table: table.name,
          update: args.records.map((r) => {
            const old = before.get(r.id) ?? {};
            return {
              id: r.id,
              before: Object.fromEntries(Object.keys(r.fields).map((k) => [k, old[k] ?? null])),
              after: r.fields,
            };
          }),
        },
      };
    },
  }),
  defineTool({
    name: 'upsert_records',
    kind: 'records',
    description:
      'Creates or updates records matched on 1–3 merge fields (all or none): a record whose merge fields match is updated, otherwise one is created.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      fieldsToMergeOn: z.array(z.string()).min(1).max(3),
      records: z
        .array(z.object({ fields: Fields }))
        .min(1)
        .max(CHANGE_SET_LIMITS.maxRecords),
      typecast: z.boolean().optional(),
    }),
    annotations: { title: 'Upsert records', readOnlyHint: false, destructiveHint: true },
    async plan(context, args) {
      const table = await tableOf(context, args);
      return {
        steps: [
          {
            table: table.id,
            action: 'upsert',
            fieldsToMergeOn: args.fieldsToMergeOn,
            records: args.records,
            typecast: args.typecast,
          },
        ],
        preview: {
          table: table.name,
          upsert: args.records.map((r) => r.fields),
          mergeOn: args.fieldsToMergeOn,
        },
      };
    },
  }),
  defineTool({
    name: 'delete_records',
    kind: 'records',
    description: 'Deletes records by id (all or none).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      recordIds: z.array(z.string().min(1)).min(1).max(CHANGE_SET_LIMITS.maxRecords),
    }),
    annotations: { title: 'Delete records', readOnlyHint: false, destructiveHint: true },
    async plan(context, args) {
      const table = await tableOf(context, args);
      const before = await currentValues(context, table.id, args.recordIds);
      return {
        steps: [{ table: table.id, action: 'delete', records: args.recordIds.map((id) => ({ id })) }],
        preview: {
          table: table.name,
          delete: args.recordIds.map((id) => ({ id, before: before.get(id) ?? null })),
        },
      };
    },
  }),
  defineTool({
    name: 'apply_change_set',
    kind: 'records',
    description:
      'Applies several steps (create, update, upsert, delete, on any tables) all-or-nothing: if one step fails, everything applied is undone.',
    input: z.object({
      steps: z
        .array(
          z.object({
            table: z.string().min(1),
            action: z.enum(['create', 'update', 'upsert', 'delete']),
            records: z.array(z.object({ id: z.string().optional(), fields: Fields.optional() })).min(1),
            fieldsToMergeOn: z.array(z.string()).optional(),
            typecast: z.boolean().optional(),
          }),
        )
        .min(1)
        .max(CHANGE_SET_LIMITS.maxSteps),
    }),
    annotations: { title: 'Apply a change set', readOnlyHint: false, destructiveHint: true },
    async plan(_context, args) {
      return {
        steps: args.steps,
        preview: { steps: args.steps.map((s) => ({ table: s.table, action: s.action, records: s.records })) },
      };
    },
  }),
  defineTool({
    name: 'create_table',
    kind: 'write',
    description:
      'Creates a table. The first field becomes its primary field (text, number, date, email, url…).',
    input: z.object({
      baseId: BaseIdArg,
      name: z.string().min(1).describe('Name of the new table; unique in the base.'),
      description: z.string().optional(),
      fields: z.array(FieldConfig).min(1),
    }),
    annotations: { title: 'Create a table', readOnlyHint: false, destructiveHint: false },
    async run(context, args) {
      checkBase(context, args.baseId);
      return context.airtable.schemas.createTable(context.meta, context.baseId, {
        name: args.name,
        description: args.description,
        fields: args.fields,
      });
    },
  }),
  defineTool({
    name: 'update_table',
    kind: 'write',
    description: 'Renames a table or changes its description.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      name: z.string().min(1).optional(),
      description: z.string().optional(),
    }),
    annotations: { title: 'Update a table', readOnlyHint: false, destructiveHint: false },
    async run(context, args) {
      const table = await tableOf(context, args);
      return context.airtable.schemas.updateTable(context.meta, context.baseId, table.id, {
        ...(args.name ? { name: args.name } : {}),
        ...(args.description !== undefined ? { description: args.description } : {}),
      });
    },
  }),
  defineTool({
    name: 'create_field',
    kind: 'write',
    description:
      'Adds a field to a table. (The field goes in `nested.field`, as airtable-mcp-server takes it.)',
    input: z.object({ baseId: BaseIdArg, tableId: TableIdArg, nested: z.object({ field: FieldConfig }) }),
    annotations: { title: 'Create a field', readOnlyHint: false, destructiveHint: false },
    async run(context, args) {
      const table = await tableOf(context, args);
      return context.airtable.schemas.createField(context.meta, context.baseId, table.id, args.nested.field);
    },
  }),
  defineTool({
    name: 'update_field',
    kind: 'write',
    description: 'Renames a field or changes its description.',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      fieldId: z.string().min(1),
      name: z.string().min(1).optional(),
      description: z.string().optional(),
    }),
    annotations: { title: 'Update a field', readOnlyHint: false, destructiveHint: false },
    async run(context, args) {
      const table = await tableOf(context, args);
      const field = resolveField(table, args.fieldId);
      return context.airtable.schemas.updateField(context.meta, context.baseId, table.id, field.id, {
        ...(args.name ? { name: args.name } : {}),
        ...(args.description !== undefined ? { description: args.description } : {}),
      });
    },
  }),
  defineTool({
    name: 'create_comment',
    kind: 'write',
    description: 'Adds a comment to a record (a reply when parentCommentId is given).',
    input: z.object({
      baseId: BaseIdArg,
      tableId: TableIdArg,
      recordId: z.string().min(1),
      text: z.string().min(1),
      parentCommentId: z.string().optional(),
    }),
    annotations: { title: 'Comment on a record', readOnlyHint: false, destructiveHint: false },
    async run(context, args) {
      const table = await tableOf(context, args);
      return createComment(context.meta, context.baseId, table.id, args.recordId, {
        text: args.text,
        ...(args.parentCommentId ? { parentCommentId: args.parentCommentId } : {}),
      });
    },
  }),
];
