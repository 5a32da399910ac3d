import { escapeIdentifier, escapeLiteral, type PoolClient } from 'pg';
import type { AirtableFieldSchema, AirtableTableSchema } from '../../airtable/meta';
import type { MirrorColumn, MirrorColumnType, MirrorTable, MirrorTables } from './model';

// A workspace's mirror in Postgres: naming, typing, and the statements that migrate it and fill it.
// Every identifier that reaches SQL goes through `escapeIdentifier` and every literal through
// `escapeLiteral` (pg's pg-format-style quoting): Airtable names are user input.

/** Postgres truncates identifiers at 63 bytes; names here are ASCII, and leave room for `_NN`. */
const MAX_NAME = 55;
/** Columns every mirror table has, which no field may take. */
export const RESERVED_COLUMNS = ['id', 'created_time'] as const;

/** The schema and the read-only role of a workspace's mirror. */
export function mirrorNames(workspaceId: string): { schema: string; role: string } {
  const hex = workspaceId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`Not a workspace id: ${workspaceId}`);
  return { schema: `mirror_${hex}`, role: `mirror_${hex}_reader` };
}

/** `Project Name (2024)` → `project_name_2024`; never empty, never starting with a digit. */
export function snakeName(name: string, fallback: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const named = ascii === '' ? fallback : /^[0-9]/.test(ascii) ? `${fallback}_${ascii}` : ascii;
  return named.slice(0, MAX_NAME).replace(/_+$/, '');
}

/** Whether `current` is a name {@link assignNames} could have given for `desired` (itself or `desired_N`). */
function fits(current: string, desired: string): boolean {
  if (current === desired) return true;
  const match = /^(.*)_(\d+)$/.exec(current);
  return match !== null && match[1] === desired.slice(0, MAX_NAME) && Number(match[2]) >= 2;
}

/**
 * Unique names for `items`: one that still fits its item's current name keeps it (so a rename that
 * changes nothing of the snake_case name, or the name of a sibling, moves nothing), the others take
 * their desired name or `desired_2`, `desired_3`, … in order.
 */
export function assignNames(
  items: Array<{ key: string; desired: string; current?: string }>,
  reserved: readonly string[] = [],
): Map<string, string> {
  const taken = new Set<string>(reserved);
  const names = new Map<string, string>();
  for (const item of items) {
    if (item.current && fits(item.current, item.desired) && !taken.has(item.current)) {
      names.set(item.key, item.current);
      taken.add(item.current);
    }
  }
  for (const item of items) {
    if (names.has(item.key)) continue;
    let name = item.desired;
    for (let n = 2; taken.has(name); n++) name = `${item.desired.slice(0, MAX_NAME)}_${n}`;
    names.set(item.key, name);
    taken.add(name);
  }
  return names;
}

const TEXT_TYPES = new Set([
  'singleLineText',
  'multilineText',
  'richText',
  'email',
  'url',
  'phoneNumber',
  'singleSelect',
]);
const NUMBER_TYPES = new Set(['number', 'currency', 'percent', 'rating', 'duration', 'autoNumber', 'count']);
const TIME_TYPES = new Set(['dateTime', 'createdTime', 'lastModifiedTime']);
const ARRAY_TYPES = new Set(['multipleSelects', 'multipleRecordLinks']);

/**
 * The column type of an Airtable field type. Computed fields (formula, rollup, lookup) are typed by
 * their `options.result`; anything not known to be a scalar is kept whole as jsonb.
 */
export function columnType(field: Pick<AirtableFieldSchema, 'type' | 'options'>): MirrorColumnType {
  const { type } = field;
  if (TEXT_TYPES.has(type)) return 'text';
  if (NUMBER_TYPES.has(type)) return 'numeric';
  if (type === 'checkbox') return 'boolean';
  if (type === 'date') return 'date';
  if (TIME_TYPES.has(type)) return 'timestamptz';
  if (ARRAY_TYPES.has(type)) return 'text[]';
  const result = field.options?.result as Pick<AirtableFieldSchema, 'type' | 'options'> | null | undefined;
  if (type === 'formula' || type === 'rollup') {
    if (!result?.type) return 'text';
    if (result.type === 'multipleLookupValues') return 'jsonb';
    return columnType(result);
  }
  if (type === 'multipleLookupValues' || type === 'lookup') {
    const inner = result?.type ? columnType(result) : 'jsonb';
    return inner === 'text' || inner === 'text[]' ? 'text[]' : 'jsonb';
  }
  // attachments, collaborators, createdBy/lastModifiedBy, barcode, button, and types Airtable adds later
  return 'jsonb';
}

/** Types whose empty cell (Airtable leaves it out) has a value: an unchecked checkbox is false. */
function emptyValue(column: MirrorColumn): string {
  return column.fieldType === 'checkbox' ? 'false' : 'NULL';
}

/**
 * SQL turning one JSON cell (`cell`, a jsonb expression; SQL NULL when the cell is empty) into the
 * column's value. Values of another JSON type than the column's (a formula's `{"error":"#ERROR!"}`
 * in a numeric column) become NULL rather than failing the run; empty strings and arrays, which
 * Airtable never stores, become the empty value.
 */
export function cellSql(column: MirrorColumn, jsonCell: string): string {
  const cell = `(${jsonCell})`;
  const text = `(${cell} #>> '{}')`;
  const kind = `jsonb_typeof(${cell})`;
  let value: string;
  switch (column.type) {
    case 'text':
      value = `CASE ${kind} WHEN 'string' THEN nullif(${text}, '') WHEN 'null' THEN NULL ELSE ${cell}::text END`;
      break;
    case 'numeric':
      value = `CASE WHEN ${kind} = 'number' THEN ${text}::numeric END`;
      break;
    case 'boolean':
      value = `CASE WHEN ${kind} = 'boolean' THEN ${text}::boolean END`;
      break;
    case 'date':
      value = `CASE WHEN ${kind} = 'string' AND ${text} ~ '^\\d{4}-\\d{2}-\\d{2}' THEN left(${text}, 10)::date END`;
      break;
    case 'timestamptz':
      value = `CASE WHEN ${kind} = 'string' AND ${text} ~ '^\\d{4}-\\d{2}-\\d{2}' THEN ${text}::timestamptz END`;
      break;
    case 'text[]':
      value =
        `CASE WHEN ${kind} = 'array' AND jsonb_array_length(${cell}) > 0 THEN ARRAY(SELECT CASE jsonb_typeof(e) ` +
        `WHEN 'string' THEN e #>> '{}' ELSE e::text END FROM jsonb_array_elements(${cell}) AS e) END`;
      break;
    case 'jsonb':
      value = `CASE WHEN ${kind} NOT IN ('null') AND ${cell} <> '[]'::jsonb AND ${cell} <> '""'::jsonb THEN ${cell} END`;
      break;
  }
  const empty = emptyValue(column);
  return empty === 'NULL' ? value : `coalesce(${value}, ${empty})`;
}

/** `"schema"."table"`. */
export function qualified(schema: string, table: string): string {
  return `${escapeIdentifier(schema)}.${escapeIdentifier(table)}`;
}

/** Fields in a stable order: the primary field first, then as the base lists them. */
function orderedFields(table: AirtableTableSchema): AirtableFieldSchema[] {
  const primary = table.fields.find((f) => f.id === table.primaryFieldId);
  return primary ? [primary, ...table.fields.filter((f) => f !== primary)] : table.fields;
}

/**
 * The mirror the base's schema asks for: every table of `schema` (or those of `tableIds`), named in
 * snake_case, each existing name kept while it still fits (so renames move only what they must).
 */
export function planMirror(
  current: MirrorTables,
  schema: AirtableTableSchema[],
  tableIds: readonly string[] | null,
): MirrorTables {
  const wanted = tableIds ? schema.filter((t) => tableIds.includes(t.id)) : schema;
  const tableNames = assignNames(
    wanted.map((t) => ({ key: t.id, desired: snakeName(t.name, 'table'), current: current[t.id]?.table })),
  );
  const next: MirrorTables = {};
  for (const table of wanted) {
    const before = current[table.id]?.columns ?? {};
    const fields = orderedFields(table);
    const columnNames = assignNames(
      fields.map((f) => ({ key: f.id, desired: snakeName(f.name, 'field'), current: before[f.id]?.column })),
      RESERVED_COLUMNS,
    );
    const columns: Record<string, MirrorColumn> = {};
    for (const field of fields)
      columns[field.id] = {
        column: columnNames.get(field.id)!,
        type: columnType(field),
        fieldType: field.type,
        name: field.name,
      };
    next[table.id] = { table: tableNames.get(table.id)!, name: table.name, columns };
  }
  return next;
}

/** What a migration from one mirror to the next changes, for the run's report and for tests. */
export interface MirrorMigration {
  statements: string[];
  /** Tables whose columns' values must be read again (a new table, a new or retyped column). */
  needsData: Set<string>;
}

function columnComment(fieldId: string, column: MirrorColumn): string {
  return escapeLiteral(`Airtable field ${fieldId} "${column.name}" (${column.fieldType})`);
}

function tableComment(tableId: string, table: MirrorTable): string {
  return escapeLiteral(`Airtable table ${tableId} "${table.name}"`);
}

/**
 * The DDL that turns the mirror `current` into `next` without losing rows: dropped tables and
 * columns go, renames go through temporary names (so swapped names cannot collide), a retyped
 * column is dropped and added again (its values come from the run's copy of the table), new
 * tables and columns are created and granted to the workspace's reader role.
 */
export function migrationStatements(
  schema: string,
  role: string,
  current: MirrorTables,
  next: MirrorTables,
): MirrorMigration {
  const statements: string[] = [];
  const needsData = new Set<string>();
  const at = (table: string) => qualified(schema, table);
  const temporary = (id: string) => `__renaming_${id}`.slice(0, 63);

  for (const [tableId, table] of Object.entries(current))
    if (!next[tableId]) statements.push(`DROP TABLE IF EXISTS ${at(table.table)}`);

  const renamedTables: Array<[string, MirrorTable]> = [];
  for (const [tableId, table] of Object.entries(next)) {
    const before = current[tableId];
    if (before && before.table !== table.table) {
      statements.push(`ALTER TABLE ${at(before.table)} RENAME TO ${escapeIdentifier(temporary(tableId))}`);
      renamedTables.push([tableId, table]);
    }
  }
  for (const [tableId, table] of renamedTables) {
    statements.push(`ALTER TABLE ${at(temporary(tableId))} RENAME TO ${escapeIdentifier(table.table)}`);
    statements.push(`COMMENT ON TABLE ${at(table.table)} IS ${tableComment(tableId, table)}`);
  }

  for (const [tableId, table] of Object.entries(next)) {
    const before = current[tableId];
    const target = at(table.table);
    if (!before) {
      const columns = Object.values(table.columns).map((c) => `${escapeIdentifier(c.column)} ${c.type}`);
      statements.push(
        `CREATE TABLE ${target} (id text PRIMARY KEY, created_time timestamptz NOT NULL${columns.map((c) => `, ${c}`).join('')})`,
      );
      statements.push(`GRANT SELECT ON ${target} TO ${escapeIdentifier(role)}`);
      statements.push(`COMMENT ON TABLE ${target} IS ${tableComment(tableId, table)}`);
      for (const [fieldId, column] of Object.entries(table.columns))
        statements.push(
          `COMMENT ON COLUMN ${target}.${escapeIdentifier(column.column)} IS ${columnComment(fieldId, column)}`,
        );
      needsData.add(tableId);
      continue;
    }
    if (before.name !== table.name && before.table === table.table)
      statements.push(`COMMENT ON TABLE ${target} IS ${tableComment(tableId, table)}`);
    const renamed: Array<[string, MirrorColumn]> = [];
    const added: Array<[string, MirrorColumn]> = [];
    for (const [fieldId, column] of Object.entries(before.columns)) {
      const after = table.columns[fieldId];
      if (!after || after.type !== column.type)
        statements.push(`ALTER TABLE ${target} DROP COLUMN IF EXISTS ${escapeIdentifier(column.column)}`);
    }
    for (const [fieldId, column] of Object.entries(table.columns)) {
      const was = before.columns[fieldId];
      if (!was || was.type !== column.type) added.push([fieldId, column]);
      else if (was.column !== column.column) {
        statements.push(
          `ALTER TABLE ${target} RENAME COLUMN ${escapeIdentifier(was.column)} TO ${escapeIdentifier(temporary(fieldId))}`,
        );
        renamed.push([fieldId, column]);
      } else if (was.name !== column.name || was.fieldType !== column.fieldType)
        statements.push(
          `COMMENT ON COLUMN ${target}.${escapeIdentifier(column.column)} IS ${columnComment(fieldId, column)}`,
        );
    }
    for (const [fieldId, column] of renamed) {
      statements.push(
        `ALTER TABLE ${target} RENAME COLUMN ${escapeIdentifier(temporary(fieldId))} TO ${escapeIdentifier(column.column)}`,
      );
      statements.push(
        `COMMENT ON COLUMN ${target}.${escapeIdentifier(column.column)} IS ${columnComment(fieldId, column)}`,
      );
    }
    for (const [fieldId, column] of added) {
      statements.push(`ALTER TABLE ${target} ADD COLUMN ${escapeIdentifier(column.column)} ${column.type}`);
      statements.push(
        `COMMENT ON COLUMN ${target}.${escapeIdentifier(column.column)} IS ${columnComment(fieldId, column)}`,
      );
      needsData.add(tableId);
    }
  }
  return { statements, needsData };
}

/** Creates the workspace's schema and its read-only role if missing; safe to repeat and to race. */
export async function ensureMirrorSchema(db: PoolClient, workspaceId: string): Promise<void> {
  const { schema, role } = mirrorNames(workspaceId);
  // One at a time per workspace: CREATE ROLE / CREATE SCHEMA IF NOT EXISTS can still collide.
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('sync-mirror'), hashtext($1))`, [workspaceId]);
  const { rowCount } = await db.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]);
  if (!rowCount)
    await db.query(
      `CREATE ROLE ${escapeIdentifier(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION CONNECTION LIMIT 20`,
    );
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
  await db.query(`REVOKE ALL ON SCHEMA ${escapeIdentifier(schema)} FROM PUBLIC`);
  await db.query(`GRANT USAGE ON SCHEMA ${escapeIdentifier(schema)} TO ${escapeIdentifier(role)}`);
  await db.query(
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${escapeIdentifier(schema)} TO ${escapeIdentifier(role)}`,
  );
  const { rows } = await db.query<{ db: string }>(`SELECT current_database() AS db`);
  await db.query(`GRANT CONNECT ON DATABASE ${escapeIdentifier(rows[0]!.db)} TO ${escapeIdentifier(role)}`);
  await db.query(`ALTER ROLE ${escapeIdentifier(role)} SET search_path = ${escapeIdentifier(schema)}`);
  await db.query(
    `INSERT INTO sync_mirrors (workspace_id, schema_name, role_name) VALUES ($1, $2, $3) ON CONFLICT (workspace_id) DO NOTHING`,
    [workspaceId, schema, role],
  );
}

/** Drops the workspace's mirror tables (the sync is gone); the schema and role stay with the workspace. */
export async function dropMirrorTables(db: PoolClient, workspaceId: string): Promise<void> {
  const { schema } = mirrorNames(workspaceId);
  const { rows } = await db.query<{ tables: MirrorTables }>(
    `SELECT tables FROM sync_mirrors WHERE workspace_id = $1 FOR UPDATE`,
    [workspaceId],
  );
  for (const table of Object.values(rows[0]?.tables ?? {}))
    await db.query(`DROP TABLE IF EXISTS ${qualified(schema, table.table)}`);
  await db.query(`UPDATE sync_mirrors SET tables = '{}', updated_at = now() WHERE workspace_id = $1`, [
    workspaceId,
  ]);
}

/**
 * Removes the workspace's schema and role (deprovisioning). The role's sessions are ended first
 * where the platform may (it needs pg_signal_backend or superuser); dropping the role does not
 * wait for them.
 */
export async function dropMirror(db: PoolClient, workspaceId: string): Promise<void> {
  const { schema, role } = mirrorNames(workspaceId);
  await db.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
  await db.query(`DELETE FROM sync_mirrors WHERE workspace_id = $1`, [workspaceId]);
  const { rowCount } = await db.query(`SELECT 1 FROM pg_roles WHERE rolname = $1`, [role]);
  if (!rowCount) return;
  await db
    .query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [role])
    .catch(() => {
      // Not allowed to end them: DROP ROLE below still succeeds; the sessions see nothing any more.
    });
  await db.query(`DROP OWNED BY ${escapeIdentifier(role)}`);
  await db.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
}

function columnList(table: MirrorTable): MirrorColumn[] {
  return Object.values(table.columns);
}

/** `SET a = EXCLUDED.a, …` and the `IS DISTINCT FROM` guard of an upsert, so unchanged rows stay untouched. */
function upsertTail(table: MirrorTable): string {
  const names = ['created_time', ...columnList(table).map((c) => c.column)].map(escapeIdentifier);
  return (
    `ON CONFLICT (id) DO UPDATE SET ${names.map((n) => `${n} = EXCLUDED.${n}`).join(', ')} ` +
    `WHERE (${names.map((n) => `t.${n}`).join(', ')}) IS DISTINCT FROM (${names.map((n) => `EXCLUDED.${n}`).join(', ')})`
  );
}

function insertHead(schema: string, table: MirrorTable): string {
  const names = ['id', 'created_time', ...columnList(table).map((c) => c.column)].map(escapeIdentifier);
  return `INSERT INTO ${qualified(schema, table.table)} AS t (${names.join(', ')})`;
}

function cellsOf(table: MirrorTable, fields: string): string {
  return Object.entries(table.columns)
    .map(([fieldId, column]) => `, ${cellSql(column, `${fields} -> ${escapeLiteral(fieldId)}`)}`)
    .join('');
}

/**
 * Makes a mirror table equal to a full copy staged in `synced_records` by `runId`: inserts new
 * records, updates changed ones, deletes those the copy did not see. One statement each, inside
 * the caller's transaction.
 */
export async function mergeStagedCopy(
  db: PoolClient,
  schema: string,
  target: { workspaceId: string; tableId: string; runId: string },
  table: MirrorTable,
  /** The table was created in this transaction: it is empty, so a plain insert fills it. */
  created = false,
): Promise<{ created: number; updated: number; deleted: number }> {
  const params = [target.workspaceId, target.tableId, target.runId];
  const staged = `FROM synced_records r WHERE r.workspace_id = $1 AND r.table_id = $2 AND r.sync_run_id = $3`;
  if (created) {
    const { rowCount } = await db.query(
      `${insertHead(schema, table)} SELECT r.record_id, r.created_time${cellsOf(table, 'r.fields')} ${staged}`,
      params,
    );
    return { created: rowCount ?? 0, updated: 0, deleted: 0 };
  }
  const { rows } = await db.query<{ created: number; updated: number }>(
    `WITH written AS (
       ${insertHead(schema, table)} SELECT r.record_id, r.created_time${cellsOf(table, 'r.fields')} ${staged}
       ${upsertTail(table)} RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM written`,
    params,
  );
  const removed = await db.query(
    `DELETE FROM ${qualified(schema, table.table)} AS t WHERE NOT EXISTS (SELECT 1 ${staged} AND r.record_id = t.id)`,
    params,
  );
  return { created: rows[0]!.created, updated: rows[0]!.updated, deleted: removed.rowCount ?? 0 };
}

/** A record with all its cells (keyed by field id). */
export interface FullRecord {
  id: string;
  createdTime: string;
  cells: Record<string, unknown>;
}

/** Inserts or replaces whole records. */
export async function upsertRecords(
  db: PoolClient,
  schema: string,
  table: MirrorTable,
  records: FullRecord[],
): Promise<{ created: number; updated: number }> {
  if (records.length === 0) return { created: 0, updated: 0 };
  const { rows } = await db.query<{ created: number; updated: number }>(
    `WITH written AS (
       ${insertHead(schema, table)} SELECT r.id, r.created_time${cellsOf(table, 'r.fields')}
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, created_time timestamptz, fields jsonb)
       ${upsertTail(table)} RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted)::int AS created, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM written`,
    [JSON.stringify(records.map((r) => ({ id: r.id, created_time: r.createdTime, fields: r.cells })))],
  );
  return rows[0]!;
}

/** Sets the given cells of existing records (a cell given as null is emptied); answers the ids found. */
export async function updateCells(
  db: PoolClient,
  schema: string,
  table: MirrorTable,
  changes: Array<{ id: string; cells: Record<string, unknown> }>,
): Promise<string[]> {
  if (changes.length === 0) return [];
  const touched = new Set(changes.flatMap((c) => Object.keys(c.cells)));
  const sets = Object.entries(table.columns)
    .filter(([fieldId]) => touched.has(fieldId))
    .map(([fieldId, column]) => {
      const name = escapeIdentifier(column.column);
      const key = escapeLiteral(fieldId);
      return `${name} = CASE WHEN r.fields ? ${key} THEN ${cellSql(column, `(r.fields -> ${key})`)} ELSE t.${name} END`;
    });
  const payload = JSON.stringify(changes.map((c) => ({ id: c.id, fields: c.cells })));
  if (sets.length === 0) {
    const { rows } = await db.query<{ id: string }>(
      `SELECT t.id FROM ${qualified(schema, table.table)} t JOIN jsonb_to_recordset($1::jsonb) AS r(id text, fields jsonb) ON t.id = r.id`,
      [payload],
    );
    return rows.map((r) => r.id);
  }
  const { rows } = await db.query<{ id: string }>(
    `UPDATE ${qualified(schema, table.table)} AS t SET ${sets.join(', ')}
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, fields jsonb) WHERE t.id = r.id RETURNING t.id`,
    [payload],
  );
  return rows.map((r) => r.id);
}

/** Deletes records by id; answers how many were there. */
export async function deleteRecords(
  db: PoolClient,
  schema: string,
  table: MirrorTable,
  ids: string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(
    `DELETE FROM ${qualified(schema, table.table)} WHERE id = ANY($1::text[])`,
    [ids],
  );
  return rowCount ?? 0;
}

/** Which of `ids` the mirror table holds. */
export async function existingIds(
  db: PoolClient | import('pg').Pool,
  schema: string,
  table: MirrorTable,
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM ${qualified(schema, table.table)} WHERE id = ANY($1::text[])`,
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}
