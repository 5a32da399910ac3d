import Airtable from 'airtable';
import {
  startAirtableEmulator,
  type AirtableEmulator,
  type AirtableEmulatorOptions,
  type EmulatorSeed,
} from '../src';

export const TOKEN = 'patEmulatorTest01.0000000000000000000000000000000000000000000000000000000000000001';
export const BASE_ID = 'appEmuTestBase001';
export const OTHER_BASE_ID = 'appEmuOtherBase01';

/** A base with every field type the conformance tests write to, and a second base for scoping. */
export function conformanceSeed(): EmulatorSeed {
  return {
    bases: [
      {
        id: BASE_ID,
        name: 'Conformance base',
        tables: [
          {
            id: 'tblProjects000001',
            name: 'Projects',
            fields: [
              { id: 'fldProjName000001', name: 'Name', type: 'singleLineText' },
              {
                name: 'Status',
                type: 'singleSelect',
                options: { choices: [{ name: 'Active' }, { name: 'Done' }, { name: 'Paused' }] },
              },
              { name: 'Budget', type: 'currency', options: { precision: 2, symbol: '$' } },
              {
                name: 'Tasks',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Tasks', inverseLinkFieldId: 'Project' },
              },
              { name: 'Task count', type: 'count', options: { recordLinkFieldId: 'Tasks' } },
              {
                name: 'Hours',
                type: 'rollup',
                options: {
                  recordLinkFieldId: 'Tasks',
                  fieldIdInLinkedTable: 'Estimate',
                  formula: 'SUM(values)',
                },
              },
              {
                name: 'Task titles',
                type: 'multipleLookupValues',
                options: { recordLinkFieldId: 'Tasks', fieldIdInLinkedTable: 'Title' },
              },
            ],
            records: [
              { id: 'recProjWebsite001', fields: { Name: 'Website', Status: 'Active', Budget: 1000 } },
              { id: 'recProjWarehous01', fields: { Name: 'Warehouse', Status: 'Done', Budget: 5000 } },
              { id: 'recProjEmpty00001', fields: { Name: 'Empty' } },
            ],
          },
          {
            id: 'tblTasks000000001',
            name: 'Tasks',
            fields: [
              { name: 'Title', type: 'singleLineText' },
              { name: 'Project', type: 'multipleRecordLinks', options: { linkedTableId: 'Projects' } },
              { name: 'Done', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso' } } },
              {
                name: 'Starts at',
                type: 'dateTime',
                options: { dateFormat: { name: 'iso' }, timeFormat: { name: '24hour' }, timeZone: 'utc' },
              },
              { name: 'Estimate', type: 'number', options: { precision: 1 } },
              { name: 'Progress', type: 'percent', options: { precision: 0 } },
              {
                name: 'Tags',
                type: 'multipleSelects',
                options: { choices: [{ name: 'red' }, { name: 'blue' }] },
              },
              { name: 'Notes', type: 'multilineText' },
              { name: 'Email', type: 'email' },
              { name: 'Files', type: 'multipleAttachments' },
              { name: 'Rating', type: 'rating', options: { max: 5, icon: 'star', color: 'yellowBright' } },
              { name: 'Code', type: 'barcode' },
              { name: 'Owner', type: 'singleCollaborator' },
              {
                name: 'Label',
                type: 'formula',
                options: { formula: '{Title} & " [" & IF({Done}, "done", "open") & "]"' },
              },
              { name: 'Number', type: 'autoNumber' },
              { name: 'Created', type: 'createdTime' },
              { name: 'Modified', type: 'lastModifiedTime' },
              { name: 'Creator', type: 'createdBy' },
            ],
            records: [
              {
                id: 'recTaskCopy000001',
                createdTime: '2025-01-01T10:00:00.000Z',
                fields: {
                  Title: 'Draft copy',
                  Project: ['recProjWebsite001'],
                  Due: '2025-02-01',
                  Estimate: 3,
                  Tags: ['red'],
                  Done: false,
                },
              },
              {
                id: 'recTaskReview0001',
                createdTime: '2025-01-02T10:00:00.000Z',
                fields: {
                  Title: 'Review copy',
                  Project: ['recProjWebsite001'],
                  Due: '2025-03-01',
                  Estimate: 2.5,
                  Done: true,
                  Tags: ['red', 'blue'],
                },
              },
              {
                id: 'recTaskShelves001',
                createdTime: '2025-01-03T10:00:00.000Z',
                fields: {
                  Title: 'Order shelves',
                  Project: ['recProjWarehous01'],
                  Estimate: 8,
                  Notes: 'Call the supplier',
                },
              },
            ],
            views: [
              {
                id: 'viwOpenTasks00001',
                name: 'Open',
                filterByFormula: 'NOT({Done})',
                sort: [{ field: 'Estimate', direction: 'desc' }],
              },
            ],
          },
          {
            id: 'tblNumbers0000001',
            name: 'Numbers',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              { name: 'Value', type: 'number', options: { precision: 0 } },
              { name: 'Group', type: 'singleSelect', options: { choices: [{ name: 'A' }, { name: 'B' }] } },
            ],
            records: Array.from({ length: 250 }, (_, i) => ({
              fields: { Name: `n${String(i).padStart(3, '0')}`, Value: i, Group: i % 2 ? 'B' : 'A' },
            })),
          },
        ],
      },
      {
        id: OTHER_BASE_ID,
        name: 'Other base',
        tables: [
          {
            name: 'Things',
            fields: [{ name: 'Name', type: 'singleLineText' }],
            records: [{ fields: { Name: 'thing' } }],
          },
        ],
      },
    ],
  };
}

/** An emulator over {@link conformanceSeed} with limits off unless a test turns them on. */
export function startConformanceEmulator(options: AirtableEmulatorOptions = {}): Promise<AirtableEmulator> {
  return startAirtableEmulator({
    seed: conformanceSeed(),
    tokens: [TOKEN, { token: 'patScopedToken001.scoped', bases: [OTHER_BASE_ID] }],
    limits: { enabled: false },
    randomSeed: 42,
    ...options,
  });
}

export const SCOPED_TOKEN = 'patScopedToken001.scoped';

export function client(emulator: AirtableEmulator, token = TOKEN): Airtable {
  return new Airtable({
    apiKey: token,
    endpointUrl: emulator.url,
    noRetryIfRateLimited: true,
    requestTimeout: 10_000,
  });
}

/**
 * A parsed JSON answer. Tests assert on its exact shape with `toEqual`, so a static type would add
 * nothing but casts.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

export interface RawAnswer {
  status: number;
  body: Loose;
  headers: Headers;
}

/** One raw HTTP call, the way a client without the official library would make it. */
export async function call(
  emulator: AirtableEmulator,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<RawAnswer> {
  const response = await fetch(`${emulator.url}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Rejects with the AirtableError the client raised. */
export async function clientError(
  promise: Promise<unknown>,
): Promise<{ error: string; message: string; statusCode: number }> {
  try {
    await promise;
  } catch (err) {
    return err as { error: string; message: string; statusCode: number };
  }
  throw new Error('expected the client call to fail');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function query(params: Record<string, string | number | boolean | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) for (const v of value) search.append(key, v);
    else search.append(key, String(value));
  }
  return search.toString();
}
