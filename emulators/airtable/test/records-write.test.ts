import type { AirtableEmulator } from '../src';
import {
  BASE_ID,
  call,
  client,
  clientError,
  query,
  sleep,
  startConformanceEmulator,
  type Loose,
} from './helpers';

describe('writing records', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  const base = () => client(emulator).base(BASE_ID);
  const tasks = () => emulator.listRecords(BASE_ID, 'Tasks');

  describe('create', () => {
    it('creates one record from {fields} and up to 10 from {records}', async () => {
      const single = await base()('Tasks').create({ Title: 'Single', Estimate: 1 });
      expect(single.id).toMatch(/^rec[A-Za-z0-9]{14}$/);
      expect(single.get('Title')).toBe('Single');
      const many = await base()('Tasks').create(
        Array.from({ length: 10 }, (_, i) => ({ fields: { Title: `Batch ${i}` } })),
      );
      expect(many).toHaveLength(10);
      expect(tasks()).toHaveLength(14);

      const raw = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'Raw' } });
      expect(raw.status).toBe(200);
      expect(raw.body).toMatchObject({
        id: expect.stringMatching(/^rec/),
        createdTime: expect.any(String),
        fields: { Title: 'Raw', Label: 'Raw [open]' },
      });
      const batch = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        records: [{ fields: { Title: 'A' } }, { fields: { Title: 'B' } }],
      });
      expect(batch.body.records.map((r: Loose) => r.fields.Title)).toEqual(['A', 'B']);
    });

    it('numbers records (autoNumber), stamps createdTime, createdBy and computed fields', async () => {
      const before = Date.now();
      const created = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Title: 'Stamped', Done: true },
      });
      const after = Date.now();
      const fields = created.body.fields;
      expect(fields.Number).toBe(4);
      expect(fields.Created).toBe(created.body.createdTime);
      expect(fields.Modified).toBe(created.body.createdTime);
      expect(fields.Creator).toEqual({
        id: expect.stringMatching(/^usr[A-Za-z0-9]{14}$/),
        email: expect.any(String),
        name: expect.any(String),
      });
      expect(fields.Label).toBe('Stamped [done]');
      // Stamped while the request was handled, however long that took.
      expect(Date.parse(created.body.createdTime)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(created.body.createdTime)).toBeLessThanOrEqual(after);
    });

    it('refuses more than 10 records, and none, with 422 INVALID_RECORDS', async () => {
      const eleven = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        records: Array.from({ length: 11 }, () => ({ fields: {} })),
      });
      expect(eleven.status).toBe(422);
      expect(eleven.body).toEqual({
        error: {
          type: 'INVALID_RECORDS',
          message: 'A maximum of 10 records can be created per request but you have provided 11.',
        },
      });
      const none = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { records: [] });
      expect(none.status).toBe(422);
      expect(none.body.error.type).toBe('INVALID_RECORDS');
      const viaClient = await clientError(
        base()('Tasks').create(Array.from({ length: 11 }, () => ({ fields: {} }))),
      );
      expect(viaClient).toMatchObject({ error: 'INVALID_RECORDS', statusCode: 422 });
      expect(tasks()).toHaveLength(3);
    });

    it('answers a record without fields with 422 INVALID_REQUEST_MISSING_FIELDS', async () => {
      for (const body of [{}, { records: [{ fields: { Title: 'ok' } }, {}] }, { typecast: true }]) {
        const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, body);
        expect(answer.status).toBe(422);
        expect(answer.body).toEqual({
          error: {
            type: 'INVALID_REQUEST_MISSING_FIELDS',
            message: 'Could not find field "fields" in the request body',
          },
        });
      }
      expect(tasks()).toHaveLength(3);
    });

    it('answers an unknown field with 422 UNKNOWN_FIELD_NAME', async () => {
      const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Project_Name: 'x' } });
      expect(answer.status).toBe(422);
      expect(answer.body).toEqual({
        error: { type: 'UNKNOWN_FIELD_NAME', message: 'Unknown field name: "Project_Name"' },
      });
      const viaClient = await clientError(base()('Tasks').create({ Project_Name: 'x' }));
      expect(viaClient).toMatchObject({
        error: 'UNKNOWN_FIELD_NAME',
        message: 'Unknown field name: "Project_Name"',
        statusCode: 422,
      });
    });

    it('answers unparseable JSON with 422 INVALID_REQUEST_BODY and an oversized body with 413', async () => {
      const broken = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, '{"fields":');
      expect(broken.status).toBe(422);
      expect(broken.body).toEqual({
        error: { type: 'INVALID_REQUEST_BODY', message: 'Could not parse request body' },
      });
      const huge = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Notes: 'x'.repeat(3 * 1024 * 1024) },
      });
      expect(huge.status).toBe(413);
      expect(huge.body).toEqual({
        error: { type: 'REQUEST_TOO_LARGE', message: 'Request body is too large' },
      });
      expect(tasks()).toHaveLength(3);
    });

    it('refuses unknown top-level keys (a typo such as typeCast) with 422', async () => {
      const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Title: 'x' },
        typeCast: true,
      });
      expect(answer.status).toBe(422);
      expect(answer.body.error.type).toBe('INVALID_REQUEST_UNKNOWN');
    });
  });

  describe('cell validation without typecast', () => {
    const expectColumnError = async (fields: Record<string, unknown>, type: string, message: string) => {
      const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Title: 'v', ...fields },
      });
      expect(answer.status).toBe(422);
      expect(answer.body).toEqual({ error: { type, message } });
    };

    it('refuses writes to computed fields', async () => {
      for (const name of ['Label', 'Number', 'Created', 'Modified', 'Creator']) {
        await expectColumnError(
          { [name]: 'x' },
          'INVALID_VALUE_FOR_COLUMN',
          `Field "${name}" cannot accept a value because the field is computed`,
        );
      }
      const onProjects = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Projects/recProjWebsite001`, {
        fields: { 'Task count': 3 },
      });
      expect(onProjects.body).toEqual({
        error: {
          type: 'INVALID_VALUE_FOR_COLUMN',
          message: 'Field "Task count" cannot accept a value because the field is computed',
        },
      });
    });

    it('checks each type', async () => {
      const cannot = (name: string) => `Field "${name}" cannot accept the provided value`;
      await expectColumnError({ Estimate: '3' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Estimate'));
      await expectColumnError({ Title: 42 }, 'INVALID_VALUE_FOR_COLUMN', cannot('Title'));
      await expectColumnError({ Done: 'yes' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Done'));
      await expectColumnError({ Due: 'next tuesday' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Due'));
      await expectColumnError({ Due: 20250101 }, 'INVALID_VALUE_FOR_COLUMN', cannot('Due'));
      await expectColumnError({ 'Starts at': 'soon' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Starts at'));
      await expectColumnError({ Tags: 'red' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Tags'));
      await expectColumnError({ Rating: 9 }, 'INVALID_VALUE_FOR_COLUMN', cannot('Rating'));
      await expectColumnError(
        { Files: ['https://x.example.com/a.png'] },
        'INVALID_VALUE_FOR_COLUMN',
        cannot('Files'),
      );
      await expectColumnError({ Code: 'abc' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Code'));
      await expectColumnError({ Owner: 'someone' }, 'INVALID_VALUE_FOR_COLUMN', cannot('Owner'));
      await expectColumnError(
        { Tags: ['green'] },
        'INVALID_MULTIPLE_CHOICE_OPTIONS',
        'Insufficient permissions to create new select option ""green""',
      );
      expect(tasks()).toHaveLength(3);
    });

    it('requires links to be an array of existing record ids of the linked table', async () => {
      await expectColumnError(
        { Project: 'recProjWebsite001' },
        'INVALID_VALUE_FOR_COLUMN',
        'Value is not an array of record IDs.',
      );
      await expectColumnError(
        { Project: [{ id: 'recProjWebsite001' }] },
        'INVALID_VALUE_FOR_COLUMN',
        'Value is not an array of record IDs.',
      );
      await expectColumnError(
        { Project: ['Website'] },
        'INVALID_VALUE_FOR_COLUMN',
        'Value is not an array of record IDs.',
      );
      await expectColumnError(
        { Project: ['recNoSuchRecord01'] },
        'ROW_DOES_NOT_EXIST',
        'Record ID recNoSuchRecord01 does not exist in table "Projects"',
      );
      // A record of another table is not a record of the linked table.
      await expectColumnError(
        { Project: ['recTaskCopy000001'] },
        'ROW_DOES_NOT_EXIST',
        'Record ID recTaskCopy000001 does not exist in table "Projects"',
      );
    });

    it('accepts well-formed values of every writable type', async () => {
      const created = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: {
          Title: 'Everything',
          Project: ['recProjWarehous01'],
          Done: true,
          Due: '2025-06-30',
          'Starts at': '2025-06-30T08:15:00+02:00',
          Estimate: 1.5,
          Progress: 0.25,
          Tags: ['blue'],
          Notes: 'line 1\nline 2',
          Email: 'a@example.com',
          Files: [{ url: 'https://files.example.com/docs/plan.pdf' }],
          Rating: 4,
          Code: { text: '0123', type: 'upce' },
          Owner: { email: 'owner@example.com' },
        },
      });
      expect(created.status).toBe(200);
      expect(created.body.fields).toMatchObject({
        'Starts at': '2025-06-30T06:15:00.000Z',
        Files: [
          {
            id: expect.stringMatching(/^att[A-Za-z0-9]{14}$/),
            url: 'https://files.example.com/docs/plan.pdf',
            filename: 'plan.pdf',
            type: 'application/pdf',
          },
        ],
        Code: { text: '0123', type: 'upce' },
        Owner: { id: expect.stringMatching(/^usr/), email: 'owner@example.com', name: 'owner' },
        Progress: 0.25,
      });
    });
  });

  describe('typecast', () => {
    it('converts strings best-effort and creates missing select options', async () => {
      const created = await base()('Tasks').create(
        {
          Title: 12,
          Estimate: '4.5',
          Done: 'true',
          Due: '2025-07-04T15:00:00Z',
          Tags: 'blue, green',
          Rating: '3',
          Progress: '50%',
          Files: 'https://f.example.com/a.png',
        },
        { typecast: true },
      );
      expect(created.fields).toMatchObject({
        Title: '12',
        Estimate: 4.5,
        Done: true,
        Due: '2025-07-04',
        Tags: ['blue', 'green'],
        Rating: 3,
        Progress: 0.5,
      });
      const schema = await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`);
      const tags = schema.body.tables
        .find((t: Loose) => t.name === 'Tasks')
        .fields.find((f: Loose) => f.name === 'Tags');
      expect(tags.options.choices.map((c: Loose) => c.name)).toEqual(['red', 'blue', 'green']);
      expect(tags.options.choices[2].id).toMatch(/^sel[A-Za-z0-9]{14}$/);
    });

    it('links by primary field value, creating the linked record when none matches', async () => {
      const created = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Title: 'Linked', Project: ['Website', 'Brand new project'] },
        typecast: true,
      });
      expect(created.status).toBe(200);
      const [website, brandNew] = created.body.fields.Project;
      expect(website).toBe('recProjWebsite001');
      const projects = emulator.listRecords(BASE_ID, 'Projects');
      expect(projects.find((p) => p.id === brandNew)?.fields).toMatchObject({
        Name: 'Brand new project',
        Tasks: [created.body.id],
      });
    });
  });

  describe('links', () => {
    it('keeps both sides of a two-way link in step on create, update and delete', async () => {
      const task = await base()('Tasks').create({ Title: 'Two-way', Project: ['recProjWarehous01'] });
      let warehouse = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWarehous01')!;
      expect(warehouse.fields.Tasks).toEqual(['recTaskShelves001', task.id]);
      expect(warehouse.fields['Task count']).toBe(2);

      await base()('Tasks').update(task.id, { Project: ['recProjWebsite001'] });
      warehouse = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWarehous01')!;
      const website = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWebsite001')!;
      expect(warehouse.fields.Tasks).toEqual(['recTaskShelves001']);
      expect(website.fields.Tasks).toEqual(['recTaskCopy000001', 'recTaskReview0001', task.id]);

      // Writing the other side moves the link back.
      await base()('Projects').update('recProjWebsite001', { Tasks: ['recTaskCopy000001'] });
      const copy = emulator.listRecords(BASE_ID, 'Tasks').find((t) => t.id === 'recTaskReview0001')!;
      expect(copy.fields).not.toHaveProperty('Project');

      await base()('Tasks').destroy('recTaskCopy000001');
      const after = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWebsite001')!;
      expect(after.fields).not.toHaveProperty('Tasks');
      expect(after.fields.Hours).toBe(0);
    });
  });

  describe('update', () => {
    it('PATCH changes only the sent fields, batch and single', async () => {
      const updated = await base()('Tasks').update([{ id: 'recTaskCopy000001', fields: { Estimate: 9 } }]);
      expect(updated[0]!.fields).toMatchObject({
        Title: 'Draft copy',
        Estimate: 9,
        Due: '2025-02-01',
        Tags: ['red'],
      });
      const single = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, {
        fields: { Notes: 'n' },
      });
      expect(single.status).toBe(200);
      expect(single.body.fields).toMatchObject({ Title: 'Draft copy', Estimate: 9, Notes: 'n' });
    });

    it('PUT clears every editable field not sent, batch and single', async () => {
      const replaced = await base()('Tasks').replace([
        { id: 'recTaskReview0001', fields: { Title: 'Only title' } },
      ]);
      expect(replaced[0]!.fields).toEqual({
        Title: 'Only title',
        Label: 'Only title [open]',
        Number: 2,
        Created: '2025-01-02T10:00:00.000Z',
        Modified: expect.any(String),
        Creator: expect.any(Object),
      });
      const single = await call(emulator, 'PUT', `/v0/${BASE_ID}/Tasks/recTaskShelves001`, {
        fields: { Estimate: 1 },
      });
      expect(single.body.fields).not.toHaveProperty('Title');
      expect(single.body.fields).not.toHaveProperty('Notes');
      expect(single.body.fields.Estimate).toBe(1);
      // The cleared link is gone from the other side too.
      const warehouse = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWarehous01')!;
      expect(warehouse.fields).not.toHaveProperty('Tasks');
    });

    it('answers an unknown id in a batch with 422 ROW_DOES_NOT_EXIST and on a record URL with 404', async () => {
      const batch = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
        records: [{ id: 'recNoSuchRecord01', fields: { Title: 'x' } }],
      });
      expect(batch.status).toBe(422);
      expect(batch.body).toEqual({
        error: {
          type: 'ROW_DOES_NOT_EXIST',
          message: 'Record ID recNoSuchRecord01 does not exist in this table',
        },
      });
      const single = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recNoSuchRecord01`, {
        fields: { Title: 'x' },
      });
      expect(single.status).toBe(404);
      expect(single.body).toEqual({ error: 'NOT_FOUND' });
      const missingFields = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, {});
      expect(missingFields.body.error.type).toBe('INVALID_REQUEST_MISSING_FIELDS');
      const eleven = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
        records: Array.from({ length: 11 }, () => ({ id: 'recTaskCopy000001', fields: {} })),
      });
      expect(eleven.body).toEqual({
        error: {
          type: 'INVALID_RECORDS',
          message: 'A maximum of 10 records can be updated per request but you have provided 11.',
        },
      });
    });

    it('moves lastModifiedTime and LAST_MODIFIED_TIME() only for records that changed', async () => {
      const before = tasks().find((t) => t.id === 'recTaskCopy000001')!.fields.Modified as string;
      const cursor = new Date().toISOString();
      await sleep(5);
      await base()('Tasks').update('recTaskCopy000001', { Estimate: 4 });
      // Writing the value a cell already has is no change.
      await base()('Tasks').update('recTaskShelves001', { Estimate: 8 });
      const after = tasks().find((t) => t.id === 'recTaskCopy000001')!.fields.Modified as string;
      expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
      const changed = await base()('Tasks')
        .select({ filterByFormula: `IS_AFTER(LAST_MODIFIED_TIME(), '${cursor}')` })
        .all();
      expect(changed.map((r) => r.id)).toEqual(['recTaskCopy000001']);
      const byField = await base()('Tasks')
        .select({ filterByFormula: `IS_AFTER(LAST_MODIFIED_TIME({Title}), '${cursor}')` })
        .all();
      expect(byField).toHaveLength(0);
    });
  });

  describe('all or nothing', () => {
    it('applies no part of a create batch with one bad record', async () => {
      const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
        records: [
          { fields: { Title: 'good 1', Project: ['recProjWarehous01'] } },
          { fields: { Title: 'good 2', Tags: 'blue, violet' } },
          { fields: { Title: 'bad', Estimate: 'many' } },
        ],
        typecast: false,
      });
      expect(answer.status).toBe(422);
      expect(tasks()).toHaveLength(3);
      const warehouse = emulator.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWarehous01')!;
      expect(warehouse.fields.Tasks).toEqual(['recTaskShelves001']);
      // Numbering is not consumed by the failed request either.
      const next = await base()('Tasks').create({ Title: 'next' });
      expect(next.get('Number')).toBe(4);
    });

    it('applies no part of an update batch, nor options created by typecast, when one record fails', async () => {
      const answer = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
        records: [
          {
            id: 'recTaskCopy000001',
            fields: { Title: 'changed', Tags: ['violet'], Project: ['A project made by typecast'] },
          },
          { id: 'recTaskReview0001', fields: { Nope: 1 } },
        ],
        typecast: true,
      });
      expect(answer.status).toBe(422);
      expect(tasks().find((t) => t.id === 'recTaskCopy000001')!.fields).toMatchObject({
        Title: 'Draft copy',
        Tags: ['red'],
      });
      expect(emulator.listRecords(BASE_ID, 'Projects')).toHaveLength(3);
      const schema = await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`);
      const tags = schema.body.tables
        .find((t: Loose) => t.name === 'Tasks')
        .fields.find((f: Loose) => f.name === 'Tags');
      expect(tags.options.choices.map((c: Loose) => c.name)).toEqual(['red', 'blue']);
    });

    it('deletes none of a batch that names one missing record, and answers 404', async () => {
      const answer = await call(
        emulator,
        'DELETE',
        `/v0/${BASE_ID}/Tasks?${query({ 'records[]': ['recTaskCopy000001', 'recNoSuchRecord01'] })}`,
      );
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual({ error: 'NOT_FOUND' });
      expect(tasks()).toHaveLength(3);
    });
  });

  describe('upsert', () => {
    const upsert = (
      method: 'PATCH' | 'PUT',
      records: unknown[],
      fieldsToMergeOn: string[] = ['Title'],
      extra: Record<string, unknown> = {},
    ) =>
      call(emulator, method, `/v0/${BASE_ID}/Tasks`, {
        performUpsert: { fieldsToMergeOn },
        records,
        ...extra,
      });

    it('creates on no match, updates on one match, and reports the ids of each', async () => {
      const answer = await upsert('PATCH', [
        { fields: { Title: 'Draft copy', Estimate: 7 } },
        { fields: { Title: 'Brand new', Estimate: 1 } },
      ]);
      expect(answer.status).toBe(200);
      expect(answer.body.updatedRecords).toEqual(['recTaskCopy000001']);
      expect(answer.body.createdRecords).toHaveLength(1);
      expect(answer.body.records.map((r: Loose) => r.id)).toEqual([
        'recTaskCopy000001',
        answer.body.createdRecords[0],
      ]);
      const copy = tasks().find((t) => t.id === 'recTaskCopy000001')!;
      expect(copy.fields).toMatchObject({ Estimate: 7, Due: '2025-02-01' });
      expect(tasks()).toHaveLength(4);
    });

    it('with PUT, clears the unsent fields of the matched record', async () => {
      const answer = await upsert('PUT', [{ fields: { Title: 'Draft copy', Estimate: 7 } }]);
      expect(answer.body.updatedRecords).toEqual(['recTaskCopy000001']);
      expect(tasks().find((t) => t.id === 'recTaskCopy000001')!.fields).not.toHaveProperty('Due');
    });

    it('fails wholly when a record matches several existing records', async () => {
      await base()('Tasks').create({ Title: 'Draft copy' });
      const answer = await upsert('PATCH', [
        { fields: { Title: 'Fresh', Estimate: 1 } },
        { fields: { Title: 'Draft copy', Estimate: 2 } },
      ]);
      expect(answer.status).toBe(422);
      expect(answer.body.error.type).toBe('INVALID_RECORDS');
      expect(tasks()).toHaveLength(4);
      expect(tasks().some((t) => t.fields.Title === 'Fresh')).toBe(false);
    });

    it('matches on up to three fields and checks their number and types', async () => {
      const two = await upsert(
        'PATCH',
        [{ fields: { Title: 'Draft copy', Due: '2025-02-01', Notes: 'matched' } }],
        ['Title', 'Due'],
      );
      expect(two.body.updatedRecords).toEqual(['recTaskCopy000001']);
      const none = await upsert('PATCH', [{ fields: { Title: 'x' } }], []);
      expect(none.status).toBe(422);
      const four = await upsert('PATCH', [{ fields: { Title: 'x' } }], ['Title', 'Due', 'Estimate', 'Tags']);
      expect(four.status).toBe(422);
      for (const name of ['Label', 'Done', 'Project', 'Starts at']) {
        const refused = await upsert('PATCH', [{ fields: { Title: 'x' } }], [name]);
        expect(refused.status).toBe(422);
        expect(refused.body.error.type).toBe('INVALID_REQUEST_UNKNOWN');
      }
      const unknown = await upsert('PATCH', [{ fields: { Title: 'x' } }], ['Nope']);
      expect(unknown.body.error.type).toBe('UNKNOWN_FIELD_NAME');
      const missingKey = await upsert('PATCH', [{ fields: { Estimate: 1 } }]);
      expect(missingKey.status).toBe(422);
      expect(tasks()).toHaveLength(3);
    });

    it('goes through the official client too (which drops the id lists)', async () => {
      const records: Loose = await base()('Tasks').update(
        [{ fields: { Title: 'Review copy', Estimate: 11 } }] as Loose,
        { performUpsert: { fieldsToMergeOn: ['Title'] } } as Loose,
      );
      expect(records[0]!.id).toBe('recTaskReview0001');
      expect(records[0]!.get('Estimate')).toBe(11);
    });
  });

  describe('delete', () => {
    it('deletes 1–10 records by records[] and one by URL', async () => {
      const batch = await call(
        emulator,
        'DELETE',
        `/v0/${BASE_ID}/Tasks?${query({ 'records[]': ['recTaskCopy000001', 'recTaskReview0001'] })}`,
      );
      expect(batch.status).toBe(200);
      expect(batch.body).toEqual({
        records: [
          { id: 'recTaskCopy000001', deleted: true },
          { id: 'recTaskReview0001', deleted: true },
        ],
      });
      const single = await call(emulator, 'DELETE', `/v0/${BASE_ID}/Tasks/recTaskShelves001`);
      expect(single.body).toEqual({ id: 'recTaskShelves001', deleted: true });
      expect(tasks()).toHaveLength(0);
      const again = await call(emulator, 'DELETE', `/v0/${BASE_ID}/Tasks/recTaskShelves001`);
      expect(again.status).toBe(404);
      expect(again.body).toEqual({ error: 'NOT_FOUND' });
    });

    it('goes through the official client, batch and single', async () => {
      const deleted = await base()('Numbers').destroy(
        emulator
          .listRecords(BASE_ID, 'Numbers')
          .slice(0, 10)
          .map((r) => r.id),
      );
      expect(deleted).toHaveLength(10);
      const one = await base()('Numbers').destroy(emulator.listRecords(BASE_ID, 'Numbers')[0]!.id);
      expect(one.id).toMatch(/^rec/);
      expect(emulator.listRecords(BASE_ID, 'Numbers')).toHaveLength(239);
    });

    it('refuses more than 10, none, and records= without brackets with 422 INVALID_RECORDS', async () => {
      const expected = {
        error: { type: 'INVALID_RECORDS', message: '"records" must be an array of up to 10 record IDs.' },
      };
      const ids = emulator
        .listRecords(BASE_ID, 'Numbers')
        .slice(0, 11)
        .map((r) => r.id);
      const eleven = await call(emulator, 'DELETE', `/v0/${BASE_ID}/Numbers?${query({ 'records[]': ids })}`);
      expect(eleven.status).toBe(422);
      expect(eleven.body).toEqual(expected);
      const none = await call(emulator, 'DELETE', `/v0/${BASE_ID}/Numbers`);
      expect(none.status).toBe(422);
      expect(none.body).toEqual(expected);
      const bare = await call(emulator, 'DELETE', `/v0/${BASE_ID}/Numbers?records=${ids[0]}`);
      expect(bare.status).toBe(422);
      expect(bare.body).toEqual(expected);
      expect(emulator.listRecords(BASE_ID, 'Numbers')).toHaveLength(250);
    });
  });
});
