import fc from 'fast-check';
import type { WebhookPayload } from '../../airtable/webhooks';
import { collectChanges, restCell } from '../../domain/sync-runs/changes';

const payload = (changes: Partial<WebhookPayload>, at = '2026-01-01T00:00:00.000Z'): WebhookPayload => ({
  timestamp: at,
  baseTransactionNumber: 1,
  payloadFormat: 'v0',
  ...changes,
});

describe('folding payloads into their net effect', () => {
  it('a record created then changed is one upsert with its latest cells; changed then destroyed is a delete', () => {
    const changes = collectChanges(
      [
        payload({
          changedTablesById: {
            tbl1: {
              createdRecordsById: { recA: { createdTime: 't', cellValuesByFieldId: { f1: 1, f2: 'x' } } },
            },
          },
        }),
        payload({
          changedTablesById: {
            tbl1: { changedRecordsById: { recA: { current: { cellValuesByFieldId: { f1: 2 } } } } },
          },
        }),
        payload({
          changedTablesById: {
            tbl1: { changedRecordsById: { recB: { current: { cellValuesByFieldId: { f2: 'y' } } } } },
          },
        }),
        payload({ changedTablesById: { tbl1: { destroyedRecordIds: ['recB'] } } }),
        payload({
          changedTablesById: {
            tbl1: {
              changedRecordsById: {
                recC: {
                  current: { cellValuesByFieldId: { f1: null } },
                  unchanged: { cellValuesByFieldId: { f3: 'u' } },
                },
              },
            },
          },
        }),
      ],
      () => true,
    );
    const table = changes.tables.get('tbl1')!;
    expect([...table.upserts.values()]).toEqual([
      { id: 'recA', createdTime: 't', cells: { f1: 2, f2: 'x' } },
    ]);
    expect(Object.fromEntries(table.updates)).toEqual({ recC: { f1: null, f3: 'u' } });
    expect([...table.deletes]).toEqual(['recB']);
    expect(changes.schemaChanged.size).toBe(0);
  });

  it('schema changes name the tables to read again, and a retype forgets the field’s earlier cells', () => {
    const changes = collectChanges(
      [
        payload({
          changedTablesById: {
            tbl1: {
              changedRecordsById: { recA: { current: { cellValuesByFieldId: { f1: 5, f2: 'keep' } } } },
            },
          },
        }),
        payload({
          changedTablesById: { tbl1: { changedFieldsById: { f1: { current: { type: 'singleLineText' } } } } },
        }),
        payload({
          changedTablesById: { tbl2: { changedFieldsById: { f9: { current: { name: 'Renamed' } } } } },
        }),
        payload({ createdTablesById: { tbl3: { metadata: { name: 'New' } } } }),
        payload({ destroyedTableIds: ['tbl4'] }),
        payload({ createdTablesById: { tblOut: {} } }),
      ],
      (id) => id !== 'tblOut',
    );
    expect(Object.fromEntries(changes.tables.get('tbl1')!.updates)).toEqual({ recA: { f2: 'keep' } });
    expect([...changes.needsCopy].sort()).toEqual(['tbl1', 'tbl3']);
    expect([...changes.schemaChanged].sort()).toEqual(['tbl1', 'tbl2', 'tbl3', 'tbl4']);
    expect([...changes.tablesCreated]).toEqual(['tbl3']);
  });

  it('an error payload marks the hook unusable', () => {
    expect(
      collectChanges([{ error: true, code: 'INVALID_HOOK' } as unknown as WebhookPayload], () => true).error,
    ).toBe('INVALID_HOOK');
  });

  it('applying the net effect equals applying every payload in turn (property)', () => {
    type Op = { kind: 'create' | 'change' | 'destroy'; record: number; field: number; value: number };
    const ops = fc.array(
      fc.record({
        kind: fc.constantFrom<'create' | 'change' | 'destroy'>('create', 'change', 'destroy'),
        record: fc.integer({ min: 0, max: 4 }),
        field: fc.integer({ min: 0, max: 2 }),
        value: fc.integer({ min: 0, max: 9 }),
      }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(ops, (list: Op[]) => {
        // A base where records 0–1 exist before the window.
        const before = new Map<string, Record<string, number>>([
          ['rec0', { f0: 0 }],
          ['rec1', { f1: 1 }],
        ]);
        const live = new Map([...before].map(([k, v]) => [k, { ...v }]));
        const destroyed = new Set<string>();
        const payloads: WebhookPayload[] = [];
        for (const op of list) {
          const id = `rec${op.record}`;
          const cells = { [`f${op.field}`]: op.value };
          if (op.kind === 'create') {
            if (live.has(id) || destroyed.has(id)) continue; // ids are never reused
            live.set(id, { ...cells });
            payloads.push(
              payload({
                changedTablesById: {
                  t: { createdRecordsById: { [id]: { createdTime: 'c', cellValuesByFieldId: cells } } },
                },
              }),
            );
          } else if (op.kind === 'change') {
            if (!live.has(id)) continue;
            Object.assign(live.get(id)!, cells);
            payloads.push(
              payload({
                changedTablesById: {
                  t: { changedRecordsById: { [id]: { current: { cellValuesByFieldId: cells } } } },
                },
              }),
            );
          } else {
            if (!live.has(id)) continue;
            live.delete(id);
            destroyed.add(id);
            payloads.push(payload({ changedTablesById: { t: { destroyedRecordIds: [id] } } }));
          }
        }
        const net = collectChanges(payloads, () => true).tables.get('t');
        const mirror = new Map([...before].map(([k, v]) => [k, { ...v }]));
        for (const id of net?.deletes ?? []) mirror.delete(id);
        for (const record of net?.upserts.values() ?? [])
          mirror.set(record.id, { ...(record.cells as Record<string, number>) });
        for (const [id, cells] of net?.updates ?? [])
          if (mirror.has(id)) Object.assign(mirror.get(id)!, cells);
        expect(Object.fromEntries(mirror)).toEqual(Object.fromEntries(live));
      }),
      { numRuns: 500 },
    );
  });
});

describe('webhook cells in the records API form', () => {
  it.each([
    ['singleSelect', { id: 'selA', name: 'Open', color: 'blue' }, 'Open'],
    [
      'multipleSelects',
      [
        { id: 'selA', name: 'a' },
        { id: 'selB', name: 'b' },
      ],
      ['a', 'b'],
    ],
    ['multipleRecordLinks', [{ id: 'recA', name: 'Website' }], ['recA']],
    [
      'multipleLookupValues',
      {
        linkedRecordIds: ['recA', 'recB'],
        valuesByLinkedRecordId: { recA: ['x'], recB: [{ id: 'selC', name: 'y' }] },
      },
      ['x', 'y'],
    ],
    ['number', 5, 5],
    ['checkbox', null, null],
    [
      'singleCollaborator',
      { id: 'usr1', email: 'a@b.c', name: 'A' },
      { id: 'usr1', email: 'a@b.c', name: 'A' },
    ],
  ])('%s', (type, value, expected) => {
    expect(restCell(type, value)).toEqual(expected);
  });
});
