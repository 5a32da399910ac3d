import { randomBytes, randomUUID } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createAirtableAccess } from '../../airtable/access';
import type { ListingCheckpoint } from '../../airtable/streaming';
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

  it('copies every record, heartbeating the checkpoint after each page it wrote', async () => {
    const env = new MockActivityEnvironment();
    const beats: ListingCheckpoint[] = [];
    env.on('heartbeat', (d: ListingCheckpoint) => beats.push(d));
    const result = await env.run(activities.copyTableToPostgres, input());
    expect(result).toEqual({ records: RECORDS, pages: 3, resumedFrom: 0 });
    expect(beats.map((b) => b.delivered)).toEqual([100, 200, 250]);
    expect(beats[0]!.offset).toEqual(expect.any(String));
    expect(beats[2]!.offset).toBeUndefined();
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS);
  });

  it('resumes from the last heartbeat instead of the first page', async () => {
    const first = new MockActivityEnvironment();
    const beats: ListingCheckpoint[] = [];
    first.on('heartbeat', (d: ListingCheckpoint) => beats.push(d));
    await first.run(activities.copyTableToPostgres, input());
    emulator.clearRequestLog();

    // A retry after a crash that followed the first page: Temporal hands back that heartbeat.
    const retry = new MockActivityEnvironment({ heartbeatDetails: beats[0], attempt: 2 });
    const result = await retry.run(activities.copyTableToPostgres, input());
    expect(result).toEqual({ records: RECORDS, pages: 2, resumedFrom: 100 });
    expect(emulator.requestLog).toHaveLength(2);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(RECORDS);
  });

  it('stops when cancelled, without reading further pages', async () => {
    const env = new MockActivityEnvironment();
    env.on('heartbeat', () => env.cancel());
    await expect(env.run(activities.copyTableToPostgres, input())).rejects.toBeInstanceOf(CancelledFailure);
    expect(emulator.requestLog).toHaveLength(1);
    expect(await countSyncedRecords(pool, workspaceId, 'tblITEMS000000001')).toBe(100);
  });
});
