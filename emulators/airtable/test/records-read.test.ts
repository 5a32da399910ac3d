import { startAirtableEmulator, type AirtableEmulator } from '../src';
import {
  BASE_ID,
  call,
  client,
  clientError,
  query,
  startConformanceEmulator,
  TOKEN,
  type Loose,
} from './helpers';

describe('listing and reading records', () => {
  let emulator: AirtableEmulator;
  beforeAll(async () => {
    emulator = await startConformanceEmulator();
  });
  afterAll(() => emulator.close());

  const base = () => client(emulator).base(BASE_ID);

  it('lists every record through the official client, 100 per page, with itr…/rec… offsets', async () => {
    const all = await base()('Numbers').select().all();
    expect(all).toHaveLength(250);
    expect(all.map((r) => r.get('Name'))).toEqual(
      Array.from({ length: 250 }, (_, i) => `n${String(i).padStart(3, '0')}`),
    );

    const first = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers`);
    expect(first.status).toBe(200);
    expect(first.body.records).toHaveLength(100);
    expect(first.body.offset).toMatch(/^itr[A-Za-z0-9]{14}\/rec[A-Za-z0-9]{14}$/);
    const last = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Numbers?${query({ pageSize: 100, offset: first.body.offset })}`,
    );
    const third = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Numbers?${query({ offset: last.body.offset })}`,
    );
    expect(third.body.records).toHaveLength(50);
    expect(third.body).not.toHaveProperty('offset');
  });

  it('honours pageSize 1–100 and refuses anything else with 422', async () => {
    const page = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers?pageSize=7`);
    expect(page.body.records).toHaveLength(7);
    for (const bad of ['101', '0', '-1', 'ten', '2.5']) {
      const answer = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers?pageSize=${bad}`);
      expect(answer.status).toBe(422);
      expect(answer.body).toEqual({
        error: {
          type: 'INVALID_REQUEST_UNKNOWN',
          message: 'Invalid request: parameter validation failed. Check your request data.',
        },
      });
    }
    const viaClient = await clientError(base()('Numbers').select({ pageSize: 101 }).firstPage());
    expect(viaClient.statusCode).toBe(422);
  });

  it('keeps an offset valid while records are added and deleted between pages', async () => {
    const first = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers?pageSize=10`);
    const created = await base()('Numbers').create([{ fields: { Name: 'late arrival', Value: -1 } }]);
    const second = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Numbers?${query({ pageSize: 10, offset: first.body.offset })}`,
    );
    expect(second.body.records.map((r: Loose) => r.fields.Name)).toEqual(
      Array.from({ length: 10 }, (_, i) => `n${String(i + 10).padStart(3, '0')}`),
    );
    // The listing's set of records was fixed when it began: the late record is not in it.
    let cursor = second.body.offset;
    const names: string[] = [];
    while (cursor) {
      const page = await call(
        emulator,
        'GET',
        `/v0/${BASE_ID}/Numbers?${query({ pageSize: 100, offset: cursor })}`,
      );
      names.push(...page.body.records.map((r: Loose) => r.fields.Name));
      cursor = page.body.offset;
    }
    expect(names).not.toContain('late arrival');
    expect(names).toHaveLength(230);
    await base()('Numbers').destroy(created[0]!.id);
  });

  it('refuses a malformed offset with INVALID_OFFSET_VALUE', async () => {
    const answer = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers?offset=10`);
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({
      error: { type: 'INVALID_OFFSET_VALUE', message: 'The value of offset 10 is invalid' },
    });
  });

  it('stops at maxRecords across pages', async () => {
    const records = await base()('Numbers').select({ maxRecords: 150, pageSize: 60 }).all();
    expect(records).toHaveLength(150);
    const one = await call(emulator, 'GET', `/v0/${BASE_ID}/Numbers?maxRecords=3`);
    expect(one.body.records).toHaveLength(3);
    expect(one.body).not.toHaveProperty('offset');
  });

  it('returns only the asked fields[], and 422 UNKNOWN_FIELD_NAME for a missing one', async () => {
    const page = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Tasks?${query({ 'fields[]': ['Title', 'Estimate'] })}`,
    );
    for (const record of page.body.records)
      expect(Object.keys(record.fields).sort()).toEqual(['Estimate', 'Title']);
    const bad = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks?${query({ 'fields[]': ['Nope'] })}`);
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({
      error: { type: 'UNKNOWN_FIELD_NAME', message: 'Unknown field name: "Nope"' },
    });
  });

  it('sorts by sort[n][field]/[direction], ties in creation order; selects by choice order', async () => {
    const desc = await base()('Numbers')
      .select({ sort: [{ field: 'Value', direction: 'desc' }], maxRecords: 3 })
      .all();
    expect(desc.map((r) => r.get('Value'))).toEqual([249, 248, 247]);
    const multi = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Numbers?${query({ 'sort[0][field]': 'Group', 'sort[0][direction]': 'desc', 'sort[1][field]': 'Value', 'sort[1][direction]': 'asc', maxRecords: 2 })}`,
    );
    expect(multi.body.records.map((r: Loose) => [r.fields.Group, r.fields.Value])).toEqual([
      ['B', 1],
      ['B', 3],
    ]);
    const bad = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Numbers?${query({ 'sort[0][field]': 'Value', 'sort[0][direction]': 'up' })}`,
    );
    expect(bad.status).toBe(422);
  });

  it('lists a view by name or id, in its order and with its filter; an unknown view is 422 VIEW_NAME_NOT_FOUND', async () => {
    const byName = await base()('Tasks').select({ view: 'Open' }).all();
    expect(byName.map((r) => r.get('Title'))).toEqual(['Order shelves', 'Draft copy']);
    const byId = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks?view=viwOpenTasks00001`);
    expect(byId.body.records.map((r: Loose) => r.fields.Title)).toEqual(['Order shelves', 'Draft copy']);
    const grid = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks?view=${encodeURIComponent('Grid view')}`);
    expect(grid.body.records).toHaveLength(3);
    const missing = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks?view=Nope`);
    expect(missing.status).toBe(422);
    expect(missing.body).toEqual({ error: { type: 'VIEW_NAME_NOT_FOUND', message: 'View Nope not found' } });
  });

  it('omits empty cells ("", [], false, null) from fields', async () => {
    const shelves = await base()('Tasks').find('recTaskShelves001');
    expect(shelves._rawJson.fields).not.toHaveProperty('Done');
    expect(shelves._rawJson.fields).not.toHaveProperty('Tags');
    expect(shelves._rawJson.fields).not.toHaveProperty('Due');
    expect(shelves._rawJson.fields.Notes).toBe('Call the supplier');
    const empty = await base()('Projects').find('recProjEmpty00001');
    expect(empty._rawJson.fields).toEqual({ Name: 'Empty', 'Task count': 0, Hours: 0 });
  });

  it('answers cellFormat=string only with timeZone and userLocale', async () => {
    const refused = await call(emulator, 'GET', `/v0/${BASE_ID}/Projects?cellFormat=string`);
    expect(refused.status).toBe(422);
    expect(refused.body.error.type).toBe('INVALID_REQUEST_UNKNOWN');
    const onlyZone = await call(emulator, 'GET', `/v0/${BASE_ID}/Projects?cellFormat=string&timeZone=UTC`);
    expect(onlyZone.status).toBe(422);
    const answer = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Projects?${query({ cellFormat: 'string', timeZone: 'Europe/Paris', userLocale: 'en-us' })}`,
    );
    expect(answer.status).toBe(200);
    const website = answer.body.records.find((r: Loose) => r.id === 'recProjWebsite001');
    expect(website.fields).toMatchObject({
      Name: 'Website',
      Status: 'Active',
      Budget: '$1,000.00',
      Tasks: 'Draft copy, Review copy',
      'Task count': '2',
    });
    const bad = await call(emulator, 'GET', `/v0/${BASE_ID}/Projects?${query({ cellFormat: 'xml' })}`);
    expect(bad.status).toBe(422);
  });

  it('keys fields by id with returnFieldsByFieldId and adds commentCount with recordMetadata[]', async () => {
    const answer = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Projects?${query({ returnFieldsByFieldId: true, 'recordMetadata[]': ['commentCount'] })}`,
    );
    const website = answer.body.records[0];
    expect(website.fields.fldProjName000001).toBe('Website');
    expect(website.fields).not.toHaveProperty('Name');
    expect(website.commentCount).toBe(0);
    const viaClient = await base()('Projects')
      .select({ returnFieldsByFieldId: true, maxRecords: 1 })
      .firstPage();
    expect(viaClient[0]!.fields).toHaveProperty('fldProjName000001', 'Website');
    const bad = await call(
      emulator,
      'GET',
      `/v0/${BASE_ID}/Projects?${query({ 'recordMetadata[]': ['likes'] })}`,
    );
    expect(bad.status).toBe(422);
  });

  it('takes the same parameters as a JSON body on POST …/listRecords', async () => {
    const answer = await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers/listRecords`, {
      pageSize: 5,
      fields: ['Value'],
      filterByFormula: '{Value} >= 240',
      sort: [{ field: 'Value', direction: 'desc' }],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.records.map((r: Loose) => r.fields)).toEqual([
      { Value: 249 },
      { Value: 248 },
      { Value: 247 },
      { Value: 246 },
      { Value: 245 },
    ]);
    const next = await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers/listRecords`, {
      pageSize: 5,
      offset: answer.body.offset,
    });
    expect(next.body.records.map((r: Loose) => r.fields.Value)).toEqual([244, 243, 242, 241, 240]);
    const viaClient = await base()('Numbers')
      .select({ method: 'post', filterByFormula: '{Value} < 3' } as Loose)
      .all();
    expect(viaClient).toHaveLength(3);
    const bad = await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers/listRecords`, { pageSize: 500 });
    expect(bad.status).toBe(422);
  });

  it('refuses URLs of 16,000 characters or more with 414, while the client switches to POST by itself', async () => {
    const longFormula = `OR(${Array.from({ length: 700 }, (_, i) => `{Name} = 'n${String(i).padStart(3, '0')}'`).join(', ')})`;
    const url = `/v0/${BASE_ID}/Numbers?${query({ filterByFormula: longFormula })}`;
    expect(`${emulator.url}${url}`.length).toBeGreaterThan(16_000);
    const refused = await call(emulator, 'GET', url);
    expect(refused.status).toBe(414);
    expect(refused.body.error.type).toBe('URL_TOO_LONG');
    const records = await base()('Numbers').select({ filterByFormula: longFormula }).all();
    expect(records).toHaveLength(250);
    const posts = emulator.requestLog.filter(
      (e) => e.method === 'POST' && e.path.endsWith('/Numbers/listRecords?'),
    );
    expect(posts.length).toBeGreaterThan(0);
  });

  it('gets one record, also through another table of the same base', async () => {
    const direct = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`);
    expect(direct.status).toBe(200);
    expect(direct.body).toMatchObject({ id: 'recTaskCopy000001', createdTime: '2025-01-01T10:00:00.000Z' });
    expect(direct.body.fields).toMatchObject({
      Title: 'Draft copy',
      Project: ['recProjWebsite001'],
      Label: 'Draft copy [open]',
    });
    const sideways = await call(emulator, 'GET', `/v0/${BASE_ID}/Projects/recTaskCopy000001`);
    expect(sideways.status).toBe(200);
    expect(sideways.body).toEqual(direct.body);
  });

  it('answers an unknown record with 404 and the bare {"error":"NOT_FOUND"}', async () => {
    const answer = await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks/recDoesNotExist01`);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: 'NOT_FOUND' });
    const viaClient = await clientError(base()('Tasks').find('recDoesNotExist01'));
    expect(viaClient).toMatchObject({ error: 'NOT_FOUND', statusCode: 404 });
  });

  it('addresses tables by id as well as by name, URL-encoded', async () => {
    const byId = await call(emulator, 'GET', `/v0/${BASE_ID}/tblTasks000000001?maxRecords=1`);
    expect(byId.body.records[0].id).toBe('recTaskCopy000001');
  });
});

describe('a long filter', () => {
  let emulator: AirtableEmulator;
  beforeAll(async () => {
    emulator = await startAirtableEmulator({
      tokens: [TOKEN],
      seed: {
        bases: [
          {
            id: BASE_ID,
            name: 'Large',
            tables: [
              {
                name: 'Rows',
                fields: [{ name: 'Name', type: 'singleLineText' }],
                records: Array.from({ length: 20_000 }, (_, i) => ({ fields: { Name: `row ${i}` } })),
              },
            ],
          },
        ],
      },
    });
  });
  afterAll(() => emulator.close());

  it('lets requests that arrive meanwhile in, so each is counted when it arrives', async () => {
    const filter = 'FIND("9", {Name})';
    const filtered = call(emulator, 'POST', `/v0/${BASE_ID}/Rows/listRecords`, { filterByFormula: filter });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const quick = await call(emulator, 'GET', `/v0/${BASE_ID}/Rows?pageSize=1`);
    expect((await filtered).status).toBe(200);
    expect(quick.status).toBe(200);
    const log = emulator.requestLog;
    const listing = log.find((e) => e.path.includes('/Rows/listRecords'))!;
    const single = log.find((e) => e.path.includes('/Rows?pageSize=1'))!;
    // The quick request arrived, and was answered, while the filter still ran (the log is in the
    // order answers left).
    expect(single.at).toBeLessThan(listing.at + listing.durationMs);
    expect(log.indexOf(single)).toBeLessThan(log.indexOf(listing));
  });
});
