import type { EmulatorSeed } from '../../emulator/airtable';

/** A two-table base, small enough to reason about in assertions. */
export const SMALL_BASE_ID = 'appSMALLtestBase1';

export function smallSeed(): EmulatorSeed {
  return {
    bases: [
      {
        id: SMALL_BASE_ID,
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
