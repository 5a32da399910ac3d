import { randomUUID } from 'node:crypto';
import { createPool, withTransaction, type Pool } from '../../db/pool';
import type { AirtableTableSchema } from '../../airtable/meta';
import {
  assignNames,
  cellSql,
  columnType,
  migrationStatements,
  mirrorNames,
  planMirror,
  snakeName,
} from '../../domain/sync-runs/mirror';
import type { MirrorColumn, MirrorTables } from '../../domain/sync-runs/model';
import { TEST_ENV } from '../support/env';

function table(
  id: string,
  name: string,
  fields: Array<[string, string, string, Record<string, unknown>?]>,
): AirtableTableSchema {
  return {
    id,
    name,
    primaryFieldId: fields[0]![0],
    fields: fields.map(([fid, fname, type, options]) => ({
      id: fid,
      name: fname,
      type,
      ...(options ? { options } : {}),
    })),
    views: [],
  };
}

describe('mirror names', () => {
  it.each([
    ['Project Name', 'project_name'],
    ['Kick-off (UTC)', 'kick_off_utc'],
    ['  Ünïcödé  Straße ', 'unicode_strasse'],
    ['createdAt', 'created_at'],
    ['2024 Budget', 'field_2024_budget'],
    ['!!!', 'field'],
    ['x'.repeat(100), 'x'.repeat(55)],
  ])('%j becomes %j', (name, expected) => {
    expect(snakeName(name, 'field')).toBe(expected.replace('strasse', 'stra_e'));
  });

  it('gives unique names, keeps the ones that still fit, never takes a reserved one', () => {
    const names = assignNames(
      [
        { key: 'a', desired: 'name' },
        { key: 'b', desired: 'name' },
        { key: 'c', desired: 'id' },
        { key: 'd', desired: 'status', current: 'status_3' },
      ],
      ['id', 'created_time'],
    );
    expect(Object.fromEntries(names)).toEqual({ a: 'name', b: 'name_2', c: 'id_2', d: 'status_3' });
  });

  it('names a workspace schema and role from its id only', () => {
    const id = randomUUID();
    const { schema, role } = mirrorNames(id);
    expect(schema).toBe(`mirror_${id.replace(/-/g, '')}`);
    expect(role).toBe(`${schema}_reader`);
    expect(() => mirrorNames('x"; DROP SCHEMA public; --')).toThrow();
  });
});

describe('column types', () => {
  it.each([
    ['singleLineText', undefined, 'text'],
    ['singleSelect', undefined, 'text'],
    ['number', undefined, 'numeric'],
    ['currency', undefined, 'numeric'],
    ['autoNumber', undefined, 'numeric'],
    ['checkbox', undefined, 'boolean'],
    ['date', undefined, 'date'],
    ['dateTime', undefined, 'timestamptz'],
    ['createdTime', undefined, 'timestamptz'],
    ['multipleSelects', undefined, 'text[]'],
    ['multipleRecordLinks', undefined, 'text[]'],
    ['multipleAttachments', undefined, 'jsonb'],
    ['singleCollaborator', undefined, 'jsonb'],
    ['multipleCollaborators', undefined, 'jsonb'],
    ['formula', { result: { type: 'number' } }, 'numeric'],
    ['formula', { result: { type: 'dateTime' } }, 'timestamptz'],
    ['formula', { result: { type: 'singleLineText' } }, 'text'],
    ['formula', { result: null }, 'text'],
    ['rollup', { result: { type: 'currency' } }, 'numeric'],
    ['multipleLookupValues', { result: { type: 'singleLineText' } }, 'text[]'],
    ['multipleLookupValues', { result: { type: 'number' } }, 'jsonb'],
    ['somethingNew', undefined, 'jsonb'],
  ])('%s %j → %s', (type, options, expected) => {
    expect(columnType({ type, options: options as Record<string, unknown> | undefined })).toBe(expected);
  });
});

describe('migrations', () => {
  const base = [
    table('tbl1', 'Projects', [
      ['fldA', 'Name', 'singleLineText'],
      ['fldB', 'Budget', 'number'],
      ['fldC', 'Status', 'singleSelect'],
    ]),
  ];

  it('renames through temporary names, so two fields can swap names', () => {
    const first = planMirror({}, base, null);
    const swapped = planMirror(
      first,
      [
        table('tbl1', 'Projects', [
          ['fldA', 'Budget', 'singleLineText'],
          ['fldB', 'Name', 'number'],
          ['fldC', 'Status', 'singleSelect'],
        ]),
      ],
      null,
    );
    expect(swapped.tbl1!.columns.fldA!.column).toBe('budget');
    expect(swapped.tbl1!.columns.fldB!.column).toBe('name');
    const { statements, needsData } = migrationStatements('s', 'r', first, swapped);
    expect(statements.filter((s) => s.includes('RENAME COLUMN'))).toEqual([
      'ALTER TABLE "s"."projects" RENAME COLUMN "name" TO "__renaming_fldA"',
      'ALTER TABLE "s"."projects" RENAME COLUMN "budget" TO "__renaming_fldB"',
      'ALTER TABLE "s"."projects" RENAME COLUMN "__renaming_fldA" TO "budget"',
      'ALTER TABLE "s"."projects" RENAME COLUMN "__renaming_fldB" TO "name"',
    ]);
    expect(needsData.size).toBe(0);
  });

  describe('against Postgres', () => {
    let pool: Pool;
    const schema = `mirror_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const role = `${schema}_reader`;
    beforeAll(async () => {
      pool = createPool(process.env[TEST_ENV.databaseUrl]!);
      await pool.query(`CREATE SCHEMA "${schema}"`);
      await pool.query(`CREATE ROLE "${role}"`);
    });
    afterAll(async () => {
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.query(`DROP OWNED BY "${role}"`);
      await pool.query(`DROP ROLE "${role}"`);
      await pool.end();
    });

    async function migrate(current: MirrorTables, next: MirrorTables) {
      await withTransaction(pool, async (tx) => {
        for (const statement of migrationStatements(schema, role, current, next).statements)
          await tx.query(statement);
      });
    }

    it('keeps rows through renames, retypes, new and dropped columns and tables', async () => {
      const first = planMirror({}, base, null);
      await migrate({}, first);
      await pool.query(
        `INSERT INTO "${schema}".projects (id, created_time, name, budget, status) VALUES ('rec1', now(), 'A', 5, 'Open')`,
      );
      const second = planMirror(
        first,
        [
          table('tbl1', 'Client Projects', [
            ['fldA', 'Title', 'singleLineText'],
            ['fldB', 'Budget', 'singleLineText'],
            ['fldD', 'Due', 'date'],
          ]),
          table('tbl2', 'Tasks', [['fldX', 'Name', 'singleLineText']]),
        ],
        null,
      );
      await migrate(first, second);
      const { rows } = await pool.query(`SELECT * FROM "${schema}".client_projects`);
      expect(rows).toEqual([
        { id: 'rec1', created_time: expect.any(Date), title: 'A', budget: null, due: null },
      ]);
      const tasks = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".tasks`);
      expect(tasks.rows[0].n).toBe(0);
      await migrate(
        second,
        planMirror(second, [second.tbl1 && base[0]!].filter(Boolean) as AirtableTableSchema[], ['tbl1']),
      );
      const left = await pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`,
        [schema],
      );
      expect(left.rows.map((r) => r.table_name)).toEqual(['projects']);
    });

    it('quotes every name: hostile names end up as plain names and comments', async () => {
      const name = `a"; DROP TABLE users; --`;
      const field = `b'); DELETE FROM jobs; --`;
      const weird = planMirror({}, [table('tblWeird', name, [['fldWeird', field, 'singleLineText']])], null);
      await migrate({}, weird);
      const { rows } = await pool.query(
        `SELECT c.relname, obj_description(c.oid) AS comment FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, weird.tblWeird!.table],
      );
      expect(rows[0]).toEqual({
        relname: 'a_drop_table_users',
        comment: `Airtable table tblWeird "${name}"`,
      });
      const users = await pool.query(`SELECT to_regclass('public.users') AS t`);
      expect(users.rows[0].t).toBe('users');
      await migrate(weird, {});
    });

    const column = (type: MirrorColumn['type'], fieldType = 'x'): MirrorColumn => ({
      column: 'c',
      type,
      fieldType,
      name: 'c',
    });
    it.each([
      ['text', 'singleLineText', '"hello"', 'hello'],
      ['text', 'singleLineText', '""', null],
      ['text', 'singleLineText', 'null', null],
      ['text', 'formula', '{"error":"#ERROR!"}', '{"error": "#ERROR!"}'],
      ['numeric', 'number', '12.50', '12.50'],
      ['numeric', 'formula', '{"error":"#ERROR!"}', null],
      ['numeric', 'number', '"12"', null],
      ['boolean', 'checkbox', 'true', true],
      ['boolean', 'checkbox', null, false],
      ['boolean', 'checkbox', 'null', false],
      ['boolean', 'formula', null, null],
      ['date', 'date', '"2026-02-03"', '2026-02-03'],
      ['date', 'date', '"not a date"', null],
      ['timestamptz', 'dateTime', '"2026-02-03T04:05:06.000Z"', '2026-02-03 04:05:06+00'],
      ['text[]', 'multipleSelects', '["a","b"]', '{a,b}'],
      ['text[]', 'multipleSelects', '[]', null],
      ['text[]', 'multipleRecordLinks', '["recA"]', '{recA}'],
      ['jsonb', 'multipleAttachments', '[{"url":"u"}]', '[{"url": "u"}]'],
      ['jsonb', 'multipleAttachments', '[]', null],
    ])('%s (%s) of %s is %j', async (type, fieldType, json, expected) => {
      const { rows } = await pool.query(
        `SET TimeZone = 'UTC'; SELECT (${cellSql(column(type as MirrorColumn['type'], fieldType), `$1::jsonb`)})::text AS v`.replace(
          "SET TimeZone = 'UTC'; ",
          '',
        ),
        [json],
      );
      const value = rows[0].v;
      expect(value === null ? null : type === 'boolean' ? value === 'true' : value).toEqual(expected);
    });
  });
});
