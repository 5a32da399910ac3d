import { randomBytes, randomUUID } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAirtableAccess } from '../../airtable/access';
import type { ListingCheckpoint, PartitionedCheckpoint } from '../../airtable/streaming';
import { createSyncRunActivities } from '../../activities/sync-runs';
import { createPool, type Pool } from '../../db/pool';
import { countSyncedRecords } from '../../domain/sync-runs/store';
import { insertUser } from '../../domain/users/store';
import { insertWorkspaceWithConnection } from '../../domain/workspaces/store';
import { startAirtableEmulator, type AirtableEmulator } from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from '../support/env';

// The streaming copy of a table: a heartbeat per page, resume from the last heartbeat, cancellation.

const TOKEN = 'patTableCopyTests.0123456789abcdef';
const BASE_ID = 'appTABLEcopyBase1';
const RECORDS = 250;

describe('copyTableToPostgres', () => {
  let pool: Pool;
  let emulator: AirtableEmulator;
  const encryptionKey = randomBytes(32);
  let workspaceId: string;
  let activities: ReturnType<typeof createSyncRunActivities>;

  beforeAll(async () => {
    pool = createPool(process.env[TEST_ENV.databaseUrl]!);
    emulator = await startAirtableEmulator({
      tokens: [TOKEN],
      limits: { enabled: false },
      seed: {
        bases: [
          {
            id: BASE_ID,
            name: 'Copy',
            tables: [
              {
                id: 'tblITEMS000000001',
                name: 'Items',
                fields: [{ name: 'Name', type: 'singleLineText' }],
                records: Array.from({ length: RECORDS }, (_, i) => ({ fields: { Name: `Item ${i}` } })),
              },
            ],
          },
        ],
      },
    });
    activities = createSyncRunActivities({
      pool,
      encryptionKey,
      // No pacing: this test is about resuming and cancelling, not about Airtable's limits.
      airtable: createAirtableAccess(pool, {
        endpointUrl: emulator.url,
        requestTimeoutMs: 5_000,
        pacer: { acquire: async () => ({ left() {} }), penalize: async () => undefined },
      }),
    });
  });
  beforeEach(async () => {
    const userId = randomUUID();
    workspaceId = randomUUID();
    await insertUser(pool, { id: userId, email: `${userId}@example.com`, name: null, passwordHash: 'x' });
    await insertWorkspaceWithConnection(pool, {
      id: workspaceId,
      ownerId: userId,
      name: 'Copy',
      baseId: BASE_ID,
      token: TOKEN,
      encryptionKey,
    });
    emulator.clearRequestLog();
  });
  afterAll(async () => {
    await emulator.close();
    await pool.end();
  });

  const input = () => ({ workspaceId, tableId: 'tblITEMS000000001', syncRunId: 'run-1' });

  type Beat = PartitionedCheckpoint;
  const delivered = (beat: Beat) => beat.parts.reduce((sum, part) => sum + part.delivered, 0);
  const listings = () => emulator.requestLog.filter((entry) => entry.path.includes('/listRecords'));

  it('copies every record in two parts at once, heartbeating the checkpoint after each page it wrote', async () => {
    const env = new MockActivityEnvironment();
    const beats: Beat[] = [];
    env.on('heartbeat', (d: Beat) => beats.push(d));
    const result = await env.run(activities.copyTableToPostgres, input());
    expect(result).toEqual({ records: RECORDS, pages: beats.length, resumedFrom: 0 });
    // Each part ends with a partly filled page: more pages than one listing would take.
    expect(beats.length).toBeGreaterThanOrEqual(4);
    expect(beats.map(delivered)).toEqual([...beats.map(delivered)].sort((a, b) => a - b));
    expect(beats.every((beat) => beat.parts.length === 2)).toBe(true);
    const last = beats.at(-1)!;
    expect(last.parts.every((part) => part.done && part.offset === undefined)).toBe(true);
    expect(delivered(last)).toBe(RECORDS);
    // Both parts hold records: the split by record id is not all on one side.
    expect(last.parts.every((part) => part.delivered > 0)).toBe(true);
    expect(listings()).toHaveLength(beats.length);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS);
  });

  it('resumes each part from the last heartbeat instead of the first page', async () => {
    const first = new MockActivityEnvironment();
    const beats: Beat[] = [];
    first.on('heartbeat', (d: Beat) => beats.push(d));
    await first.run(activities.copyTableToPostgres, input());
    emulator.clearRequestLog();

    // A retry after a crash that followed the first page: Temporal hands back that heartbeat.
    const retry = new MockActivityEnvironment({ heartbeatDetails: beats[0], attempt: 2 });
    const result = await retry.run(activities.copyTableToPostgres, input());
    expect(result).toEqual({ records: RECORDS, pages: beats.length - 1, resumedFrom: delivered(beats[0]!) });
    expect(listings()).toHaveLength(beats.length - 1);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS);
  });

  it('resumes a copy checkpointed as one listing (before tables were read in parts) as one listing', async () => {
    const page = (await (
      await fetch(`${emulator.url}/v0/${BASE_ID}/tblITEMS000000001?pageSize=100`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { offset: string };
    emulator.clearRequestLog();
    const retry = new MockActivityEnvironment({
      heartbeatDetails: { offset: page.offset, delivered: 100 } satisfies ListingCheckpoint,
      attempt: 2,
    });
    const result = await retry.run(activities.copyTableToPostgres, input());
    expect(result).toEqual({ records: RECORDS, pages: 2, resumedFrom: 100 });
    expect(listings().every((entry) => !entry.path.includes('filterByFormula'))).toBe(true);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS - 100);
  });

  it('reads the table as one listing when Airtable refuses the formula that splits it', async () => {
    emulator.setFaults({
      rules: [{ operation: 'list', times: 1, status: 422, type: 'INVALID_FILTER_BY_FORMULA' }],
    });
    try {
      const env = new MockActivityEnvironment();
      const result = await env.run(activities.copyTableToPostgres, input());
      expect(result).toMatchObject({ records: RECORDS, resumedFrom: 0 });
      expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS);
      // The last three listings are the single listing's pages, without a formula.
      expect(listings().at(-1)!.status).toBe(200);
      expect(listings().filter((entry) => entry.status === 422)).toHaveLength(1);
    } finally {
      emulator.setFaults({});
    }
  });

  it('stops when cancelled, without reading further pages', async () => {
    const env = new MockActivityEnvironment();
    env.on('heartbeat', () => env.cancel());
    await expect(env.run(activities.copyTableToPostgres, input())).rejects.toBeInstanceOf(CancelledFailure);
    // Each part has at most its first page and the page it read ahead.
    const requests = listings().length;
    expect(requests).toBeLessThanOrEqual(4);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(listings()).toHaveLength(requests);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBeLessThan(RECORDS);
  });
});
