import type { AirtableTableSchema } from '../../airtable/meta';
import type { ChangeSetStepInput } from '../../domain/change-sets/model';
import { planChangeSet, valueProblem } from '../../domain/change-sets/plan';
import { matchCreatedRecords, sameCell } from '../../domain/change-sets/reconcile';

const schema: AirtableTableSchema[] = [
  {
    id: 'tblTasks000000001',
    name: 'Tasks',
    primaryFieldId: 'fldTitle000000001',
    views: [],
    fields: [
      { id: 'fldTitle000000001', name: 'Title', type: 'singleLineText' },
      {
        id: 'fldState000000001',
        name: 'State',
        type: 'singleSelect',
        options: { choices: [{ name: 'Open' }] },
      },
      {
        id: 'fldTags0000000001',
        name: 'Tags',
        type: 'multipleSelects',
        options: { choices: [{ name: 'a' }] },
      },
      { id: 'fldDue00000000001', name: 'Due', type: 'date' },
      { id: 'fldHours000000001', name: 'Hours', type: 'number' },
      { id: 'fldDone000000001x', name: 'Done', type: 'checkbox' },
      {
        id: 'fldOwner00000001x',
        name: 'Owner',
        type: 'multipleRecordLinks',
        options: { linkedTableId: 'tblPeople00000001' },
      },
      { id: 'fldFiles00000001x', name: 'Files', type: 'multipleAttachments' },
      { id: 'fldNum0000000001x', name: 'Number', type: 'autoNumber' },
      { id: 'fldCheck00000001x', name: 'Checked', type: 'checkbox' },
    ],
  },
];

const REC = 'recAAAAAAAAAAAAAA';

describe('planChangeSet', () => {
  const plan = (steps: ChangeSetStepInput[]) => planChangeSet(steps, schema);

  it('resolves tables and fields by name or id and keys record fields by name', () => {
    const { plan: planned, issues } = plan([
      {
        table: 'tblTasks000000001',
        action: 'create',
        records: [{ fields: { fldTitle000000001: 'x', Hours: 2 } }],
      },
    ]);
    expect(issues).toEqual([]);
    expect(planned[0]).toEqual({
      table: 'Tasks',
      tableId: 'tblTasks000000001',
      action: 'create',
      typecast: false,
      records: [{ fields: { Title: 'x', Hours: 2 } }],
    });
  });

  it('refuses computed fields even with typecast, and wrong values only without it', () => {
    const strict = plan([
      { table: 'Tasks', action: 'create', records: [{ fields: { Number: 1, Hours: '2', State: 'New' } }] },
    ]);
    expect(strict.issues.map((i) => i.field)).toEqual(['Number', 'Hours', 'State']);
    const loose = plan([
      {
        table: 'Tasks',
        action: 'create',
        typecast: true,
        records: [{ fields: { Number: 1, Hours: '2', State: 'New' } }],
      },
    ]);
    expect(loose.issues.map((i) => i.field)).toEqual(['Number']);
  });

  it('checks ids: well-formed, once per step, not after an earlier delete; and collects what must exist', () => {
    const { issues, references } = plan([
      { table: 'Tasks', action: 'update', records: [{ id: 'rec1', fields: { Done: true } }] },
      { table: 'Tasks', action: 'delete', records: [{ id: REC }, { id: REC }] },
      { table: 'Tasks', action: 'create', records: [{ fields: { Owner: [REC.replace('A', 'B')] } }] },
      { table: 'Tasks', action: 'update', records: [{ id: REC, fields: { Done: true } }] },
    ]);
    expect(issues.map((i) => [i.step, i.record, i.message])).toEqual([
      [0, 0, "An update needs the record's id (rec + 14 characters)"],
      [1, 1, `Record ${REC} appears twice in this step`],
      [3, 0, `Record ${REC} is deleted by step 1`],
    ]);
    expect(references).toEqual([
      { tableId: 'tblTasks000000001', recordId: REC, step: 1, record: 0 },
      { tableId: 'tblPeople00000001', recordId: 'recBAAAAAAAAAAAAA', step: 2, record: 0, field: 'Owner' },
    ]);
  });

  it('checks merge fields: count, type, and a value in every record', () => {
    const { issues } = plan([
      {
        table: 'Tasks',
        action: 'upsert',
        fieldsToMergeOn: ['Title', 'Done'],
        records: [{ fields: { Hours: 1 } }],
      },
      {
        table: 'Tasks',
        action: 'upsert',
        fieldsToMergeOn: ['Title', 'Hours', 'Due', 'State'],
        records: [{ fields: {} }],
      },
      { table: 'Tasks', action: 'create', fieldsToMergeOn: ['Title'], records: [{ fields: {} }] },
    ]);
    expect(issues.map((i) => i.message)).toEqual([
      'Field "Done" (checkbox) cannot be a merge field: use text, long text, number, select or date fields',
      'An upsert record needs a value for merge field "Title"',
      'An upsert needs 1 to 3 fieldsToMergeOn',
      'An upsert record needs a value for merge field "Title"',
      'An upsert record needs a value for merge field "Hours"',
      'An upsert record needs a value for merge field "Due"',
      'An upsert record needs a value for merge field "State"',
      'fieldsToMergeOn belongs to upsert steps only',
    ]);
  });

  it('limits the size of a change set', () => {
    const records = Array.from({ length: 10_001 }, () => ({ fields: { Title: 'x' } }));
    expect(plan([{ table: 'Tasks', action: 'create', records }]).issues[0]!.message).toContain(
      'at most 10000 records',
    );
    expect(plan([]).issues[0]!.message).toBe('A change set needs at least one step');
  });
});

describe('valueProblem', () => {
  const field = (type: string, options?: Record<string, unknown>) => ({
    id: 'fld',
    name: 'F',
    type,
    options,
  });
  it.each([
    ['singleLineText', 'text', 5],
    ['number', 1.5, '1.5'],
    ['checkbox', false, 'yes'],
    ['date', '2026-02-28', '2026-02-30x'],
    ['dateTime', '2026-02-28T10:00:00Z', 'tomorrow'],
    ['multipleRecordLinks', [REC], ['Acme']],
    ['multipleAttachments', [{ url: 'https://x/y.png' }], ['https://x/y.png']],
    ['rating', 3, 7],
  ])('%s accepts %j and refuses %j', (type, good, bad) => {
    expect(valueProblem(field(type), good)).toBeUndefined();
    expect(valueProblem(field(type), bad)).toEqual(expect.any(String));
    expect(valueProblem(field(type), null)).toBeUndefined();
  });
});

describe('reconciling a create with an unknown outcome', () => {
  const types = new Map(schema[0]!.fields.map((f) => [f.name, f]));
  const candidate = (id: string, fields: Record<string, unknown>) => ({
    id,
    createdTime: '2026-11-23T10:00:00.000Z',
    fields,
  });

  it('matches each sent record to a distinct stored one, as Airtable normalizes values', () => {
    const sent = [
      { fields: { Title: 'Same', Due: '2026-01-05', Tags: ['a', 'b'], Done: false } },
      { fields: { Title: 'Same', Due: '2026-01-05', Tags: ['b', 'a'], Done: false } },
    ];
    const stored = [
      candidate('recOther', { Title: 'Same', Due: '2026-01-06' }),
      candidate('recFirst', { Title: 'Same', Due: '2026-01-05', Tags: ['b', 'a'] }),
      candidate('recSecond', { Title: 'Same', Due: '2026-01-05', Tags: ['a', 'b'] }),
    ];
    expect(matchCreatedRecords(sent, stored, types, { typecast: false })).toEqual({
      ids: ['recFirst', 'recSecond'],
      unmatched: 0,
    });
  });

  it('reports no match when the request did not land', () => {
    const sent = [{ fields: { Title: 'Missing', Hours: 3 } }];
    expect(
      matchCreatedRecords(sent, [candidate('recX', { Title: 'Missing', Hours: 4 })], types, {
        typecast: false,
      }),
    ).toBeUndefined();
  });

  it('compares typecast values by their text', () => {
    expect(sameCell('number', '5', 5, true)).toBe(true);
    expect(sameCell('singleLineText', 'a', 'b', true)).toBe(false);
    expect(sameCell('checkbox', false, undefined, false)).toBe(true);
    expect(
      sameCell(
        'multipleAttachments',
        [{ url: 'https://a/b.png' }],
        [{ id: 'att1', url: 'https://cdn/b.png' }],
        false,
      ),
    ).toBe(true);
  });
});
