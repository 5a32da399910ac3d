import { z } from 'zod';
import type { AirtableAccess } from '../../airtable/access';
import type { AirtableMetaOptions, AirtableTableSchema } from '../../airtable/meta';
import type { AirtableRecords } from '../../airtable/records';
import type { ChangeSetStepInput } from '../change-sets/model';

/** What a tool runs against: one workspace's base, paced with everything else in the process. */
export interface ToolContext {
  workspaceId: string;
  /** The workspace's base: the only base any tool may reach. */
  baseId: string;
  /** The workspace's name (what `list_bases` shows). */
  workspaceName: string;
  records: AirtableRecords;
  meta: AirtableMetaOptions;
  airtable: AirtableAccess;
  /** Keeps a file for the user to download; returns its API path. */
  saveExport(file: { filename: string; contentType: string; body: string }): Promise<string>;
  /** A job of this workspace (other workspaces' jobs do not exist for a tool). */
  jobStatus(jobId: string): Promise<unknown>;
  /** The user's preferences (time zone, locale) for writing dates. */
  preferences: { timeZone?: string; locale?: string };
}

/** A refusal a tool reports to its caller as its result (the model reads it and can correct itself). */
export class ToolError extends Error {
  override name = 'ToolError';
}

/** What MCP clients and the model learn about a tool's effect. */
export interface ToolAnnotations {
  title?: string;
  /** Reads only. */
  readOnlyHint: boolean;
  /** May delete or overwrite data. */
  destructiveHint?: boolean;
  /** Repeating it with the same arguments changes nothing more. */
  idempotentHint?: boolean;
}

/** A record write, applied as a change set (all-or-nothing, exactly once, compensable). */
export interface RecordWritePlan {
  steps: ChangeSetStepInput[];
  /** What a person approving it sees (for updates: before and after of each record). */
  preview: unknown;
}

interface ToolBase<S extends z.ZodType> {
  name: string;
  description: string;
  input: S;
  annotations: ToolAnnotations;
}

/** A tool that reads, or changes the schema or comments directly (paced, never records). */
export interface DirectTool<S extends z.ZodType = z.ZodType> extends ToolBase<S> {
  kind: 'read' | 'write';
  run(context: ToolContext, args: z.output<S>): Promise<unknown>;
  /** What a person approving a write sees. @default the arguments */
  preview?(context: ToolContext, args: z.output<S>): Promise<unknown>;
}

/** A tool that writes records: it plans a change set, which its caller applies. */
export interface RecordWriteTool<S extends z.ZodType = z.ZodType> extends ToolBase<S> {
  kind: 'records';
  plan(context: ToolContext, args: z.output<S>): Promise<RecordWritePlan>;
}

export type ToolDefinition<S extends z.ZodType = z.ZodType> = DirectTool<S> | RecordWriteTool<S>;

/** Defines a tool, keeping its argument type. */
export function defineTool<S extends z.ZodType>(tool: ToolDefinition<S>): ToolDefinition {
  return tool as unknown as ToolDefinition;
}

/** Whether a tool changes the base (and so waits for approval under the `writes` policy). */
export function changesBase(tool: ToolDefinition): boolean {
  return !tool.annotations.readOnlyHint;
}

/** `baseId` as the `airtable-mcp-server` tools take it: optional, and only the workspace's base. */
export const BaseIdArg = z
  .string()
  .optional()
  .describe("The base's id. Optional: this workspace reaches one base only, and any other is refused.");

/** `tableId`: a table id or name, as the `airtable-mcp-server` tools take it. */
export const TableIdArg = z.string().min(1).describe('The table: its id (tbl…) or its name.');

/** Refuses a base other than the workspace's, whatever the model (or a cell it read) asked for. */
export function checkBase(context: ToolContext, baseId: string | undefined): void {
  if (baseId !== undefined && baseId !== context.baseId)
    throw new ToolError(
      `This workspace can only reach base ${context.baseId}; base ${baseId} is not available`,
    );
}

/** The workspace base's schema (cached per process). */
export async function baseSchema(context: ToolContext): Promise<AirtableTableSchema[]> {
  return context.airtable.schemas.get(context.meta, context.baseId);
}

/** A table by id or name, or a readable refusal listing the tables there are. */
export async function resolveTable(context: ToolContext, tableId: string): Promise<AirtableTableSchema> {
  const tables = await baseSchema(context);
  const table = tables.find((t) => t.id === tableId) ?? tables.find((t) => t.name === tableId);
  if (!table)
    throw new ToolError(
      `No table "${tableId}" in this base; tables: ${tables.map((t) => t.name).join(', ')}`,
    );
  return table;
}

/** The table a tool's `{baseId?, tableId}` name, after refusing a base other than the workspace's. */
export async function tableOf(
  context: ToolContext,
  args: { baseId?: string; tableId: string },
): Promise<AirtableTableSchema> {
  checkBase(context, args.baseId);
  return resolveTable(context, args.tableId);
}

/** A field of `table` by id or name, or a readable refusal. */
export function resolveField(table: AirtableTableSchema, field: string) {
  const found = table.fields.find((f) => f.id === field) ?? table.fields.find((f) => f.name === field);
  if (!found)
    throw new ToolError(
      `No field "${field}" in table ${table.name}; fields: ${table.fields.map((f) => f.name).join(', ')}`,
    );
  return found;
}

/** The JSON Schema of a tool's arguments, for Gemini's `parametersJsonSchema` and MCP's `inputSchema`. */
export function argumentsSchema(tool: ToolDefinition): Record<string, unknown> {
  const schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  delete schema.$schema;
  return schema;
}
