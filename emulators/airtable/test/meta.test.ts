import { startAirtableEmulator, type AirtableEmulator, type EmulatorSeed } from '../src';
import {
  BASE_ID,
  OTHER_BASE_ID,
  SCOPED_TOKEN,
  TOKEN,
  call,
  client,
  startConformanceEmulator,
  type Loose,
} from './helpers';

describe('meta API', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  const tablesPath = `/v0/meta/bases/${BASE_ID}/tables`;

  it('lists the bases a token may see, with permissionLevel', async () => {
    const all = await call(emulator, 'GET', '/v0/meta/bases');
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      bases: [
        { id: BASE_ID, name: 'Conformance base', permissionLevel: 'create' },
        { id: OTHER_BASE_ID, name: 'Other base', permissionLevel: 'create' },
      ],
    });
    const scoped = await call(emulator, 'GET', '/v0/meta/bases', undefined, SCOPED_TOKEN);
    expect(scoped.body.bases.map((b: Loose) => b.id)).toEqual([OTHER_BASE_ID]);
  });

  it('pages the base list with offset', async () => {
    const seed: EmulatorSeed = {
      bases: Array.from({ length: 1001 }, (_, i) => ({
        id: `appManyBases${String(i).padStart(5, '0')}`,
        name: `Base ${i}`,
        tables: [{ name: 'T', fields: [{ name: 'Name', type: 'singleLineText' }], records: [] }],
      })),
    };
    const many = await startAirtableEmulator({ seed, tokens: [TOKEN], limits: { enabled: false } });
    try {
      const first = await call(many, 'GET', '/v0/meta/bases');
      expect(first.body.bases).toHaveLength(1000);
      expect(typeof first.body.offset).toBe('string');
      const second = await call(
        many,
        'GET',
        `/v0/meta/bases?offset=${encodeURIComponent(first.body.offset)}`,
      );
      expect(second.body.bases).toEqual([
        { id: 'appManyBases01000', name: 'Base 1000', permissionLevel: 'create' },
      ]);
      expect(second.body).not.toHaveProperty('offset');
    } finally {
      await many.close();
    }
  });

  it('describes tables with primaryFieldId, fields with options, and a default Grid view', async () => {
    const answer = await call(emulator, 'GET', tablesPath);
    expect(answer.status).toBe(200);
    const [projects, tasks] = answer.body.tables;
    expect(projects).toMatchObject({
      id: 'tblProjects000001',
      name: 'Projects',
      primaryFieldId: 'fldProjName000001',
    });
    expect(projects.views).toEqual([
      { id: expect.stringMatching(/^viw[A-Za-z0-9]{14}$/), name: 'Grid view', type: 'grid' },
    ]);
    expect(tasks.views.map((v: Loose) => v.name)).toEqual(['Grid view', 'Open']);
    const byName = Object.fromEntries(tasks.fields.map((f: Loose) => [f.name, f]));
    expect(byName.Title).toEqual({
      id: expect.stringMatching(/^fld[A-Za-z0-9]{14}$/),
      name: 'Title',
      type: 'singleLineText',
    });
    expect(byName.Project.options).toEqual({
      linkedTableId: 'tblProjects000001',
      inverseLinkFieldId: projects.fields.find((f: Loose) => f.name === 'Tasks').id,
      isReversed: false,
      prefersSingleRecordLink: false,
    });
    expect(projects.fields.find((f: Loose) => f.name === 'Tasks').options.inverseLinkFieldId).toBe(
      byName.Project.id,
    );
    expect(byName.Tags.options.choices).toEqual([
      { id: expect.stringMatching(/^sel/), name: 'red', color: expect.any(String) },
      { id: expect.stringMatching(/^sel/), name: 'blue', color: expect.any(String) },
    ]);
    expect(byName.Label.options).toEqual({
      formula: `{${byName.Title.id}} & " [" & IF({${byName.Done.id}}, "done", "open") & "]"`,
      isValid: true,
      referencedFieldIds: [byName.Title.id, byName.Done.id],
      result: { type: 'singleLineText' },
    });
    const withVisible = await call(emulator, 'GET', `${tablesPath}?include[]=visibleFieldIds`);
    expect(withVisible.body.tables[0].views[0].visibleFieldIds).toEqual(
      projects.fields.map((f: Loose) => f.id),
    );
  });

  it('creates a table whose first field is primary, with an inverse for a new link', async () => {
    const answer = await call(emulator, 'POST', tablesPath, {
      name: 'Invoices',
      description: 'Bills',
      fields: [
        { name: 'Number', type: 'singleLineText' },
        { name: 'Amount', type: 'currency', options: { precision: 2, symbol: '€' } },
        {
          name: 'State',
          type: 'singleSelect',
          options: { choices: [{ name: 'Open' }, { name: 'Paid', color: 'greenLight2' }] },
        },
        { name: 'Project', type: 'multipleRecordLinks', options: { linkedTableId: 'tblProjects000001' } },
      ],
    });
    expect(answer.status).toBe(200);
    const table = answer.body;
    expect(table).toMatchObject({
      id: expect.stringMatching(/^tbl[A-Za-z0-9]{14}$/),
      name: 'Invoices',
      description: 'Bills',
    });
    expect(table.primaryFieldId).toBe(table.fields[0].id);
    expect(table.views).toEqual([{ id: expect.stringMatching(/^viw/), name: 'Grid view', type: 'grid' }]);
    const link = table.fields[3];
    const schema = await call(emulator, 'GET', tablesPath);
    const projects = schema.body.tables.find((t: Loose) => t.id === 'tblProjects000001');
    const inverse = projects.fields.find((f: Loose) => f.id === link.options.inverseLinkFieldId);
    expect(inverse).toMatchObject({
      name: 'Invoices',
      type: 'multipleRecordLinks',
      options: { linkedTableId: table.id, inverseLinkFieldId: link.id },
    });

    const created = await client(emulator)
      .base(BASE_ID)('Invoices')
      .create({ Number: 'INV-1', Amount: 12.5, State: 'Paid', Project: ['recProjWebsite001'] });
    expect(created.get('State')).toBe('Paid');
    const website = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWebsite001')!;
    expect(website.fields.Invoices).toEqual([created.id]);
  });

  it('refuses tables without fields, duplicate names ignoring case, and types the API cannot create', async () => {
    const noFields = await call(emulator, 'POST', tablesPath, { name: 'Empty', fields: [] });
    expect(noFields.status).toBe(422);
    const sameField = await call(emulator, 'POST', tablesPath, {
      name: 'Dupes',
      fields: [
        { name: 'Name', type: 'singleLineText' },
        { name: 'NAME', type: 'multilineText' },
      ],
    });
    expect(sameField.status).toBe(422);
    expect(sameField.body.error.type).toBe('DUPLICATE_OR_EMPTY_FIELD_NAME');
    const sameTable = await call(emulator, 'POST', tablesPath, {
      name: 'tasks',
      fields: [{ name: 'Name', type: 'singleLineText' }],
    });
    expect(sameTable.status).toBe(422);
    expect(sameTable.body.error.type).toBe('DUPLICATE_TABLE_NAME');
    const formula = await call(emulator, 'POST', tablesPath, {
      name: 'Computed',
      fields: [
        { name: 'Name', type: 'singleLineText' },
        { name: 'F', type: 'formula', options: { formula: '1' } },
      ],
    });
    expect(formula.status).toBe(422);
    expect(formula.body.error.type).toBe('UNSUPPORTED_FIELD_TYPE_FOR_CREATE');
    const noPrecision = await call(emulator, 'POST', tablesPath, {
      name: 'Nums',
      fields: [{ name: 'N', type: 'number' }],
    });
    expect(noPrecision.status).toBe(422);
    expect(noPrecision.body.error.type).toBe('INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE');
    const schema = await call(emulator, 'GET', tablesPath);
    expect(schema.body.tables.map((t: Loose) => t.name)).toEqual(['Projects', 'Tasks', 'Numbers']);
  });

  it('creates a field and changes its name, description and select options', async () => {
    const created = await call(emulator, 'POST', `${tablesPath}/tblTasks000000001/fields`, {
      name: 'Priority',
      type: 'singleSelect',
      description: 'How urgent',
      options: { choices: [{ name: 'Low' }, { name: 'High' }] },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^fld/),
      name: 'Priority',
      type: 'singleSelect',
      description: 'How urgent',
    });
    await client(emulator).base(BASE_ID)('Tasks').update('recTaskCopy000001', { Priority: 'High' });

    const high = created.body.options.choices[1];
    const renamed = await call(
      emulator,
      'PATCH',
      `${tablesPath}/tblTasks000000001/fields/${created.body.id}`,
      {
        name: 'Urgency',
        description: 'Renamed',
        options: { choices: [{ id: high.id, name: 'Very high' }, { name: 'Low' }, { name: 'Medium' }] },
      },
    );
    expect(renamed.status).toBe(200);
    expect(renamed.body.name).toBe('Urgency');
    expect(renamed.body.options.choices.map((c: Loose) => c.name)).toEqual(['Very high', 'Low', 'Medium']);
    // Cells follow their choice through the rename.
    expect(emulator.listRecords(BASE_ID, 'Tasks')[0]!.fields.Urgency).toBe('Very high');

    const duplicate = await call(emulator, 'POST', `${tablesPath}/tblTasks000000001/fields`, {
      name: 'title',
      type: 'singleLineText',
    });
    expect(duplicate.status).toBe(422);
    const clash = await call(emulator, 'PATCH', `${tablesPath}/tblTasks000000001/fields/${created.body.id}`, {
      name: 'TITLE',
    });
    expect(clash.status).toBe(422);
    const unknownField = await call(
      emulator,
      'PATCH',
      `${tablesPath}/tblTasks000000001/fields/fldNoSuchField001`,
      { name: 'x' },
    );
    expect(unknownField.status).toBe(403);
  });

  it('renames a table', async () => {
    const answer = await call(emulator, 'PATCH', `${tablesPath}/tblNumbers0000001`, {
      name: 'Figures',
      description: 'Renamed',
    });
    expect(answer.body).toMatchObject({ id: 'tblNumbers0000001', name: 'Figures', description: 'Renamed' });
    expect(emulator.listRecords(BASE_ID, 'Figures')).toHaveLength(250);
  });

  it('has no endpoint to delete a table or a field: 404 {"error":{"type":"NOT_FOUND"}}', async () => {
    const table = await call(emulator, 'DELETE', `${tablesPath}/tblNumbers0000001`);
    expect(table.status).toBe(404);
    expect(table.body).toEqual({ error: { type: 'NOT_FOUND' } });
    const schema = await call(emulator, 'GET', tablesPath);
    const field = schema.body.tables[2].fields[1];
    const fieldDelete = await call(emulator, 'DELETE', `${tablesPath}/tblNumbers0000001/fields/${field.id}`);
    expect(fieldDelete.status).toBe(404);
    expect(fieldDelete.body).toEqual({ error: { type: 'NOT_FOUND' } });
    const after = await call(emulator, 'GET', tablesPath);
    expect(after.body).toEqual(schema.body);
  });

  it('answers an unknown or forbidden base with 403, and an unknown meta route with 404', async () => {
    const expected = {
      error: {
        type: 'INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND',
        message:
          'Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.',
      },
    };
    const unknown = await call(emulator, 'GET', '/v0/meta/bases/appNoSuchBase0001/tables');
    expect(unknown.status).toBe(403);
    expect(unknown.body).toEqual(expected);
    const forbidden = await call(emulator, 'GET', tablesPath, undefined, SCOPED_TOKEN);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toEqual(expected);
    const route = await call(emulator, 'GET', '/v0/meta/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body).toEqual({ error: { type: 'NOT_FOUND' } });
  });

  it('tells who the token is (whoami)', async () => {
    const answer = await call(emulator, 'GET', '/v0/meta/whoami');
    expect(answer.body).toMatchObject({
      id: expect.stringMatching(/^usr[A-Za-z0-9]{14}$/),
      scopes: expect.arrayContaining(['schema.bases:read']),
    });
  });
});
