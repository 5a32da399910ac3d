import { SeededRandom } from './random';
import type { EmulatorSeed, EmulatorSeedRecord } from './types';

/** The id of the generated demo base. */
export const DEMO_BASE_ID = 'appDEMOopsBase001';

/** @default 3000 tasks, with clients, people and projects in proportion. */
export interface DemoSeedOptions {
  /** Number of Tasks, the largest table; Clients, People and Projects scale with it. @default 3000 */
  records?: number;
}

const COMPANY_WORDS = [
  'Northwind',
  'Bluefin',
  'Cedar',
  'Harbor',
  'Summit',
  'Lumen',
  'Granite',
  'Juniper',
  'Atlas',
  'Meridian',
  'Copper',
  'Orchard',
  'Beacon',
  'Riverbend',
  'Sable',
  'Tidewater',
];
const COMPANY_SUFFIXES = [
  'Logistics',
  'Health',
  'Foods',
  'Works',
  'Partners',
  'Retail',
  'Labs',
  'Freight',
  'Studios',
  'Supply',
];
const FIRST_NAMES = [
  'Ada',
  'Bruno',
  'Chloe',
  'Dmitri',
  'Elena',
  'Farah',
  'Gabriel',
  'Hana',
  'Ivan',
  'Jasmine',
  'Kofi',
  'Lena',
  'Mateo',
  'Nadia',
  'Omar',
  'Priya',
  'Quentin',
  'Rosa',
  'Sven',
  'Tariq',
  'Uma',
  'Victor',
  'Wen',
  'Yara',
  'Zane',
];
const LAST_NAMES = [
  'Okafor',
  'Lindqvist',
  'Moreau',
  'Tanaka',
  'Silva',
  'Kowalski',
  'Haddad',
  'Novak',
  'Reyes',
  'Schmidt',
  'Patel',
  'Dubois',
  'Kim',
  'Rossi',
  'Andersen',
  'Mensah',
];
const PROJECT_KINDS = [
  'Warehouse rollout',
  'Website refresh',
  'Onboarding revamp',
  'Inventory audit',
  'CRM migration',
  'Pricing study',
  'Fleet tracking',
  'Quarterly close',
  'Vendor review',
  'Support playbook',
  'Data cleanup',
  'Launch campaign',
];
const TASK_VERBS = [
  'Draft',
  'Review',
  'Approve',
  'Schedule',
  'Prepare',
  'Update',
  'Check',
  'Send',
  'Collect',
  'Plan',
  'Test',
  'Publish',
];
const TASK_OBJECTS = [
  'brief',
  'budget',
  'timeline',
  'contract',
  'invoice',
  'handover notes',
  'status report',
  'risk log',
  'supplier list',
  'test plan',
  'training deck',
  'launch checklist',
];
const INDUSTRIES = ['Retail', 'Logistics', 'Healthcare', 'Finance', 'Manufacturing', 'Hospitality'];
const ROLES = ['Project manager', 'Designer', 'Engineer', 'Analyst', 'Coordinator'];
const TEAMS = ['Operations', 'Delivery', 'Finance', 'Sales'];
const PROJECT_STATUSES = ['Planned', 'In progress', 'On hold', 'Done'];
const PRIORITIES = ['Low', 'Medium', 'High', 'Urgent'];
const TAGS = ['Internal', 'Client-facing', 'Compliance', 'Q1', 'Q2', 'Q3', 'Q4', 'Recurring'];
const TASK_STATUSES = ['To do', 'In progress', 'Blocked', 'Done'];

const DAY = 86_400_000;
/** Every date in the demo hangs off this instant, so the seed is the same on every run. */
const EPOCH = Date.UTC(2025, 0, 6, 9, 0, 0);

const choices = (names: string[]) => ({ choices: names.map((name) => ({ name })) });
const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * A realistic operations base: Clients, People, Projects and Tasks, linked both ways, with
 * selects, dates, numbers, currency, checkboxes, attachments, formulas, lookups, a rollup, a count
 * and automatic fields. Deterministic: the same options give the same seed on every run.
 */
export function buildDemoSeed(options: DemoSeedOptions = {}): EmulatorSeed {
  const taskCount = Math.max(1, Math.floor(options.records ?? 3000));
  const clientCount = Math.max(3, Math.round(taskCount / 40));
  const peopleCount = Math.max(3, Math.round(taskCount / 50));
  const projectCount = Math.max(3, Math.round(taskCount / 8));
  const random = new SeededRandom(20250106);
  const usedIds = new Set<string>();
  const id = (prefix: 'rec' | 'tbl' | 'fld'): string => {
    for (;;) {
      const candidate = prefix + random.chars(14);
      if (!usedIds.has(candidate)) {
        usedIds.add(candidate);
        return candidate;
      }
    }
  };
  let clock = EPOCH;
  const nextCreated = (): string => {
    clock += random.int(60_000, 3_600_000);
    return new Date(clock).toISOString();
  };

  const clients: EmulatorSeedRecord[] = [];
  for (let i = 0; i < clientCount; i++) {
    const name = `${COMPANY_WORDS[i % COMPANY_WORDS.length]} ${COMPANY_SUFFIXES[Math.floor(i / COMPANY_WORDS.length) % COMPANY_SUFFIXES.length]}${i >= COMPANY_WORDS.length * COMPANY_SUFFIXES.length ? ` ${i}` : ''}`;
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    clients.push({
      id: id('rec'),
      createdTime: nextCreated(),
      fields: {
        Name: name,
        Industry: random.pick(INDUSTRIES),
        'Contact email': `ops@${slug}.example.com`,
        Website: `https://${slug}.example.com`,
        Phone: `+1 555 01${String(random.int(0, 99)).padStart(2, '0')}`,
        Active: random.next() < 0.8,
      },
    });
  }

  const people: EmulatorSeedRecord[] = [];
  for (let i = 0; i < peopleCount; i++) {
    const first = FIRST_NAMES[i % FIRST_NAMES.length]!;
    const last = LAST_NAMES[(i * 7) % LAST_NAMES.length]!;
    const suffix = i >= FIRST_NAMES.length ? ` ${Math.floor(i / FIRST_NAMES.length) + 1}` : '';
    people.push({
      id: id('rec'),
      createdTime: nextCreated(),
      fields: {
        Name: `${first} ${last}${suffix}`,
        Email: `${first.toLowerCase()}.${last.toLowerCase()}${suffix.trim()}@ops.example.com`,
        Role: random.pick(ROLES),
        Team: random.pick(TEAMS),
        'Start date': isoDate(EPOCH - random.int(30, 2000) * DAY),
        Avatar:
          i % 3 === 0
            ? [
                {
                  url: `https://files.example.com/avatars/${i}.png`,
                  filename: `avatar-${i}.png`,
                  size: 20_480 + i,
                },
              ]
            : [],
      },
    });
  }

  const projects: EmulatorSeedRecord[] = [];
  for (let i = 0; i < projectCount; i++) {
    const start = EPOCH + random.int(-120, 240) * DAY;
    const status = random.pick(PROJECT_STATUSES);
    const tags = TAGS.filter(() => random.next() < 0.25);
    projects.push({
      id: id('rec'),
      createdTime: nextCreated(),
      fields: {
        Name: `${random.pick(PROJECT_KINDS)} ${i + 1}`,
        Client: [clients[random.int(0, clients.length - 1)]!.id!],
        Owner: [people[random.int(0, people.length - 1)]!.id!],
        Status: status,
        Priority: random.pick(PRIORITIES),
        Budget: random.int(20, 900) * 250,
        'Start date': isoDate(start),
        'Due date': isoDate(start + random.int(14, 180) * DAY),
        Tags: tags,
        Brief: `Scope, milestones and risks for project ${i + 1}.`,
        Documents:
          i % 4 === 0
            ? [
                {
                  url: `https://files.example.com/projects/${i + 1}/brief.pdf`,
                  filename: `brief-${i + 1}.pdf`,
                  size: 180_000 + i,
                },
              ]
            : [],
      },
    });
  }

  const tasks: EmulatorSeedRecord[] = [];
  for (let i = 0; i < taskCount; i++) {
    const status = random.pick(TASK_STATUSES);
    const project = projects[random.int(0, projects.length - 1)]!;
    tasks.push({
      id: id('rec'),
      createdTime: nextCreated(),
      fields: {
        Title: `${random.pick(TASK_VERBS)} ${random.pick(TASK_OBJECTS)} #${i + 1}`,
        Project: [project.id!],
        Assignee: random.next() < 0.9 ? [people[random.int(0, people.length - 1)]!.id!] : [],
        Status: status,
        Done: status === 'Done',
        Due: isoDate(EPOCH + random.int(-60, 300) * DAY),
        'Estimate hours': random.int(1, 40) / 2,
        Completion: status === 'Done' ? 1 : status === 'To do' ? 0 : random.int(1, 9) / 10,
        Notes: random.next() < 0.3 ? `Follow up with the client about item ${i + 1}.` : '',
      },
    });
  }

  return {
    bases: [
      {
        id: DEMO_BASE_ID,
        name: 'Operations demo',
        tables: [
          {
            id: id('tbl'),
            name: 'Clients',
            description: 'Companies we run projects for.',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              { name: 'Industry', type: 'singleSelect', options: choices(INDUSTRIES) },
              { name: 'Contact email', type: 'email' },
              { name: 'Website', type: 'url' },
              { name: 'Phone', type: 'phoneNumber' },
              { name: 'Active', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              {
                name: 'Projects',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Projects', inverseLinkFieldId: 'Client' },
              },
              { name: 'Project count', type: 'count', options: { recordLinkFieldId: 'Projects' } },
            ],
            records: clients,
          },
          {
            id: id('tbl'),
            name: 'People',
            description: 'Everyone who owns projects or works on tasks.',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              { name: 'Email', type: 'email' },
              { name: 'Role', type: 'singleSelect', options: choices(ROLES) },
              { name: 'Team', type: 'singleSelect', options: choices(TEAMS) },
              {
                name: 'Start date',
                type: 'date',
                options: { dateFormat: { name: 'iso', format: 'YYYY-MM-DD' } },
              },
              { name: 'Avatar', type: 'multipleAttachments', options: { isReversed: false } },
              {
                name: 'Projects owned',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Projects', inverseLinkFieldId: 'Owner' },
              },
              {
                name: 'Tasks',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Tasks', inverseLinkFieldId: 'Assignee' },
              },
            ],
            records: people,
          },
          {
            id: id('tbl'),
            name: 'Projects',
            description: 'Client projects and their budgets.',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              {
                name: 'Client',
                type: 'multipleRecordLinks',
                options: {
                  linkedTableId: 'Clients',
                  inverseLinkFieldId: 'Projects',
                  prefersSingleRecordLink: true,
                },
              },
              {
                name: 'Owner',
                type: 'multipleRecordLinks',
                options: {
                  linkedTableId: 'People',
                  inverseLinkFieldId: 'Projects owned',
                  prefersSingleRecordLink: true,
                },
              },
              { name: 'Status', type: 'singleSelect', options: choices(PROJECT_STATUSES) },
              { name: 'Priority', type: 'singleSelect', options: choices(PRIORITIES) },
              { name: 'Budget', type: 'currency', options: { precision: 2, symbol: '$' } },
              {
                name: 'Start date',
                type: 'date',
                options: { dateFormat: { name: 'iso', format: 'YYYY-MM-DD' } },
              },
              {
                name: 'Due date',
                type: 'date',
                options: { dateFormat: { name: 'iso', format: 'YYYY-MM-DD' } },
              },
              { name: 'Tags', type: 'multipleSelects', options: choices(TAGS) },
              { name: 'Brief', type: 'multilineText' },
              { name: 'Documents', type: 'multipleAttachments', options: { isReversed: false } },
              {
                name: 'Tasks',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Tasks', inverseLinkFieldId: 'Project' },
              },
              {
                name: 'Client name',
                type: 'multipleLookupValues',
                options: { recordLinkFieldId: 'Client', fieldIdInLinkedTable: 'Name' },
              },
              { name: 'Task count', type: 'count', options: { recordLinkFieldId: 'Tasks' } },
              {
                name: 'Hours estimated',
                type: 'rollup',
                options: {
                  recordLinkFieldId: 'Tasks',
                  fieldIdInLinkedTable: 'Estimate hours',
                  formula: 'SUM(values)',
                },
              },
              {
                name: 'Duration days',
                type: 'formula',
                options: { formula: "DATETIME_DIFF({Due date}, {Start date}, 'days')" },
              },
              { name: 'Project ID', type: 'autoNumber' },
              { name: 'Created', type: 'createdTime', options: { result: { type: 'dateTime' } } },
              { name: 'Last modified', type: 'lastModifiedTime', options: { result: { type: 'dateTime' } } },
            ],
            records: projects,
            views: [{ name: 'By due date', sort: [{ field: 'Due date', direction: 'asc' }] }],
          },
          {
            id: id('tbl'),
            name: 'Tasks',
            description: 'Work items of projects.',
            fields: [
              { name: 'Title', type: 'singleLineText' },
              {
                name: 'Project',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'Projects', inverseLinkFieldId: 'Tasks' },
              },
              {
                name: 'Assignee',
                type: 'multipleRecordLinks',
                options: { linkedTableId: 'People', inverseLinkFieldId: 'Tasks' },
              },
              { name: 'Status', type: 'singleSelect', options: choices(TASK_STATUSES) },
              { name: 'Done', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso', format: 'YYYY-MM-DD' } } },
              { name: 'Estimate hours', type: 'number', options: { precision: 1 } },
              { name: 'Completion', type: 'percent', options: { precision: 0 } },
              { name: 'Notes', type: 'multilineText' },
              { name: 'Label', type: 'formula', options: { formula: '{Title} & " (" & {Status} & ")"' } },
              {
                name: 'Overdue',
                type: 'formula',
                options: { formula: 'AND({Due}, IS_BEFORE({Due}, TODAY()), NOT({Done}))' },
              },
              { name: 'Task number', type: 'autoNumber' },
              { name: 'Created', type: 'createdTime', options: { result: { type: 'dateTime' } } },
              { name: 'Last modified', type: 'lastModifiedTime', options: { result: { type: 'dateTime' } } },
            ],
            records: tasks,
            views: [
              {
                name: 'Open tasks',
                filterByFormula: 'NOT({Done})',
                sort: [{ field: 'Due', direction: 'asc' }],
              },
            ],
          },
        ],
      },
    ],
  };
}
