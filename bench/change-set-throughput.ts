import { randomBytes, randomUUID } from 'node:crypto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAirtableAccess, metaOptions } from '../airtable/access';
import { getBaseSchema } from '../airtable/meta';
import type { ChangeSetStepInput } from '../domain/change-sets/model';
import { planChangeSet } from '../domain/change-sets/plan';
import { applyChangeSet } from '../workflows/change-sets';
import { loadConfig } from '../core/config';
import { insertChangeSet } from '../domain/change-sets/journal';
import { insertJob } from '../domain/jobs/store';
import { migrate } from '../db/migrate';
import { createPool, withTransaction } from '../db/pool';
import { insertUser } from '../domain/users/store';
import {
  insertWorkspaceWithConnection,
  saveSchemaSnapshot,
  setWorkspaceStatus,
} from '../domain/workspaces/store';
import { createPlatformWorker } from '../workers/worker';
import { startEmulatorProcess } from './emulator-process';
import { recordResult } from './results';
import { eventTimeMs, startBenchTemporal } from './temporal';

/**
 * Write and compensation throughput of change sets, journal included: the real workflow and
 * activities on a Temporal dev server, Postgres, and the emulator in its own process with real
 * limits (5 req/s per base) and 100–250 ms latency. The ceiling is 5 requests × 10 records =
 * 50 records/s per base.
 *  1. a change set creating N records: records/s from workflow start to close;
 *  2. the same set followed by a step Airtable refuses: the N created records are deleted again;
 *     records/s from the refusal to the close.
 *   npx tsx bench/change-set-throughput.ts [records]
 */
const RECORDS = Number(process.argv[2] ?? 5_000);
const CEILING = 50;
const TOKEN = 'patChangeSetBench.0123456789abcdef';
const BASE_ID = 'appBENCHchangeSet';

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const emulator = await startEmulatorProcess({
    token: TOKEN,
    latency: '100-250',
    seed: {
      bases: [
        {
          id: BASE_ID,
          name: 'Change set benchmark',
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
              ],
              records: [{ fields: { Name: 'Existing', Amount: 1, Status: 'Open' } }],
            },
          ],
        },
      ],
    },
  });
  const config = loadConfig();
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  const temporal = await startBenchTemporal();
  const { connection, client } = temporal;
  const encryptionKey = randomBytes(32);
  const taskQueue = `bench-change-sets-${randomUUID().slice(0, 8)}`;
  // The process's one pacer and schema cache, as in workers/main.ts.
  const airtable = createAirtableAccess(pool, { endpointUrl: emulator.url, requestTimeoutMs: 30_000 });
  const worker = await createPlatformWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: { pool, encryptionKey, airtable },
  });
  const running = worker.run();

  const userId = randomUUID();
  const workspaceId = randomUUID();
  await insertUser(pool, { id: userId, email: `bench-${userId}@example.com`, name: null, passwordHash: 'x' });
  await insertWorkspaceWithConnection(pool, {
    id: workspaceId,
    ownerId: userId,
    name: 'Benchmark',
    baseId: BASE_ID,
    token: TOKEN,
    encryptionKey,
  });
  const schema = await getBaseSchema(metaOptions(airtable, TOKEN), BASE_ID);
  await saveSchemaSnapshot(pool, workspaceId, BASE_ID, schema);
  await setWorkspaceStatus(pool, workspaceId, 'active');
  const seeded = (await (await fetch(`${emulator.url}/__emulator/records/${BASE_ID}/Orders`)).json()) as {
    records: Array<{ id: string }>;
  };
  const existing = seeded.records[0]!.id;

  /** Records and starts a change set as the API would, and waits for its workflow to close. */
  async function run(steps: ChangeSetStepInput[]) {
    const { plan, issues } = planChangeSet(steps, schema);
    if (issues.length > 0) throw new Error(JSON.stringify(issues));
    const jobId = `changeset-bench-${randomUUID()}`;
    await withTransaction(pool, async (tx) => {
      await insertJob(tx, { id: jobId, kind: 'changeset.apply', workspaceId, userId });
      await insertChangeSet(tx, { id: jobId, workspaceId, baseId: BASE_ID, plan });
    });
    const handle = await client.workflow.start(applyChangeSet, {
      taskQueue,
      workflowId: jobId,
      args: [{ changeSetId: jobId, workspaceId, userId }],
    });
    const result = await handle.result();
    const description = await handle.describe();
    const history = await handle.fetchHistory();
    const refusedAt = history.events!.find((e) => e.activityTaskFailedEventAttributes)?.eventTime;
    return {
      result,
      startMs: description.startTime.getTime(),
      closeMs: description.closeTime!.getTime(),
      refusedMs: refusedAt ? eventTimeMs(refusedAt) : undefined,
      events: history.events!.length,
    };
  }

  const creates: ChangeSetStepInput = {
    table: 'Orders',
    action: 'create',
    records: Array.from({ length: RECORDS }, (_, i) => ({
      fields: { Name: `Order ${i}`, Amount: i * 1.5, Status: i % 3 ? 'Open' : 'Paid' },
    })),
  };
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

  const applied = await run([creates]);
  if (applied.result.status !== 'completed') throw new Error(`apply ended ${applied.result.status}`);
  const applySeconds = (applied.closeMs - applied.startMs) / 1000;

  await fetch(`${emulator.url}/__emulator/faults`, {
    method: 'PUT',
    body: JSON.stringify({ rules: [{ operation: 'update', table: 'Orders', status: 422 }] }),
  });
  // One record fewer, so the set with its refused step stays within the 10,000-record limit.
  const undoCount = RECORDS - 1;
  const undone = await run([
    {
      ...creates,
      records: creates.records
        .slice(0, undoCount)
        .map((r, i) => ({ fields: { ...r.fields, Name: `Second ${i}` } })),
    },
    { table: 'Orders', action: 'update', records: [{ id: existing, fields: { Amount: 2 } }] },
  ]);
  clearInterval(sampler);
  const log = (await (await fetch(`${emulator.url}/__emulator/log`)).json()) as {
    entries: Array<{ status: number }>;
  };
  const refusals = log.entries.filter((e) => e.status === 429).length;
  if (undone.result.status !== 'compensated') throw new Error(`compensation ended ${undone.result.status}`);
  const undoSeconds = (undone.closeMs - undone.refusedMs!) / 1000;
  const left = (
    (await (await fetch(`${emulator.url}/__emulator/records/${BASE_ID}/Orders`)).json()) as {
      records: unknown[];
    }
  ).records.length;

  worker.shutdown();
  await running;
  await temporal.stop();
  emulator.stop();
  await pool.end();

  const row = (what: string, records: number, seconds: number, events: number) => {
    const perSecond = records / seconds;
    return `| ${what} | ${records} | ${seconds.toFixed(1)} | ${perSecond.toFixed(1)} | ${((100 * perSecond) / CEILING).toFixed(1)}% | ${events} |`;
  };
  const lines = [
    '| run | records | seconds | records/s | share of 50/s ceiling | history events |',
    '|---|---|---|---|---|---|',
    row('apply (creates, journal included)', RECORDS, applySeconds, applied.events),
    row('compensate (delete what was created)', undoCount, undoSeconds, undone.events),
    '',
    `Peak RSS of the worker process ${(peakRss / 2 ** 20).toFixed(0)} MiB (${((peakRss - rssBefore) / 2 ** 20).toFixed(0)} MiB above its start). 429 answers: ${refusals}. Records left after compensation: ${left} (the 1 seeded + ${RECORDS} from the first run). Emulator with real limits and 100–250 ms latency in its own process; Temporal dev server; Postgres journal; ${'`'}IN_FLIGHT${'`'} = 3 requests of a step at once.`,
  ];
  recordResult(
    'Change sets: write and compensation throughput',
    `npx tsx bench/change-set-throughput.ts ${RECORDS}`,
    lines,
  );
  console.log(lines.join('\n'));
  if (left !== RECORDS + 1)
    throw new Error(`expected ${RECORDS + 1} records after compensation, found ${left}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
