import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirtableEmulator } from '../src';
import { BASE_ID, TOKEN, call, conformanceSeed, sleep } from './helpers';

describe('persistence', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'airtable-emulator-state-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves records and schema changes and serves them again after a restart', async () => {
    const file = path.join(dir, 'round-trip.json');
    const first = await startAirtableEmulator({
      seed: conformanceSeed(),
      tokens: [TOKEN],
      limits: { enabled: false },
      persistPath: file,
    });
    const created = await call(first, 'POST', `/v0/${BASE_ID}/Tasks`, {
      fields: { Title: 'Persisted', Project: ['recProjWarehous01'], Tags: ['violet'] },
      typecast: true,
    });
    await call(first, 'PATCH', `/v0/${BASE_ID}/Tasks/recTaskCopy000001`, { fields: { Estimate: 42 } });
    await call(first, 'DELETE', `/v0/${BASE_ID}/Tasks/recTaskReview0001`);
    const field = await call(first, 'POST', `/v0/meta/bases/${BASE_ID}/tables/tblTasks000000001/fields`, {
      name: 'Added later',
      type: 'multilineText',
    });
    expect(field.status).toBe(200);
    const before = first.listRecords(BASE_ID, 'Tasks');
    const schemaBefore = (await call(first, 'GET', `/v0/meta/bases/${BASE_ID}/tables`)).body;
    await first.close();

    // The seed given now is ignored: the saved state wins.
    const second = await startAirtableEmulator({
      seed: { bases: [] },
      tokens: [TOKEN],
      limits: { enabled: false },
      persistPath: file,
    });
    try {
      expect(second.listRecords(BASE_ID, 'Tasks')).toEqual(before);
      expect((await call(second, 'GET', `/v0/meta/bases/${BASE_ID}/tables`)).body).toEqual(schemaBefore);
      const restored = await call(second, 'GET', `/v0/${BASE_ID}/Tasks/${created.body.id}`);
      expect(restored.body).toMatchObject({
        id: created.body.id,
        createdTime: created.body.createdTime,
        fields: { Title: 'Persisted', Tags: ['violet'] },
      });
      const next = await call(second, 'POST', `/v0/${BASE_ID}/Tasks`, {
        fields: { Title: 'After restart', 'Added later': 'yes' },
      });
      expect(next.body.fields.Number).toBe(5);
      expect(
        second.listRecords(BASE_ID, 'Projects').find((p) => p.id === 'recProjWarehous01')!.fields.Tasks,
      ).toEqual(['recTaskShelves001', created.body.id]);
    } finally {
      await second.close();
    }
  });

  it('writes the file shortly after a write, without waiting for close', async () => {
    const file = path.join(dir, 'debounced.json');
    const emulator = await startAirtableEmulator({
      seed: conformanceSeed(),
      tokens: [TOKEN],
      limits: { enabled: false },
      persistPath: file,
    });
    try {
      expect(existsSync(file)).toBe(true);
      await call(emulator, 'POST', `/v0/${BASE_ID}/Tasks`, { fields: { Title: 'Soon on disk' } });
      // Saved while the emulator runs (the write is debounced): waited for, however slow the machine.
      const read = () => JSON.parse(readFileSync(file, 'utf8'));
      while (!JSON.stringify(read()).includes('Soon on disk')) await sleep(20);
      const saved = read();
      expect(saved.format).toBe('airtable-emulator-state');
      expect(JSON.stringify(saved)).toContain('Soon on disk');
    } finally {
      await emulator.close();
    }
  });
});
