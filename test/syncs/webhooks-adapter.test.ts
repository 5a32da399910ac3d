import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { AirtableApiError } from '../../airtable/errors';
import type { AirtableMetaOptions } from '../../airtable/meta';
import type { AirtablePacer } from '../../airtable/pacing';
import {
  createWebhook,
  deleteWebhook,
  listWebhookPayloads,
  listWebhooks,
  refreshWebhook,
} from '../../airtable/webhooks';
import { SYNC_WEBHOOK_SPEC } from '../../domain/sync-runs/run';
import { SYNC_BASE_ID, syncSeed } from './support';

const TOKEN = 'patWebhookAdapterToken.0123456789abcdef';

describe('the webhooks adapter against the emulator', () => {
  let emulator: AirtableEmulator;
  const acquired: string[] = [];
  const pacer: AirtablePacer = {
    async acquire(baseId) {
      acquired.push(baseId);
      return { left() {} };
    },
    async penalize() {},
  };
  let options: AirtableMetaOptions;

  beforeAll(async () => {
    emulator = await startAirtableEmulator({
      seed: syncSeed({ tasks: 3 }),
      tokens: [TOKEN],
      limits: { enabled: false },
    });
    options = { endpointUrl: emulator.url, token: TOKEN, pacer };
  });
  afterAll(() => emulator.close());

  it('creates, lists, reads, refreshes and deletes a polled hook, every call paced', async () => {
    const created = await createWebhook(options, SYNC_BASE_ID, SYNC_WEBHOOK_SPEC);
    expect(created).toEqual({ id: expect.stringMatching(/^ach/), expirationTime: expect.any(String) });
    expect(Object.keys(created)).not.toContain('macSecretBase64');

    const [hook] = await listWebhooks(options, SYNC_BASE_ID);
    expect(hook).toMatchObject({
      id: created.id,
      notificationUrl: null,
      isHookEnabled: true,
      cursorForNextPayload: 1,
    });
    expect(hook!.specification).toEqual(SYNC_WEBHOOK_SPEC);

    const [task] = emulator.listRecords(SYNC_BASE_ID, 'Tasks');
    emulator.uiEdit(SYNC_BASE_ID, 'Tasks', { updates: [{ id: task!.id, fields: { Title: 'Changed' } }] });
    const page = await listWebhookPayloads(options, SYNC_BASE_ID, created.id, { cursor: 1 });
    expect(page.cursor).toBe(2);
    expect(page.mightHaveMore).toBe(false);
    const changed = page.payloads[0]!.changedTablesById!;
    const [tableId] = Object.keys(changed);
    const cells = changed[tableId!]!.changedRecordsById![task!.id]!;
    expect(Object.values(cells.current.cellValuesByFieldId!)).toEqual(['Changed']);
    // Every other cell of the record comes along (includeCellValuesInFieldIds: all).
    expect(Object.keys(cells.unchanged?.cellValuesByFieldId ?? {}).length).toBeGreaterThan(2);

    const refreshed = await refreshWebhook(options, SYNC_BASE_ID, created.id);
    expect(Date.parse(refreshed.expirationTime!)).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);

    await deleteWebhook(options, SYNC_BASE_ID, created.id);
    expect(await listWebhooks(options, SYNC_BASE_ID)).toEqual([]);
    const gone = await listWebhookPayloads(options, SYNC_BASE_ID, created.id, { cursor: 1 }).catch(
      (e: unknown) => e,
    );
    expect(gone).toBeInstanceOf(AirtableApiError);
    expect((gone as AirtableApiError).status).toBe(404);
    expect(acquired).toHaveLength(7);
    expect(new Set(acquired)).toEqual(new Set([SYNC_BASE_ID]));
  });
});
