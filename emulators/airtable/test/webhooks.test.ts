import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AirtableEmulator, type WebhookSpecification } from '../src';
import {
  BASE_ID,
  OTHER_BASE_ID,
  SCOPED_TOKEN,
  call,
  conformanceSeed,
  startConformanceEmulator,
  type Loose,
} from './helpers';

const DAY = 24 * 60 * 60 * 1000;
const HOOKS = `/v0/bases/${BASE_ID}/webhooks`;
const TASKS = 'tblTasks000000001';
const PROJECTS = 'tblProjects000001';
const NUMBERS = 'tblNumbers0000001';

function spec(
  filters: Partial<WebhookSpecification['options']['filters']> = {},
  includes?: WebhookSpecification['options']['includes'],
): WebhookSpecification {
  return {
    options: {
      filters: { dataTypes: ['tableData'], ...filters },
      ...(includes ? { includes } : {}),
    },
  };
}

async function createHook(
  emulator: AirtableEmulator,
  specification: unknown,
  extra: object = {},
): Promise<string> {
  const answer = await call(emulator, 'POST', HOOKS, { specification, ...extra });
  expect(answer.status).toBe(200);
  return answer.body.id as string;
}

async function payloads(emulator: AirtableEmulator, id: string, query = ''): Promise<Loose> {
  const answer = await call(emulator, 'GET', `${HOOKS}/${id}/payloads${query}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

async function listHooks(emulator: AirtableEmulator): Promise<Loose[]> {
  const answer = await call(emulator, 'GET', HOOKS);
  expect(answer.status).toBe(200);
  return answer.body.webhooks;
}

/** Field ids by name, per table name. */
async function schema(emulator: AirtableEmulator): Promise<Record<string, Record<string, string>>> {
  const answer = await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`);
  return Object.fromEntries(
    answer.body.tables.map((t: Loose) => [
      t.name,
      Object.fromEntries(t.fields.map((f: Loose) => [f.name, f.id])),
    ]),
  );
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('webhooks: create, list, refresh, delete', () => {
  let emulator: AirtableEmulator;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
  });
  afterEach(() => emulator.close());

  it('creates a hook without a notification URL and lists it', async () => {
    const before = emulator.now();
    const created = await call(emulator, 'POST', HOOKS, {
      specification: spec({ recordChangeScope: TASKS }),
    });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^ach[A-Za-z0-9]{14}$/),
      macSecretBase64: expect.any(String),
      expirationTime: expect.stringMatching(ISO),
    });
    expect(Buffer.from(created.body.macSecretBase64, 'base64')).toHaveLength(32);
    const expires = Date.parse(created.body.expirationTime);
    expect(expires).toBeGreaterThanOrEqual(before + 7 * DAY);
    expect(expires).toBeLessThanOrEqual(emulator.now() + 7 * DAY);

    expect(await listHooks(emulator)).toEqual([
      {
        id: created.body.id,
        areNotificationsEnabled: false,
        cursorForNextPayload: 1,
        isHookEnabled: true,
        lastSuccessfulNotificationTime: null,
        notificationUrl: null,
        expirationTime: created.body.expirationTime,
        specification: { options: { filters: { dataTypes: ['tableData'], recordChangeScope: TASKS } } },
        lastNotificationResult: null,
      },
    ]);
    // The MAC secret is shown once only.
    expect(JSON.stringify(await listHooks(emulator))).not.toContain(created.body.macSecretBase64);
  });

  it('keeps the notification URL and every filter and include as given', async () => {
    const fields = await schema(emulator);
    const specification = spec(
      {
        dataTypes: ['tableData', 'tableFields', 'tableMetadata'],
        recordChangeScope: 'viwOpenTasks00001',
        changeTypes: ['add', 'update'],
        fromSources: ['client', 'publicApi'],
        watchDataInFieldIds: [fields.Tasks!.Title!],
        watchSchemasOfFieldIds: [fields.Tasks!.Estimate!],
      },
      {
        includeCellValuesInFieldIds: 'all',
        includePreviousCellValues: true,
        includePreviousFieldDefinitions: false,
      },
    );
    const id = await createHook(emulator, specification, { notificationUrl: 'https://example.com/ping' });
    const [hook] = await listHooks(emulator);
    expect(hook).toMatchObject({
      id,
      notificationUrl: 'https://example.com/ping',
      areNotificationsEnabled: true,
      specification,
    });
  });

  it('refreshes an active hook to now + 7 days and deletes hooks', async () => {
    const id = await createHook(emulator, spec());
    emulator.advanceTime(2 * DAY);
    const refreshed = await call(emulator, 'POST', `${HOOKS}/${id}/refresh`);
    expect(refreshed.status).toBe(200);
    expect(Object.keys(refreshed.body)).toEqual(['expirationTime']);
    const expires = Date.parse(refreshed.body.expirationTime);
    expect(Math.abs(expires - (emulator.now() + 7 * DAY))).toBeLessThan(5_000);
    expect((await listHooks(emulator))[0].expirationTime).toBe(refreshed.body.expirationTime);

    const deleted = await call(emulator, 'DELETE', `${HOOKS}/${id}`);
    expect(deleted).toMatchObject({ status: 200, body: {} });
    expect(await listHooks(emulator)).toEqual([]);
    for (const [method, path] of [
      ['DELETE', `${HOOKS}/${id}`],
      ['POST', `${HOOKS}/${id}/refresh`],
      ['GET', `${HOOKS}/${id}/payloads`],
    ] as const) {
      const gone = await call(emulator, method, path);
      expect(gone.status).toBe(404);
      expect(gone.body.error.type).toBe('NOT_FOUND');
    }
  });

  it('answers 403 for a base the token cannot see, 401 without a token, 404 for unknown routes', async () => {
    const hidden = await call(emulator, 'GET', HOOKS, undefined, SCOPED_TOKEN);
    expect(hidden.status).toBe(403);
    expect(hidden.body.error.type).toBe('INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND');
    expect((await call(emulator, 'GET', `/v0/bases/appNoSuchBase0001/webhooks`)).status).toBe(403);
    expect((await call(emulator, 'GET', HOOKS, undefined, null)).status).toBe(401);
    const unknown = await call(emulator, 'GET', `/v0/bases/${BASE_ID}/hooks`);
    expect(unknown).toMatchObject({ status: 404, body: { error: { type: 'NOT_FOUND' } } });
    expect((await call(emulator, 'PUT', HOOKS, {})).status).toBe(404);
    // A hook of one base is not found through another.
    const id = await createHook(emulator, spec());
    const elsewhere = await call(emulator, 'DELETE', `/v0/bases/${OTHER_BASE_ID}/webhooks/${id}`);
    expect(elsewhere.status).toBe(404);
  });

  it('refuses malformed specifications with 422 INVALID_REQUEST_UNKNOWN', async () => {
    const bad: unknown[] = [
      {},
      { specification: {} },
      { specification: { options: {} } },
      { specification: { options: { filters: {} } } },
      { specification: { options: { filters: { dataTypes: [] } } } },
      { specification: { options: { filters: { dataTypes: ['records'] } } } },
      { specification: { options: { filters: { dataTypes: 'tableData' } } } },
      { specification: { options: { filters: { dataTypes: ['tableData'], changeTypes: ['create'] } } } },
      { specification: { options: { filters: { dataTypes: ['tableData'], fromSources: ['ui'] } } } },
      { specification: { options: { filters: { dataTypes: ['tableData'], color: 'red' } } } },
      {
        specification: { options: { filters: { dataTypes: ['tableData'] }, includes: { includeAll: true } } },
      },
      {
        specification: {
          options: { filters: { dataTypes: ['tableData'] }, includes: { includePreviousCellValues: 'yes' } },
        },
      },
      { specification: spec(), notificationUrl: 'not a url' },
      { specification: spec(), notificationUrl: 'ftp://example.com/x' },
      { specification: spec(), extra: 1 },
    ];
    for (const body of bad) {
      const answer = await call(emulator, 'POST', HOOKS, body);
      expect([answer.status, answer.body.error.type, body]).toEqual([422, 'INVALID_REQUEST_UNKNOWN', body]);
    }
    const unparseable = await call(emulator, 'POST', HOOKS, '{"specification":');
    expect(unparseable.status).toBe(422);
    expect(unparseable.body.error.type).toBe('INVALID_REQUEST_BODY');
    expect(await listHooks(emulator)).toEqual([]);
  });

  it('refuses ids that are not in the base with 422 INVALID_FILTERS', async () => {
    const bad = [
      spec({ recordChangeScope: 'tblNoSuchTable001' }),
      spec({ recordChangeScope: 'viwNoSuchView0001' }),
      spec({ recordChangeScope: 'Tasks' }),
      spec({ watchDataInFieldIds: ['fldNoSuchField001'] }),
      spec({ watchSchemasOfFieldIds: ['Title'] }),
      spec({}, { includeCellValuesInFieldIds: ['fldNoSuchField001'] }),
    ];
    for (const specification of bad) {
      const answer = await call(emulator, 'POST', HOOKS, { specification });
      expect([answer.status, answer.body.error.type]).toEqual([422, 'INVALID_FILTERS']);
    }
  });

  it('allows at most 10 webhooks per base', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await createHook(emulator, spec()));
    const eleventh = await call(emulator, 'POST', HOOKS, { specification: spec() });
    expect(eleventh.status).toBe(422);
    expect(eleventh.body.error.type).toBe('TOO_MANY_WEBHOOKS_IN_BASE');
    expect(await listHooks(emulator)).toHaveLength(10);
    // The limit is per base.
    const other = await call(emulator, 'POST', `/v0/bases/${OTHER_BASE_ID}/webhooks`, {
      specification: spec(),
    });
    expect(other.status).toBe(200);
    // Expired (but still listed) hooks count too; deleting one makes room.
    emulator.advanceTime(8 * DAY);
    expect((await call(emulator, 'POST', HOOKS, { specification: spec() })).status).toBe(422);
    expect((await call(emulator, 'DELETE', `${HOOKS}/${ids[0]}`)).status).toBe(200);
    expect((await call(emulator, 'POST', HOOKS, { specification: spec() })).status).toBe(200);
  });
});

describe('webhooks: payloads of record writes', () => {
  let emulator: AirtableEmulator;
  let fields: Record<string, Record<string, string>>;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
    fields = await schema(emulator);
  });
  afterEach(() => emulator.close());

  it('reports a created record with its cells by field id, in the webhook cell format', async () => {
    const id = await createHook(emulator, spec());
    const write = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, {
      records: [
        {
          fields: {
            Title: 'Ship it',
            Project: ['recProjWebsite001'],
            Tags: ['blue'],
            Done: true,
            Estimate: 0,
          },
        },
      ],
    });
    const record = write.body.records[0];
    const t = fields.Tasks!;
    const answer = await payloads(emulator, id);
    expect(answer).toEqual({ payloads: [expect.any(Object)], cursor: 2, mightHaveMore: false });
    const [payload] = answer.payloads;
    expect(payload).toEqual({
      timestamp: record.createdTime,
      baseTransactionNumber: expect.any(Number),
      actionMetadata: {
        source: 'publicApi',
        sourceMetadata: {
          user: {
            id: expect.stringMatching(/^usr/),
            email: expect.any(String),
            permissionLevel: 'create',
            name: expect.any(String),
          },
        },
      },
      payloadFormat: 'v0',
      changedTablesById: {
        [TASKS]: {
          createdRecordsById: {
            [record.id]: {
              createdTime: record.createdTime,
              cellValuesByFieldId: {
                [t.Title!]: 'Ship it',
                [t.Project!]: [{ id: 'recProjWebsite001', name: 'Website' }],
                [t.Tags!]: [{ id: expect.stringMatching(/^sel/), name: 'blue', color: expect.any(String) }],
                [t.Done!]: true,
                [t.Estimate!]: 0,
              },
            },
          },
        },
        // The inverse link of the project changed too.
        [PROJECTS]: {
          changedRecordsById: {
            recProjWebsite001: {
              current: {
                cellValuesByFieldId: {
                  [fields.Projects!.Tasks!]: [
                    { id: 'recTaskCopy000001', name: 'Draft copy' },
                    { id: 'recTaskReview0001', name: 'Review copy' },
                    { id: record.id, name: 'Ship it' },
                  ],
                },
              },
            },
          },
        },
      },
    });
  });

  it('reports updates (only the changed cells), replaces (cleared cells as null), upserts and deletes', async () => {
    const id = await createHook(emulator, spec({ recordChangeScope: TASKS }));
    const t = fields.Tasks!;
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
      records: [{ id: 'recTaskCopy000001', fields: { Estimate: 4, Title: 'Draft copy' } }],
    });
    await call(emulator, 'PUT', `/v0/${BASE_ID}/Tasks/recTaskReview0001`, { fields: { Title: 'Review' } });
    const upsert = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
      performUpsert: { fieldsToMergeOn: ['Title'] },
      records: [
        { fields: { Title: 'Order shelves', Estimate: 9 } },
        { fields: { Title: 'Brand new', Estimate: 1 } },
      ],
    });
    await call(
      emulator,
      'DELETE',
      `/v0/${BASE_ID}/Tasks?records[]=recTaskCopy000001&records[]=recTaskShelves001`,
    );
    const failed = await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks`, {
      records: [{ id: 'recTaskReview0001', fields: { Estimate: 'many' } }],
    });
    expect(failed.status).toBe(422);

    const { payloads: list, cursor } = await payloads(emulator, id);
    expect(cursor).toBe(5);
    const tables = list.map((p: Loose) => p.changedTablesById[TASKS]);
    expect(tables[0]).toEqual({
      changedRecordsById: { recTaskCopy000001: { current: { cellValuesByFieldId: { [t.Estimate!]: 4 } } } },
    });
    expect(tables[1].changedRecordsById.recTaskReview0001.current.cellValuesByFieldId).toEqual({
      [t.Title!]: 'Review',
      [t.Project!]: null,
      [t.Due!]: null,
      [t.Estimate!]: null,
      [t.Done!]: null,
      [t.Tags!]: null,
    });
    const [createdId] = upsert.body.createdRecords;
    expect(tables[2]).toEqual({
      createdRecordsById: {
        [createdId]: {
          createdTime: expect.stringMatching(ISO),
          cellValuesByFieldId: { [t.Title!]: 'Brand new', [t.Estimate!]: 1 },
        },
      },
      changedRecordsById: { recTaskShelves001: { current: { cellValuesByFieldId: { [t.Estimate!]: 9 } } } },
    });
    expect(tables[3]).toEqual({ destroyedRecordIds: ['recTaskCopy000001', 'recTaskShelves001'] });
    // Every action is its own base transaction, in order.
    const numbers = list.map((p: Loose) => p.baseTransactionNumber);
    expect([...numbers].sort((a, b) => a - b)).toEqual(numbers);
    expect(new Set(numbers).size).toBe(4);
  });

  it('pages payloads with cursor, limit and mightHaveMore', async () => {
    const id = await createHook(emulator, spec({ recordChangeScope: NUMBERS }));
    for (let i = 0; i < 5; i++)
      await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers`, { fields: { Name: `p${i}`, Value: i } });
    const first = await payloads(emulator, id, '?limit=2');
    expect(first.payloads).toHaveLength(2);
    expect(first).toMatchObject({ cursor: 3, mightHaveMore: true });
    const second = await payloads(emulator, id, `?cursor=${first.cursor}&limit=2`);
    expect(second).toMatchObject({ cursor: 5, mightHaveMore: true });
    const third = await payloads(emulator, id, `?cursor=${second.cursor}`);
    expect(third.payloads).toHaveLength(1);
    expect(third).toMatchObject({ cursor: 6, mightHaveMore: false });
    const values = [...first.payloads, ...second.payloads, ...third.payloads].map(
      (p: Loose) =>
        Object.values(p.changedTablesById[NUMBERS].createdRecordsById as Record<string, Loose>)[0]
          .cellValuesByFieldId[fields.Numbers!.Value!],
    );
    expect(values).toEqual([0, 1, 2, 3, 4]);
    // Nothing new: the same cursor comes back; reading again from 1 still works (payloads stay 7 days).
    expect(await payloads(emulator, id, '?cursor=6')).toEqual({
      payloads: [],
      cursor: 6,
      mightHaveMore: false,
    });
    expect((await payloads(emulator, id)).payloads).toHaveLength(5);
    expect((await listHooks(emulator))[0].cursorForNextPayload).toBe(6);
    for (const query of ['?limit=51', '?limit=0', '?cursor=0', '?cursor=abc', '?cursor=-1', '?offset=3']) {
      const answer = await call(emulator, 'GET', `${HOOKS}/${id}/payloads${query}`);
      expect([query, answer.status, answer.body.error.type]).toEqual([query, 422, 'INVALID_REQUEST_UNKNOWN']);
    }
  });

  it('writes that change nothing, reads and failed writes make no payload', async () => {
    const id = await createHook(emulator, spec());
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, {
      fields: { Title: 'Draft copy' },
    });
    await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`);
    await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Nope: 1 } });
    expect((await payloads(emulator, id)).payloads).toEqual([]);
  });
});

describe('webhooks: filters and includes', () => {
  let emulator: AirtableEmulator;
  let fields: Record<string, Record<string, string>>;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
    fields = await schema(emulator);
  });
  afterEach(() => emulator.close());

  const patchTask = (id: string, cells: Record<string, unknown>) =>
    call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/${id}`, { fields: cells });

  it('recordChangeScope limits payloads to one table', async () => {
    const id = await createHook(emulator, spec({ recordChangeScope: NUMBERS }));
    await patchTask('recTaskCopy000001', { Estimate: 1 });
    expect((await payloads(emulator, id)).payloads).toEqual([]);
    await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers`, { fields: { Name: 'x' } });
    const [payload] = (await payloads(emulator, id)).payloads;
    expect(Object.keys(payload.changedTablesById)).toEqual([NUMBERS]);
  });

  it('a view scope reports records in the view before or after the change, also under changedViewsById', async () => {
    const id = await createHook(emulator, spec({ recordChangeScope: 'viwOpenTasks00001' }));
    const t = fields.Tasks!;
    await patchTask('recTaskReview0001', { Estimate: 7 }); // done: not in the "Open" view
    expect((await payloads(emulator, id)).payloads).toEqual([]);
    await patchTask('recTaskCopy000001', { Done: true }); // leaves the view: reported
    await patchTask('recTaskReview0001', { Done: false }); // enters the view: reported
    const list = (await payloads(emulator, id)).payloads;
    expect(list).toHaveLength(2);
    const changed = {
      changedRecordsById: { recTaskCopy000001: { current: { cellValuesByFieldId: { [t.Done!]: true } } } },
    };
    expect(list[0].changedTablesById).toEqual({
      [TASKS]: { ...changed, changedViewsById: { viwOpenTasks00001: changed } },
    });
    expect(Object.keys(list[1].changedTablesById[TASKS].changedRecordsById)).toEqual(['recTaskReview0001']);
  });

  it('changeTypes keeps only adds, removes or updates', async () => {
    const removes = await createHook(emulator, spec({ changeTypes: ['remove'] }));
    const adds = await createHook(emulator, spec({ changeTypes: ['add'], recordChangeScope: TASKS }));
    await patchTask('recTaskCopy000001', { Estimate: 1 });
    const created = await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'New' } });
    await call(emulator, 'DELETE', `/v0/${BASE_ID}/Tasks/${created.body.id}`);
    const removed = (await payloads(emulator, removes)).payloads;
    expect(removed).toHaveLength(1);
    expect(removed[0].changedTablesById).toEqual({ [TASKS]: { destroyedRecordIds: [created.body.id] } });
    const added = (await payloads(emulator, adds)).payloads;
    expect(added).toHaveLength(1);
    expect(Object.keys(added[0].changedTablesById[TASKS])).toEqual(['createdRecordsById']);
  });

  it('fromSources separates API writes from UI edits', async () => {
    const client = await createHook(emulator, spec({ fromSources: ['client'] }));
    const api = await createHook(emulator, spec({ fromSources: ['publicApi'] }));
    await patchTask('recTaskCopy000001', { Estimate: 1 });
    await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables/Tasks/ui-edit`, {
      updates: [{ id: 'recTaskCopy000001', fields: { Estimate: 2 } }],
    });
    const fromClient = (await payloads(emulator, client)).payloads;
    const fromApi = (await payloads(emulator, api)).payloads;
    expect(fromClient.map((p: Loose) => p.actionMetadata.source)).toEqual(['client']);
    expect(fromApi.map((p: Loose) => p.actionMetadata.source)).toEqual(['publicApi']);
  });

  it('watchDataInFieldIds reports only changes of those fields', async () => {
    const t = fields.Tasks!;
    const id = await createHook(
      emulator,
      spec({ recordChangeScope: TASKS, watchDataInFieldIds: [t.Estimate!] }),
    );
    await patchTask('recTaskCopy000001', { Title: 'Renamed' });
    expect((await payloads(emulator, id)).payloads).toEqual([]);
    await patchTask('recTaskCopy000001', { Title: 'Again', Estimate: 5 });
    const [payload] = (await payloads(emulator, id)).payloads;
    expect(payload.changedTablesById[TASKS].changedRecordsById.recTaskCopy000001).toEqual({
      current: { cellValuesByFieldId: { [t.Estimate!]: 5 } },
    });
  });

  it('includes previous values and unchanged cells of chosen fields, or of all fields', async () => {
    const t = fields.Tasks!;
    const chosen = await createHook(
      emulator,
      spec(
        { recordChangeScope: TASKS },
        { includeCellValuesInFieldIds: [t.Title!, t.Label!], includePreviousCellValues: true },
      ),
    );
    const all = await createHook(
      emulator,
      spec({ recordChangeScope: TASKS }, { includeCellValuesInFieldIds: 'all' }),
    );
    await patchTask('recTaskCopy000001', { Estimate: 6 });
    const [withChosen] = (await payloads(emulator, chosen)).payloads;
    expect(withChosen.changedTablesById[TASKS].changedRecordsById.recTaskCopy000001).toEqual({
      current: { cellValuesByFieldId: { [t.Estimate!]: 6 } },
      previous: { cellValuesByFieldId: { [t.Estimate!]: 3 } },
      unchanged: { cellValuesByFieldId: { [t.Title!]: 'Draft copy', [t.Label!]: 'Draft copy [open]' } },
    });
    const [withAll] = (await payloads(emulator, all)).payloads;
    const change = withAll.changedTablesById[TASKS].changedRecordsById.recTaskCopy000001;
    expect(change.previous).toBeUndefined();
    expect(change.unchanged.cellValuesByFieldId).toMatchObject({
      [t.Title!]: 'Draft copy',
      [t.Due!]: '2025-02-01',
      [t.Done!]: null,
      [t.Label!]: 'Draft copy [open]',
      [t.Number!]: 1,
    });
    expect(change.unchanged.cellValuesByFieldId).not.toHaveProperty(t.Estimate!);
  });

  it('lookups in included cells use the webhook format {valuesByLinkedRecordId, linkedRecordIds}', async () => {
    const p = fields.Projects!;
    const id = await createHook(
      emulator,
      spec({ recordChangeScope: PROJECTS }, { includeCellValuesInFieldIds: [p['Task titles']!] }),
    );
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Projects/recProjWarehous01`, { fields: { Budget: 6000 } });
    const [payload] = (await payloads(emulator, id)).payloads;
    expect(payload.changedTablesById[PROJECTS].changedRecordsById.recProjWarehous01.unchanged).toEqual({
      cellValuesByFieldId: {
        [p['Task titles']!]: {
          valuesByLinkedRecordId: { recTaskShelves001: ['Order shelves'] },
          linkedRecordIds: ['recTaskShelves001'],
        },
      },
    });
  });

  it('dataTypes separate record data, field changes and table metadata', async () => {
    const data = await createHook(emulator, spec());
    const fieldHook = await createHook(
      emulator,
      spec({ dataTypes: ['tableFields'] }, { includePreviousFieldDefinitions: true }),
    );
    const metadata = await createHook(emulator, spec({ dataTypes: ['tableMetadata'] }));
    await patchTask('recTaskCopy000001', { Estimate: 2 });
    const created = await call(emulator, 'POST', `/v0/meta/bases/${BASE_ID}/tables/${TASKS}/fields`, {
      name: 'Priority',
      type: 'number',
      options: { precision: 0 },
    });
    await call(emulator, 'PATCH', `/v0/meta/bases/${BASE_ID}/tables/${TASKS}/fields/${created.body.id}`, {
      name: 'Urgency',
    });
    await call(emulator, 'PATCH', `/v0/meta/bases/${BASE_ID}/tables/${TASKS}`, {
      name: 'Todo',
      description: 'All of it',
    });

    expect((await payloads(emulator, data)).payloads).toHaveLength(1);
    const fieldPayloads = (await payloads(emulator, fieldHook)).payloads;
    expect(fieldPayloads.map((p: Loose) => p.changedTablesById[TASKS])).toEqual([
      { createdFieldsById: { [created.body.id]: { name: 'Priority', type: 'number' } } },
      {
        changedFieldsById: {
          [created.body.id]: { current: { name: 'Urgency' }, previous: { name: 'Priority' } },
        },
      },
    ]);
    const metadataPayloads = (await payloads(emulator, metadata)).payloads;
    expect(metadataPayloads).toHaveLength(1);
    expect(metadataPayloads[0].changedTablesById).toEqual({
      [TASKS]: {
        changedMetadata: {
          current: { name: 'Todo', description: 'All of it' },
          previous: { name: 'Tasks', description: null },
        },
      },
    });
  });

  it('a typecast that adds a select option is a field change too', async () => {
    const id = await createHook(
      emulator,
      spec({ dataTypes: ['tableData', 'tableFields'], recordChangeScope: PROJECTS }),
    );
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Projects/recProjEmpty00001`, {
      fields: { Status: 'Archived' },
      typecast: true,
    });
    const [payload] = (await payloads(emulator, id)).payloads;
    const change = payload.changedTablesById[PROJECTS];
    expect(
      change.changedFieldsById[fields.Projects!.Status!].current.options.choices.map((c: Loose) => c.name),
    ).toEqual(['Active', 'Done', 'Paused', 'Archived']);
    expect(
      change.changedRecordsById.recProjEmpty00001.current.cellValuesByFieldId[fields.Projects!.Status!],
    ).toMatchObject({
      name: 'Archived',
    });
  });
});

describe('webhooks: UI edits and schema changes', () => {
  let emulator: AirtableEmulator;
  let fields: Record<string, Record<string, string>>;
  beforeEach(async () => {
    emulator = await startConformanceEmulator();
    fields = await schema(emulator);
  });
  afterEach(() => emulator.close());

  it('reports a UI edit of many records as one client action', async () => {
    const id = await createHook(emulator, spec({ recordChangeScope: TASKS }));
    const edit = await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables/Tasks/ui-edit`, {
      creates: Array.from({ length: 12 }, (_, i) => ({ fields: { Title: `Pasted ${i}` } })),
      updates: [{ id: 'recTaskCopy000001', fields: { Estimate: 10 } }],
      deletes: ['recTaskShelves001'],
      user: { email: 'grace@example.com', name: 'Grace' },
    });
    expect(edit.status).toBe(200);
    expect(edit.body.created).toHaveLength(12);
    expect(edit.body.updated[0].fields.Estimate).toBe(10);
    expect(edit.body.deleted).toEqual(['recTaskShelves001']);
    const list = (await payloads(emulator, id)).payloads;
    expect(list).toHaveLength(1);
    expect(list[0].actionMetadata).toEqual({
      source: 'client',
      sourceMetadata: {
        user: {
          id: expect.stringMatching(/^usr/),
          email: 'grace@example.com',
          permissionLevel: 'create',
          name: 'Grace',
        },
      },
    });
    const change = list[0].changedTablesById[TASKS];
    expect(Object.keys(change.createdRecordsById)).toHaveLength(12);
    expect(change.changedRecordsById.recTaskCopy000001.current.cellValuesByFieldId).toEqual({
      [fields.Tasks!.Estimate!]: 10,
    });
    expect(change.destroyedRecordIds).toEqual(['recTaskShelves001']);
    // The edit applies wholly or not at all.
    const bad = await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables/Tasks/ui-edit`, {
      creates: [{ fields: { Title: 'ok' } }],
      updates: [{ id: 'recNoSuchRecord01', fields: { Title: 'x' } }],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.type).toBe('ROW_DOES_NOT_EXIST');
    expect((await payloads(emulator, id)).payloads).toHaveLength(1);
    expect(emulator.listRecords(BASE_ID, 'Tasks').some((r) => r.fields.Title === 'ok')).toBe(false);
  });

  it('the programmatic uiEdit can name another source', async () => {
    const id = await createHook(emulator, spec({ fromSources: ['automation'] }));
    const result = emulator.uiEdit(BASE_ID, 'Numbers', {
      source: 'automation',
      sourceMetadata: { automation: { id: 'wflAutomation0001' } },
      creates: [{ fields: { Name: 'auto', Value: 1 } }],
    });
    expect(result.created[0]!.fields).toMatchObject({ Name: 'auto', Value: 1 });
    const [payload] = (await payloads(emulator, id)).payloads;
    expect(payload.actionMetadata).toEqual({
      source: 'automation',
      sourceMetadata: { automation: { id: 'wflAutomation0001' } },
    });
  });

  it('reports fields created, retyped and deleted, and tables created, renamed and deleted', async () => {
    const id = await createHook(
      emulator,
      spec(
        { dataTypes: ['tableData', 'tableFields', 'tableMetadata'] },
        { includePreviousFieldDefinitions: true },
      ),
    );
    const n = fields.Numbers!;
    // Retype from the UI: Value (number) becomes text; its cells are converted and reported.
    const retyped = await call(
      emulator,
      'PATCH',
      `/__emulator/bases/${BASE_ID}/tables/Numbers/fields/Value`,
      {
        type: 'singleLineText',
      },
    );
    expect(retyped.status).toBe(200);
    expect(retyped.body).toMatchObject({ id: n.Value, type: 'singleLineText' });
    expect(emulator.listRecords(BASE_ID, 'Numbers')[7]!.fields.Value).toBe('7');
    // Rename from the UI, delete a field from the UI.
    await call(emulator, 'PATCH', `/__emulator/bases/${BASE_ID}/tables/Numbers/fields/${n.Group}`, {
      name: 'Team',
    });
    const deleted = await call(emulator, 'DELETE', `/__emulator/bases/${BASE_ID}/tables/Numbers/fields/Team`);
    expect(deleted.body).toEqual({ id: n.Group, deleted: true });
    // A table created through the meta API, then deleted from the UI.
    const table = await call(emulator, 'POST', `/v0/meta/bases/${BASE_ID}/tables`, {
      name: 'Scratch',
      fields: [{ name: 'Name', type: 'singleLineText' }],
    });
    await call(emulator, 'PATCH', `/__emulator/bases/${BASE_ID}/tables/Scratch`, { name: 'Scratch 2' });
    const dropped = await call(emulator, 'DELETE', `/__emulator/bases/${BASE_ID}/tables/${table.body.id}`);
    expect(dropped.body).toEqual({ id: table.body.id, deleted: true });

    const list = (await payloads(emulator, id, '?limit=50')).payloads;
    expect(list.every((p: Loose) => p.actionMetadata)).toBe(true);
    // The retype is one action: the field change and 250 converted cells, split over 3 payloads.
    const retype = list.filter((p: Loose) => p.baseTransactionNumber === list[0].baseTransactionNumber);
    expect(retype).toHaveLength(3);
    expect(new Set(retype.map((p: Loose) => p.timestamp)).size).toBe(1);
    expect(retype[0].changedTablesById[NUMBERS].changedFieldsById[n.Value!]).toEqual({
      current: { type: 'singleLineText', options: null },
      previous: { type: 'number', options: { precision: 0 } },
    });
    const converted = Object.assign(
      {},
      ...list.map((p: Loose) => p.changedTablesById?.[NUMBERS]?.changedRecordsById ?? {}),
    ) as Record<string, Loose>;
    expect(Object.keys(converted)).toHaveLength(250);
    expect(Object.values(converted)[7].current.cellValuesByFieldId).toEqual({ [n.Value!]: '7' });
    expect(retype[1].changedTablesById[NUMBERS].changedFieldsById).toBeUndefined();
    const rest = list.filter((p: Loose) => !retype.includes(p));
    expect(rest.map((p: Loose) => p.actionMetadata.source)).toEqual([
      'client',
      'client',
      'publicApi',
      'client',
      'client',
    ]);
    expect(rest[0].changedTablesById[NUMBERS].changedFieldsById[n.Group!]).toEqual({
      current: { name: 'Team' },
      previous: { name: 'Group' },
    });
    expect(rest[1].changedTablesById[NUMBERS]).toEqual({ destroyedFieldIds: [n.Group] });
    expect(rest[2].createdTablesById).toEqual({
      [table.body.id]: {
        metadata: { name: 'Scratch', description: null },
        fieldsById: { [table.body.fields[0].id]: { name: 'Name', type: 'singleLineText' } },
      },
    });
    expect(rest[3].changedTablesById[table.body.id].changedMetadata).toEqual({
      current: { name: 'Scratch 2' },
      previous: { name: 'Scratch' },
    });
    expect(rest[4].destroyedTableIds).toEqual([table.body.id]);
    expect((await call(emulator, 'GET', `/v0/meta/bases/${BASE_ID}/tables`)).body.tables).toHaveLength(3);
  });

  it('deleting a field or table a hook watches sends INVALID_FILTERS and disables the hook', async () => {
    const t = fields.Tasks!;
    const watching = await createHook(emulator, spec({ watchDataInFieldIds: [t.Notes!] }));
    const scoped = await createHook(emulator, spec({ recordChangeScope: NUMBERS }));
    const other = await createHook(emulator, spec({ recordChangeScope: PROJECTS }));
    emulator.uiDeleteField(BASE_ID, 'Tasks', 'Notes');
    emulator.uiDeleteTable(BASE_ID, 'Numbers');
    expect((await payloads(emulator, watching)).payloads).toEqual([{ error: true, code: 'INVALID_FILTERS' }]);
    const scopedPayloads = (await payloads(emulator, scoped)).payloads;
    expect(scopedPayloads.at(-1)).toEqual({ error: true, code: 'INVALID_FILTERS' });
    const hooks = Object.fromEntries((await listHooks(emulator)).map((h) => [h.id, h]));
    expect(hooks[watching].isHookEnabled).toBe(false);
    expect(hooks[scoped].isHookEnabled).toBe(false);
    expect(hooks[other].isHookEnabled).toBe(true);
  });

  it('creates tables and fields from the UI, and retypes text into a select', async () => {
    const id = await createHook(emulator, spec({ dataTypes: ['tableData', 'tableFields', 'tableMetadata'] }));
    const table = await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables`, {
      name: 'Inbox',
      fields: [{ name: 'Subject', type: 'singleLineText' }],
      user: { email: 'ada@example.com' },
    });
    expect(table.status).toBe(200);
    const field = await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables/Inbox/fields`, {
      name: 'Body',
      type: 'multilineText',
    });
    expect(field.body).toMatchObject({ name: 'Body', type: 'multilineText' });
    const retyped = emulator.uiUpdateField(BASE_ID, 'Tasks', 'Notes', { type: 'singleSelect' });
    expect((retyped.options as Loose).choices.map((c: Loose) => c.name)).toEqual(['Call the supplier']);
    expect(emulator.listRecords(BASE_ID, 'Tasks')[2]!.fields.Notes).toBe('Call the supplier');
    const list = (await payloads(emulator, id)).payloads;
    expect(list.map((p: Loose) => p.actionMetadata.source)).toEqual(['client', 'client', 'client']);
    expect(list[0].actionMetadata.sourceMetadata.user.email).toBe('ada@example.com');
    expect(Object.keys(list[0].createdTablesById)).toEqual([table.body.id]);
    expect(list[1].changedTablesById[table.body.id].createdFieldsById).toEqual({
      [field.body.id]: { name: 'Body', type: 'multilineText' },
    });
    const change = list[2].changedTablesById[TASKS];
    expect(change.changedFieldsById[fields.Tasks!.Notes!].current.type).toBe('singleSelect');
    expect(change.changedRecordsById.recTaskShelves001.current.cellValuesByFieldId).toEqual({
      [fields.Tasks!.Notes!]: {
        id: expect.stringMatching(/^sel/),
        name: 'Call the supplier',
        color: expect.any(String),
      },
    });
    const clock = await call(emulator, 'GET', '/__emulator/clock');
    expect(clock.body).toEqual({ now: expect.stringMatching(ISO), offsetMs: 0 });
  });

  it('refuses what the UI refuses', async () => {
    const primary = await call(emulator, 'DELETE', `/__emulator/bases/${BASE_ID}/tables/Tasks/fields/Title`);
    expect(primary.status).toBe(422);
    const unknown = await call(emulator, 'DELETE', `/__emulator/bases/${BASE_ID}/tables/Tasks/fields/Nope`);
    expect(unknown.status).toBe(404);
    const badEdit = await call(emulator, 'POST', `/__emulator/bases/${BASE_ID}/tables/Tasks/ui-edit`, {
      creates: 'x',
    });
    expect(badEdit.status).toBe(400);
    const primaryType = await call(
      emulator,
      'PATCH',
      `/__emulator/bases/${BASE_ID}/tables/Tasks/fields/Title`,
      {
        type: 'checkbox',
      },
    );
    expect(primaryType.status).toBe(422);
  });
});

describe('webhooks: splitting, expiry, pruning and errors', () => {
  let emulator: AirtableEmulator;
  afterEach(() => emulator.close());

  it('splits one action over payloads of at most N records that share timestamp and transaction', async () => {
    emulator = await startConformanceEmulator({ webhooks: { maxRecordsPerPayload: 3 } });
    const id = await createHook(emulator, spec({ recordChangeScope: NUMBERS }));
    emulator.uiEdit(BASE_ID, 'Numbers', {
      creates: Array.from({ length: 8 }, (_, i) => ({ fields: { Name: `s${i}` } })),
    });
    await call(emulator, 'POST', `/v0/${BASE_ID}/Numbers`, { fields: { Name: 'after' } });
    const list = (await payloads(emulator, id)).payloads;
    expect(list).toHaveLength(4);
    const split = list.slice(0, 3);
    expect(
      split.map((p: Loose) => Object.keys(p.changedTablesById[NUMBERS].createdRecordsById).length),
    ).toEqual([3, 3, 2]);
    expect(new Set(split.map((p: Loose) => p.timestamp)).size).toBe(1);
    expect(new Set(split.map((p: Loose) => p.baseTransactionNumber)).size).toBe(1);
    expect(new Set(split.map((p: Loose) => JSON.stringify(p.actionMetadata))).size).toBe(1);
    expect(list[3].baseTransactionNumber).toBe(split[0].baseTransactionNumber + 1);
    const ids = split.flatMap((p: Loose) => Object.keys(p.changedTablesById[NUMBERS].createdRecordsById));
    expect(new Set(ids).size).toBe(8);
    // The knob can be changed while running.
    const put = await call(emulator, 'PUT', '/__emulator/webhook-options', { maxRecordsPerPayload: 100 });
    expect(put.body).toEqual({ maxRecordsPerPayload: 100, sendPings: true });
  });

  it('expires a hook after 7 days unless refreshed or read; an expired hook stays listed 7 more days', async () => {
    emulator = await startConformanceEmulator();
    const fields = await schema(emulator);
    const id = await createHook(emulator, spec());
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 1 } });
    // Reading payloads extends the life to now + 7 days.
    emulator.advanceTime(6 * DAY);
    await payloads(emulator, id);
    const extended = Date.parse((await listHooks(emulator))[0].expirationTime);
    expect(Math.abs(extended - (emulator.now() + 7 * DAY))).toBeLessThan(5_000);
    // A change 4 days later, then let it lapse (through the control endpoint this time).
    emulator.advanceTime(4 * DAY);
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 5 } });
    const advanced = await call(emulator, 'POST', '/__emulator/clock/advance', { ms: 3 * DAY + 1000 });
    expect(advanced.status).toBe(200);
    expect(advanced.body.offsetMs).toBe(13 * DAY + 1000);
    const [expired] = await listHooks(emulator);
    expect(expired).toMatchObject({ id, isHookEnabled: false, areNotificationsEnabled: false });
    expect(Date.parse(expired.expirationTime)).toBeLessThan(emulator.now());
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 2 } });
    const refresh = await call(emulator, 'POST', `${HOOKS}/${id}/refresh`);
    expect(refresh.status).toBe(422);
    expect(refresh.body.error.type).toBe('CANNOT_REFRESH_DISABLED_WEBHOOK');
    // Its kept payloads can still be read (no new one was made), and reading does not revive it.
    const read = await payloads(emulator, id, '?cursor=2');
    expect(read).toMatchObject({ cursor: 3, mightHaveMore: false });
    expect(read.payloads).toHaveLength(1);
    expect(Object.values(read.payloads[0].changedTablesById[TASKS].changedRecordsById)).toEqual([
      { current: { cellValuesByFieldId: { [fields.Tasks!.Estimate!]: 5 } } },
    ]);
    expect((await listHooks(emulator))[0].isHookEnabled).toBe(false);
    // 7 days after expiring, it is gone.
    emulator.advanceTime(7 * DAY);
    expect(await listHooks(emulator)).toEqual([]);
    expect((await call(emulator, 'GET', `${HOOKS}/${id}/payloads`)).status).toBe(404);
  });

  it('prunes payloads after 7 days, read or not; the answer cursor shows what was lost', async () => {
    emulator = await startConformanceEmulator();
    const id = await createHook(emulator, spec({ recordChangeScope: NUMBERS }));
    const write = (name: string) =>
      call(emulator, 'POST', `/v0/${BASE_ID}/Numbers`, { fields: { Name: name } });
    await write('a'); // cursor 1, day 0
    await write('b'); // cursor 2, day 0
    emulator.advanceTime(4 * DAY);
    await call(emulator, 'POST', `${HOOKS}/${id}/refresh`);
    await write('c'); // cursor 3, day 4
    emulator.advanceTime(4 * DAY); // day 8: a and b are gone
    const answer = await payloads(emulator, id, '?cursor=1');
    expect(answer.payloads).toHaveLength(1);
    expect(answer).toMatchObject({ cursor: 4, mightHaveMore: false });
    // Asked from 1, got 1 payload ending before 4: it was number 3, so 1 and 2 were lost.
    expect(answer.cursor - answer.payloads.length).toBeGreaterThan(1);
    // A cursor inside the kept range loses nothing.
    const fine = await payloads(emulator, id, '?cursor=3');
    expect(fine.cursor - fine.payloads.length).toBe(3);
    // With every payload pruned, nothing comes back and the cursor is echoed (as for "nothing new"),
    // but cursorForNextPayload is above it: payloads 2 and 3 were lost.
    emulator.advanceTime(5 * DAY); // day 13, listed on day 8: still alive
    const empty = await payloads(emulator, id, '?cursor=2');
    expect(empty).toEqual({ payloads: [], cursor: 2, mightHaveMore: false });
    expect((await listHooks(emulator))[0].cursorForNextPayload).toBe(4);
    expect(emulator.webhooks(BASE_ID)[0]!.payloads).toEqual([]);
    // The next payload is number 4; asking from 2 returns it, and shows the gap.
    await write('d');
    const after = await payloads(emulator, id, '?cursor=2');
    expect(after).toMatchObject({ cursor: 5, mightHaveMore: false });
    expect(after.cursor - after.payloads.length).toBe(4);
  });

  it('error payloads from the control endpoint disable the hook (INTERNAL_ERROR does not by default)', async () => {
    emulator = await startConformanceEmulator();
    const id = await createHook(emulator, spec());
    const internal = await call(emulator, 'POST', `/__emulator/webhooks/${BASE_ID}/${id}/error`, {
      code: 'INTERNAL_ERROR',
    });
    expect(internal.status).toBe(200);
    expect(internal.body.webhook.isHookEnabled).toBe(true);
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 1 } });
    const injected = await call(emulator, 'POST', `/__emulator/webhooks/${BASE_ID}/${id}/error`, {
      code: 'INVALID_HOOK',
    });
    expect(injected.body.webhook).toMatchObject({ id, isHookEnabled: false, cursorForNextPayload: 4 });
    await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 2 } });
    const list = (await payloads(emulator, id)).payloads;
    expect(list).toHaveLength(3);
    expect(list[0]).toEqual({ error: true, code: 'INTERNAL_ERROR' });
    expect(list[1].changedTablesById).toBeDefined();
    expect(list[2]).toEqual({ error: true, code: 'INVALID_HOOK' });
    expect((await call(emulator, 'POST', `${HOOKS}/${id}/refresh`)).status).toBe(422);
    expect(
      (await call(emulator, 'POST', `/__emulator/webhooks/${BASE_ID}/${id}/error`, { code: 'BROKEN' }))
        .status,
    ).toBe(400);
    expect(
      (
        await call(emulator, 'POST', `/__emulator/webhooks/${BASE_ID}/achNoSuchHook0001/error`, {
          code: 'INVALID_HOOK',
        })
      ).status,
    ).toBe(404);
    // The programmatic fault does the same.
    const second = await createHook(emulator, spec());
    expect(emulator.injectWebhookError(BASE_ID, second, 'INVALID_FILTERS').isHookEnabled).toBe(false);
    const described = (await call(emulator, 'GET', `/__emulator/webhooks/${BASE_ID}`)).body.webhooks;
    expect(described.map((h: Loose) => h.payloads.length)).toEqual([3, 1]);
  });
});

describe('webhooks: limits, pings and persistence', () => {
  let emulator: AirtableEmulator;
  afterEach(() => emulator.close());

  it('webhook calls count toward the base limit like any request', async () => {
    emulator = await startConformanceEmulator({ limits: { perBasePerSecond: 5, penaltyMs: 60_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(emulator, 'GET', HOOKS)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    // The base is in its penalty for records too.
    expect((await call(emulator, 'GET', `/v0/${BASE_ID}/Tasks`)).status).toBe(429);
    expect(
      emulator.requestLog.filter((e) => e.path.startsWith('/v0/bases/')).every((e) => e.baseId === BASE_ID),
    ).toBe(true);
  });

  it('targeted faults can aim at webhook calls', async () => {
    emulator = await startConformanceEmulator({ faults: { rules: [{ operation: 'webhook', status: 503 }] } });
    expect((await call(emulator, 'GET', HOOKS)).status).toBe(503);
    expect((await call(emulator, 'GET', HOOKS)).status).toBe(200);
  });

  it('pings the notification URL with a MAC of the body', async () => {
    const received: Array<{ body: string; mac: string | undefined }> = [];
    let ping: (() => void) | undefined;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, mac: req.headers['x-airtable-content-mac'] as string | undefined });
        res.writeHead(204).end();
        ping?.();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      emulator = await startConformanceEmulator();
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const created = await call(emulator, 'POST', HOOKS, { notificationUrl: url, specification: spec() });
      const pinged = new Promise<void>((resolve) => (ping = resolve));
      await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 1 } });
      await pinged;
      expect(received).toHaveLength(1);
      const body = JSON.parse(received[0]!.body);
      expect(body).toEqual({
        base: { id: BASE_ID },
        webhook: { id: created.body.id },
        timestamp: expect.stringMatching(ISO),
      });
      const mac = createHmac('sha256', Buffer.from(created.body.macSecretBase64, 'base64'))
        .update(received[0]!.body)
        .digest('hex');
      expect(received[0]!.mac).toBe(`hmac-sha256=${mac}`);
      let hook: Loose;
      for (let i = 0; i < 50 && !hook?.lastNotificationResult; i++) {
        hook = (await listHooks(emulator))[0];
        if (!hook.lastNotificationResult) await new Promise((r) => setTimeout(r, 20));
      }
      expect(hook).toMatchObject({
        areNotificationsEnabled: true,
        lastSuccessfulNotificationTime: expect.stringMatching(ISO),
        lastNotificationResult: { success: true, retryNumber: 0, durationMs: expect.any(Number) },
      });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps webhooks, payloads and the clock in the state file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airtable-webhooks-'));
    const persistPath = join(dir, 'state.json');
    try {
      emulator = await startConformanceEmulator({ persistPath, seed: conformanceSeed() });
      const id = await createHook(emulator, spec({ recordChangeScope: TASKS }));
      await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 1 } });
      emulator.advanceTime(DAY);
      await emulator.close();
      emulator = await startConformanceEmulator({ persistPath });
      expect(emulator.now() - Date.now()).toBeGreaterThan(DAY - 60_000);
      expect((await listHooks(emulator)).map((h) => h.id)).toEqual([id]);
      expect((await payloads(emulator, id)).payloads).toHaveLength(1);
      await call(emulator, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 2 } });
      const list = (await payloads(emulator, id)).payloads;
      expect(list).toHaveLength(2);
      expect(list[1].baseTransactionNumber).toBeGreaterThan(list[0].baseTransactionNumber);
    } finally {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
