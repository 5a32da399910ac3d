import type { EmulatorSeed } from '@airtable-ops/airtable-emulator';

/** A two-table base, small enough to reason about in assertions. */
export const SMALL_BASE_ID = 'appSMALLtestBase1';

/** The small base, as `baseId` (default {@link SMALL_BASE_ID}). */
export function smallSeed(baseId = SMALL_BASE_ID): EmulatorSeed {
  return {
    bases: [
      {
        id: baseId,
        name: 'Small test base',
        tables: [
          {
            name: 'Projects',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              {
                name: 'Status',
                type: 'singleSelect',
                options: { choices: [{ name: 'Active' }, { name: 'Done' }] },
              },
              { name: 'Budget', type: 'number', options: { precision: 0 } },
            ],
            records: [
              { fields: { Name: 'Website', Status: 'Active', Budget: 1000 } },
              { fields: { Name: 'Warehouse', Status: 'Done', Budget: 5000 } },
            ],
          },
          {
            name: 'Tasks',
            fields: [
              { name: 'Title', type: 'singleLineText' },
              { name: 'Done', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso' } } },
              { name: 'Notes', type: 'multilineText' },
            ],
            records: [{ fields: { Title: 'Draft copy', Done: false, Due: '2026-12-01' } }],
          },
        ],
      },
    ],
  };
}

/** A base for change sets: clients, projects and tasks linked both ways, with every common cell type. */
export const OPS_BASE_ID = 'appOPSchangeSets1';

export function opsSeed(options: { tasks?: number; baseIds?: string[] } = {}): EmulatorSeed {
  const taskCount = options.tasks ?? 30;
  return {
    bases: (options.baseIds ?? [OPS_BASE_ID]).map((id) => ({
      id,
      name: 'Change set test base',
      tables: [
        {
          name: 'Clients',
          fields: [
            { name: 'Name', type: 'singleLineText' },
            {
              name: 'Tier',
              type: 'singleSelect',
              options: { choices: [{ name: 'Gold' }, { name: 'Silver' }] },
            },
            { name: 'Since', type: 'date', options: { dateFormat: { name: 'iso' } } },
            { name: 'Projects', type: 'multipleRecordLinks', options: { linkedTableId: 'Projects' } },
          ],
          records: ['Acme', 'Globex', 'Initech'].map((Name, i) => ({
            fields: { Name, Tier: i === 0 ? 'Gold' : 'Silver', Since: `2024-0${i + 1}-15` },
          })),
        },
        {
          name: 'Projects',
          fields: [
            { name: 'Name', type: 'singleLineText' },
            {
              name: 'Status',
              type: 'singleSelect',
              options: { choices: [{ name: 'Active' }, { name: 'Done' }] },
            },
            { name: 'Budget', type: 'number', options: { precision: 0 } },
            {
              name: 'Client',
              type: 'multipleRecordLinks',
              options: { linkedTableId: 'Clients', inverseLinkFieldId: 'Projects' },
            },
            { name: 'Label', type: 'formula', options: { formula: "{Name} & ' (' & {Status} & ')'" } },
            { name: 'Tasks', type: 'multipleRecordLinks', options: { linkedTableId: 'Tasks' } },
          ],
          records: ['Website', 'Warehouse', 'Mobile app'].map((Name, i) => ({
            fields: { Name, Status: i === 1 ? 'Done' : 'Active', Budget: 1000 * (i + 1), Client: ['Acme'] },
          })),
        },
        {
          name: 'Tasks',
          fields: [
            { name: 'Title', type: 'singleLineText' },
            { name: 'Done', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
            { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso' } } },
            { name: 'Notes', type: 'multilineText' },
            { name: 'Estimate', type: 'number', options: { precision: 1 } },
            {
              name: 'Project',
              type: 'multipleRecordLinks',
              options: { linkedTableId: 'Projects', inverseLinkFieldId: 'Tasks' },
            },
          ],
          records: Array.from({ length: taskCount }, (_, i) => ({
            fields: {
              Title: `Task ${String(i + 1).padStart(3, '0')}`,
              Done: i % 3 === 0,
              Due: `2026-12-${String((i % 28) + 1).padStart(2, '0')}`,
              ...(i % 2 === 0 ? { Notes: `Note for task ${i + 1}` } : {}),
              Estimate: (i % 5) + 0.5,
              Project: [['Website', 'Warehouse', 'Mobile app'][i % 3]!],
            },
          })),
        },
      ],
    })),
  };
}
