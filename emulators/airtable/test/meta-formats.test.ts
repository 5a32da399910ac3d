import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirtableEmulator, type AirtableEmulator, type EmulatorSeed } from '../src';
import {
  BASE_ID,
  TOKEN,
  call,
  client,
  conformanceSeed,
  startConformanceEmulator,
  type Loose,
} from './helpers';

// The official client has no meta-API calls: schema is read and written over raw HTTP.

const tablesPath = `/v0/meta/bases/${BASE_ID}/tables`;
const fieldsPath = `${tablesPath}/tblTasks000000001/fields`;

const DATE_FORMATS = {
  local: 'l',
  friendly: 'LL',
  us: 'M/D/YYYY',
  european: 'D/M/YYYY',
  iso: 'YYYY-MM-DD',
} as const;

async function fieldsByName(emulator: AirtableEmulator, table: string): Promise<Record<string, Loose>> {
  const schema = await call(emulator, 'GET', tablesPath);
  const found = schema.body.tables.find((t: Loose) => t.name === table);
  return Object.fromEntries(found.fields.map((f: Loose) => [f.name, f]));
}

function oneTableSeed(fields: EmulatorSeed['bases'][number]['tables'][number]['fields']): EmulatorSeed {
  return { bases: [{ id: BASE_ID, name: 'B', tables: [{ name: 'T', fields, records: [] }] }] };
}

describe('date and dateTime options in the meta API', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  it('always reads back dateFormat.format (and timeFormat.format) for fields seeded with names only', async () => {
    const tasks = await fieldsByName(emulator, 'Tasks');
    expect(tasks.Due.options).toEqual({ dateFormat: { name: 'iso', format: 'YYYY-MM-DD' } });
    expect(tasks['Starts at'].options).toEqual({
      dateFormat: { name: 'iso', format: 'YYYY-MM-DD' },
      timeFormat: { name: '24hour', format: 'HH:mm' },
      timeZone: 'utc',
    });
    // Created and last-modified times always describe their dateTime result, formats included.
    for (const name of ['Created', 'Modified']) {
      expect(tasks[name].options.result).toEqual({
        type: 'dateTime',
        options: {
          dateFormat: { name: expect.any(String), format: expect.any(String) },
          timeFormat: { name: expect.any(String), format: expect.any(String) },
          timeZone: expect.any(String),
        },
      });
    }
  });

  it('fills in the format of every dateFormat and timeFormat name on create field', async () => {
    for (const [name, format] of Object.entries(DATE_FORMATS)) {
      const date = await call(emulator, 'POST', fieldsPath, {
        name: `Date ${name}`,
        type: 'date',
        options: { dateFormat: { name } },
      });
      expect(date.status).toBe(200);
      expect(date.body.options).toEqual({ dateFormat: { name, format } });
    }
    for (const [name, format] of [
      ['12hour', 'h:mma'],
      ['24hour', 'HH:mm'],
    ]) {
      const dateTime = await call(emulator, 'POST', fieldsPath, {
        name: `Time ${name}`,
        type: 'dateTime',
        options: { dateFormat: { name: 'us' }, timeFormat: { name }, timeZone: 'America/New_York' },
      });
      expect(dateTime.status).toBe(200);
      expect(dateTime.body.options).toEqual({
        dateFormat: { name: 'us', format: 'M/D/YYYY' },
        timeFormat: { name, format },
        timeZone: 'America/New_York',
      });
    }
    // A matching format may be sent along.
    const explicit = await call(emulator, 'POST', fieldsPath, {
      name: 'Explicit',
      type: 'date',
      options: { dateFormat: { name: 'friendly', format: 'LL' } },
    });
    expect(explicit.body.options).toEqual({ dateFormat: { name: 'friendly', format: 'LL' } });
    const tasks = await fieldsByName(emulator, 'Tasks');
    expect(tasks['Date european'].options).toEqual({ dateFormat: { name: 'european', format: 'D/M/YYYY' } });
    expect(tasks['Time 12hour'].options.timeFormat).toEqual({ name: '12hour', format: 'h:mma' });
  });

  it('includes the formats in the table create table answers and in the schema', async () => {
    const created = await call(emulator, 'POST', tablesPath, {
      name: 'Events',
      fields: [
        { name: 'Day', type: 'date', options: { dateFormat: { name: 'local' } } },
        {
          name: 'Starts',
          type: 'dateTime',
          options: { dateFormat: { name: 'iso' }, timeFormat: { name: '12hour' }, timeZone: 'client' },
        },
      ],
    });
    expect(created.status).toBe(200);
    expect(created.body.primaryFieldId).toBe(created.body.fields[0].id);
    expect(created.body.fields.map((f: Loose) => f.options)).toEqual([
      { dateFormat: { name: 'local', format: 'l' } },
      {
        dateFormat: { name: 'iso', format: 'YYYY-MM-DD' },
        timeFormat: { name: '12hour', format: 'h:mma' },
        timeZone: 'client',
      },
    ]);
    const events = await fieldsByName(emulator, 'Events');
    expect(events.Day.options).toEqual(created.body.fields[0].options);
    expect(events.Starts.options).toEqual(created.body.fields[1].options);
    // A date primary field works through the client like any other.
    const record = await client(emulator).base(BASE_ID)('Events').create({ Day: '2025-05-01' });
    expect(record.get('Day')).toBe('2025-05-01');
  });

  it('refuses date options without a known name, with a format that does not match, or without a time zone', async () => {
    const cases: Array<[string, Record<string, unknown> | undefined]> = [
      ['date', undefined],
      ['date', {}],
      ['date', { dateFormat: { name: 'ISO' } }],
      ['date', { dateFormat: { format: 'YYYY-MM-DD' } }],
      ['date', { dateFormat: { name: 'iso', format: 'M/D/YYYY' } }],
      ['dateTime', { dateFormat: { name: 'iso' }, timeZone: 'utc' }],
      ['dateTime', { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' } }],
      [
        'dateTime',
        { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour', format: 'h:mma' }, timeZone: 'utc' },
      ],
      ['dateTime', { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' }, timeZone: 'Mars/Olympus' }],
    ];
    for (const [type, options] of cases) {
      const answer = await call(emulator, 'POST', fieldsPath, {
        name: 'Bad',
        type,
        ...(options ? { options } : {}),
      });
      expect({ type, options, status: answer.status }).toEqual({ type, options, status: 422 });
      expect(answer.body).toEqual({
        error: { type: 'INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE', message: expect.any(String) },
      });
    }
    expect((await fieldsByName(emulator, 'Tasks')).Bad).toBeUndefined();
  });

  it('keeps the format in step when a date field’s options are updated', async () => {
    const tasks = await fieldsByName(emulator, 'Tasks');
    const path = `${fieldsPath}/${tasks.Due.id}`;
    const updated = await call(emulator, 'PATCH', path, { options: { dateFormat: { name: 'us' } } });
    expect(updated.status).toBe(200);
    expect(updated.body.options).toEqual({ dateFormat: { name: 'us', format: 'M/D/YYYY' } });
    const mismatched = await call(emulator, 'PATCH', path, {
      name: 'Renamed',
      options: { dateFormat: { name: 'iso', format: 'LL' } },
    });
    expect(mismatched.status).toBe(422);
    expect(mismatched.body.error.type).toBe('INVALID_FIELD_TYPE_OPTIONS');
    // Nothing of the refused request was applied.
    const after = await fieldsByName(emulator, 'Tasks');
    expect(after.Due.options).toEqual({ dateFormat: { name: 'us', format: 'M/D/YYYY' } });
    expect(after.Renamed).toBeUndefined();
  });

  it('gives seeded date fields without options the defaults, derives a name from a lone format, and refuses unknown names', async () => {
    const seeded = await startAirtableEmulator({
      seed: oneTableSeed([
        { name: 'Name', type: 'singleLineText' },
        { name: 'Day', type: 'date' },
        { name: 'At', type: 'dateTime' },
        { name: 'Euro', type: 'date', options: { dateFormat: { format: 'D/M/YYYY' } } },
        {
          name: 'Noon',
          type: 'dateTime',
          options: { timeFormat: { name: '12hour' }, timeZone: 'Europe/Paris' },
        },
      ]),
      tokens: [TOKEN],
    });
    try {
      const fields = await fieldsByName(seeded, 'T');
      expect(fields.Day.options).toEqual({ dateFormat: { name: 'local', format: 'l' } });
      expect(fields.At.options).toEqual({
        dateFormat: { name: 'iso', format: 'YYYY-MM-DD' },
        timeFormat: { name: '24hour', format: 'HH:mm' },
        timeZone: 'client',
      });
      expect(fields.Euro.options).toEqual({ dateFormat: { name: 'european', format: 'D/M/YYYY' } });
      expect(fields.Noon.options).toEqual({
        dateFormat: { name: 'iso', format: 'YYYY-MM-DD' },
        timeFormat: { name: '12hour', format: 'h:mma' },
        timeZone: 'Europe/Paris',
      });
    } finally {
      await seeded.close();
    }
    await expect(
      startAirtableEmulator({
        seed: oneTableSeed([
          { name: 'Name', type: 'singleLineText' },
          { name: 'Day', type: 'date', options: { dateFormat: { name: 'long' } } },
        ]),
        tokens: [TOKEN],
      }),
    ).rejects.toThrow(/date field Day: dateFormat\.name must be one of/);
  });
});

describe('primary field types', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  const INVALID_PRIMARY: Array<{ type: string; options?: Record<string, unknown> }> = [
    { type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
    { type: 'singleSelect', options: { choices: [{ name: 'A' }] } },
    { type: 'multipleSelects', options: { choices: [{ name: 'A' }] } },
    { type: 'multipleRecordLinks', options: { linkedTableId: 'tblProjects000001' } },
    { type: 'multipleAttachments' },
    { type: 'singleCollaborator' },
    { type: 'multipleCollaborators' },
    { type: 'rating', options: { max: 5, icon: 'star', color: 'yellowBright' } },
    { type: 'richText' },
  ];

  it('refuses a table whose first field cannot be primary with 422 and creates nothing', async () => {
    for (const spec of INVALID_PRIMARY) {
      const answer = await call(emulator, 'POST', tablesPath, {
        name: `Bad ${spec.type}`,
        fields: [
          { name: 'First', ...spec },
          { name: 'Name', type: 'singleLineText' },
        ],
      });
      expect({ type: spec.type, status: answer.status }).toEqual({ type: spec.type, status: 422 });
      expect(answer.body).toEqual({
        error: { type: 'INVALID_FIELD_TYPE_FOR_PRIMARY_FIELD', message: expect.stringContaining(spec.type) },
      });
    }
    const schema = await call(emulator, 'GET', tablesPath);
    expect(schema.body.tables.map((t: Loose) => t.name)).toEqual(['Projects', 'Tasks', 'Numbers']);
    // No inverse link was left behind in Projects by the refused link-first table.
    const projects = schema.body.tables.find((t: Loose) => t.name === 'Projects');
    expect(projects.fields.map((f: Loose) => f.name)).not.toContain('Bad multipleRecordLinks');
    // The same types are fine after the first field.
    const fine = await call(emulator, 'POST', tablesPath, {
      name: 'Fine',
      fields: [
        { name: 'Name', type: 'singleLineText' },
        ...INVALID_PRIMARY.map((s, i) => ({ name: `F${i}`, ...s })),
      ],
    });
    expect(fine.status).toBe(200);
  });

  it('accepts every creatable primary type', async () => {
    const valid: Array<{ type: string; options?: Record<string, unknown> }> = [
      { type: 'singleLineText' },
      { type: 'multilineText' },
      { type: 'email' },
      { type: 'url' },
      { type: 'phoneNumber' },
      { type: 'number', options: { precision: 0 } },
      { type: 'percent', options: { precision: 1 } },
      { type: 'currency', options: { precision: 2, symbol: '$' } },
      { type: 'duration', options: { durationFormat: 'h:mm' } },
      { type: 'barcode' },
      { type: 'date', options: { dateFormat: { name: 'iso' } } },
      {
        type: 'dateTime',
        options: { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' }, timeZone: 'utc' },
      },
    ];
    for (const spec of valid) {
      const answer = await call(emulator, 'POST', tablesPath, {
        name: `Primary ${spec.type}`,
        fields: [{ name: 'Key', ...spec }],
      });
      expect({ type: spec.type, status: answer.status }).toEqual({ type: spec.type, status: 200 });
      expect(answer.body.primaryFieldId).toBe(answer.body.fields[0].id);
      expect(answer.body.fields[0].type).toBe(spec.type);
    }
  });

  it('refuses at start-up a seed whose table has a primary field of an invalid type', async () => {
    const seed = conformanceSeed();
    seed.bases[0]!.tables.push({
      name: 'Flags',
      fields: [
        { name: 'Done', type: 'checkbox' },
        { name: 'Name', type: 'singleLineText' },
      ],
      records: [],
    });
    await expect(startAirtableEmulator({ seed, tokens: [TOKEN] })).rejects.toThrow(
      /table Flags: its first field Done is the primary field, which cannot be of type checkbox/,
    );
    // Computed types that may be primary are fine in a seed.
    const computed = await startAirtableEmulator({
      seed: oneTableSeed([
        { name: 'Label', type: 'formula', options: { formula: '"x"' } },
        { name: 'Name', type: 'singleLineText' },
      ]),
      tokens: [TOKEN],
    });
    await computed.close();
  });

  it('makes the CLI exit with a clear message for such a seed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'airtable-emulator-primary-'));
    try {
      const file = path.join(dir, 'seed.json');
      writeFileSync(
        file,
        JSON.stringify(
          oneTableSeed([
            { name: 'Status', type: 'singleSelect', options: { choices: [{ name: 'A' }] } },
            { name: 'Name', type: 'singleLineText' },
          ]),
        ),
      );
      const root = path.resolve(__dirname, '../../..');
      const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [
        path.join(root, 'emulators/airtable/src/main.ts'),
        '--seed',
        file,
        '--port',
        '0',
      ]);
      let output = '';
      child.stdout.on('data', (chunk) => (output += String(chunk)));
      child.stderr.on('data', (chunk) => (output += String(chunk)));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(output).toContain('invalid seed: table T: its first field Status is the primary field');
      expect(output).not.toContain('AIRTABLE_ENDPOINT_URL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
