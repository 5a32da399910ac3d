import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { EmulatorSeed } from '@airtable-ops/airtable-emulator';
import { createAirtableAccess, metaOptions, type AirtableAccess } from '../airtable/access';
import { getBaseSchema } from '../airtable/meta';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { createSyncService, type SyncService } from '../domain/syncs/service';
import { insertUser } from '../domain/users/store';
import {
  getWorkspace,
  insertWorkspaceWithConnection,
  saveSchemaSnapshot,
  setWorkspaceStatus,
  type Workspace,
} from '../domain/workspaces/store';
import { syncRun } from '../workflows/sync-runs';
import { createPlatformWorker } from '../workers/worker';
import { startEmulatorProcess, type EmulatorProcess } from './emulator-process';
import { startBenchTemporal } from './temporal';

/** The sync benchmarks' own database (never the platform's or the tests'). */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops_bench_sync';
export const BENCH_TOKEN = 'patSyncBench.0123456789abcdef0123';
export const BENCH_BASE_ID = 'appBENCHsyncBase1';

/** A base of one table, Orders, with `records` records of five typed fields. */
export function ordersSeed(records: number): EmulatorSeed {
  return {
    bases: [
      {
        id: BENCH_BASE_ID,
        name: 'Sync benchmark',
        tables: [
          {
            name: 'Orders',
            fields: [
              { name: 'Name', type: 'singleLineText' },
              { name: 'Amount', type: 'number', options: { precision: 2 } },
              {
                name: 'Status',
                type: 'singleSelect',
                options: { choices: [{ name: 'Open' }, { name: 'Paid' }] },
              },
              { name: 'Paid', type: 'checkbox', options: { icon: 'check', color: 'greenBright' } },
              { name: 'Due', type: 'date', options: { dateFormat: { name: 'iso' } } },
            ],
            records: Array.from({ length: records }, (_, i) => ({
              fields: {
                Name: `Order ${i}`,
                Amount: Math.round(i * 137.31) / 100,
                Status: i % 3 ? 'Open' : 'Paid',
                Paid: i % 3 === 0,
                Due: `2026-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
              },
            })),
          },
        ],
      },
    ],
  };
}

/** Everything a sync benchmark drives: the emulator process, a dev server, a worker in this process, the sync service. */
export interface SyncBench {
  emulator: EmulatorProcess;
  pool: Pool;
  airtable: AirtableAccess;
  client: Client;
  syncs: SyncService;
  workspace: Workspace;
  userId: string;
  /** Emulator log entries since `since` (epoch ms). */
  log(since: number): Promise<Array<{ at: number; method: string; path: string; status: number }>>;
  stop(): Promise<void>;
}

export async function startSyncBench(records: number): Promise<SyncBench> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const emulator = await startEmulatorProcess({
    token: BENCH_TOKEN,
    latency: '100-250',
    seed: ordersSeed(records),
  });
  await migrate(BENCH_DATABASE_URL);
  const pool = createPool(BENCH_DATABASE_URL);
  const temporal = await startBenchTemporal();
  const { connection, client } = temporal;
  const encryptionKey = randomBytes(32);
  const taskQueue = `bench-syncs-${randomUUID().slice(0, 8)}`;
  // The process's one pacer and schema cache, as in workers/main.ts (the API side shares them here).
  const airtable = createAirtableAccess(pool, { endpointUrl: emulator.url, requestTimeoutMs: 30_000 });
  const worker = await createPlatformWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: { pool, encryptionKey, airtable, temporalClient: client },
  });
  const running = worker.run();
  // A benchmark that fails leaves no emulator behind (children outlive a process.exit otherwise);
  // startBenchTemporal sees to the dev server.
  const abandon = () => emulator.stop();
  process.once('exit', abandon);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      abandon();
      process.exit(130);
    });

  const userId = randomUUID();
  const workspaceId = randomUUID();
  await insertUser(pool, { id: userId, email: `bench-${userId}@example.com`, name: null, passwordHash: 'x' });
  await insertWorkspaceWithConnection(pool, {
    id: workspaceId,
    ownerId: userId,
    name: 'Sync benchmark',
    baseId: BENCH_BASE_ID,
    token: BENCH_TOKEN,
    encryptionKey,
  });
  const schema = await getBaseSchema(metaOptions(airtable, BENCH_TOKEN), BENCH_BASE_ID);
  await saveSchemaSnapshot(pool, workspaceId, BENCH_BASE_ID, schema);
  await setWorkspaceStatus(pool, workspaceId, 'active');
  const workspace = (await getWorkspace(pool, workspaceId))!;
  // A few runs before the measured ones, as a long-running worker has done: a worker's first
  // workflow task builds its workflow sandbox (~190 ms here) and the next ones are still cold (the
  // measured run's first task took 80 ms after one warm-up, 40 ms after three), which no run of a
  // worker in service pays. These runs find no sync and end at once (skipped), with no Airtable request.
  for (let i = 0; i < 3; i++)
    await client.workflow.execute(syncRun, {
      taskQueue,
      workflowId: `bench-warm-up-${randomUUID()}`,
      args: [{ syncId: randomUUID(), workspaceId, userId }],
    });
  const syncs = createSyncService({
    pool,
    temporal: { client, taskQueue },
    airtable,
    encryptionKey,
    logger: createLogger({ level: 'silent' }),
  });

  return {
    emulator,
    pool,
    airtable,
    client,
    syncs,
    workspace,
    userId,
    async log(since) {
      const body = (await (await fetch(`${emulator.url}/__emulator/log?since=${since}`)).json()) as {
        entries: Array<{ at: number | string; method: string; path: string; status: number }>;
      };
      return body.entries.map((e) => ({ ...e, at: typeof e.at === 'number' ? e.at : Date.parse(e.at) }));
    },
    async stop() {
      // Leave nothing behind in the cluster: the mirror's schema and role go with the workspace.
      const { rows } = await pool.query<{ schema_name: string; role_name: string }>(
        `SELECT schema_name, role_name FROM sync_mirrors`,
      );
      for (const row of rows) {
        await pool.query(`DROP SCHEMA IF EXISTS "${row.schema_name}" CASCADE`);
        await pool.query(`DROP OWNED BY "${row.role_name}"`).catch(() => undefined);
        await pool.query(`DROP ROLE IF EXISTS "${row.role_name}"`).catch(() => undefined);
      }
      await pool.query(`DELETE FROM workspaces`);
      worker.shutdown();
      await running;
      await temporal.stop();
      emulator.stop();
      await pool.end();
    },
  };
}

/** Waits for the sync's run `jobId` (or its latest run) to close; answers its workflow's times and result. */
export async function waitForRun(client: Client, jobId: string) {
  const handle = client.workflow.getHandle(jobId);
  const result = (await handle.result()) as Record<string, unknown>;
  const description = await handle.describe();
  return { result, startMs: description.startTime.getTime(), closeMs: description.closeTime!.getTime() };
}

/** Samples this process's RSS every 100 ms; `stop()` answers the peak. */
export function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

export const MiB = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
