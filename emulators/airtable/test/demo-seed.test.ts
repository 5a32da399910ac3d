import { DEMO_BASE_ID, buildDemoSeed, startAirtableEmulator, type AirtableEmulator } from '../src';
import { TOKEN, call, type Loose } from './helpers';

describe('demo seed', () => {
  it('is the same on every run, with well-formed unique ids', () => {
    const first = buildDemoSeed();
    expect(JSON.stringify(buildDemoSeed())).toBe(JSON.stringify(first));
    expect(DEMO_BASE_ID).toMatch(/^app[A-Za-z0-9]{14}$/);
    const base = first.bases[0]!;
    expect(base.id).toBe(DEMO_BASE_ID);
    expect(base.tables.map((t) => t.name)).toEqual(['Clients', 'People', 'Projects', 'Tasks']);
    const ids = base.tables.flatMap((t) => [t.id!, ...t.records.map((r) => r.id!)]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const table of base.tables) {
      expect(table.id).toMatch(/^tbl[A-Za-z0-9]{14}$/);
      for (const record of table.records) expect(record.id).toMatch(/^rec[A-Za-z0-9]{14}$/);
    }
    const total = base.tables.reduce((n, t) => n + t.records.length, 0);
    expect(total).toBeGreaterThan(3000);
    expect(
      buildDemoSeed({ records: 40 }).bases[0]!.tables.find((t) => t.name === 'Tasks')!.records,
    ).toHaveLength(40);
  });

  describe('served', () => {
    let emulator: AirtableEmulator;
    beforeAll(async () => {
      emulator = await startAirtableEmulator({ tokens: [TOKEN], limits: { enabled: false } });
    });
    afterAll(() => emulator.close());

    it('is what an emulator serves by default, with links consistent both ways', async () => {
      const tasks = emulator.listRecords(DEMO_BASE_ID, 'Tasks');
      const projects = new Map(emulator.listRecords(DEMO_BASE_ID, 'Projects').map((p) => [p.id, p]));
      expect(tasks.length).toBe(3000);
      for (const task of tasks) {
        const projectId = (task.fields.Project as string[])[0]!;
        expect(projects.get(projectId)!.fields.Tasks).toContain(task.id);
      }
      const linkedTaskCount = [...projects.values()].reduce(
        (n, p) => n + ((p.fields.Tasks as string[] | undefined)?.length ?? 0),
        0,
      );
      expect(linkedTaskCount).toBe(tasks.length);
    });

    it('computes its formulas, lookups, rollups and counts without errors', async () => {
      const project = emulator
        .listRecords(DEMO_BASE_ID, 'Projects')
        .find((p) => (p.fields['Task count'] as number) > 0)!;
      expect(project.fields['Client name']).toEqual([expect.any(String)]);
      expect(typeof project.fields['Hours estimated']).toBe('number');
      expect(typeof project.fields['Duration days']).toBe('number');
      const text = JSON.stringify(emulator.listRecords(DEMO_BASE_ID, 'Tasks'));
      expect(text).not.toContain('#ERROR!');
      const schema = await call(emulator, 'GET', `/v0/meta/bases/${DEMO_BASE_ID}/tables`);
      const formulas = schema.body.tables.flatMap((t: Loose) =>
        t.fields.filter((f: Loose) => f.type === 'formula'),
      );
      expect(formulas.length).toBeGreaterThanOrEqual(3);
      for (const formula of formulas) expect(formula.options.isValid).toBe(true);
      const openTasks = await call(
        emulator,
        'GET',
        `/v0/${DEMO_BASE_ID}/Tasks?view=${encodeURIComponent('Open tasks')}&maxRecords=5`,
      );
      expect(openTasks.body.records.every((r: Loose) => !r.fields.Done)).toBe(true);
    });
  });
});
