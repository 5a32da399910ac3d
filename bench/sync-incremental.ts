import { baseRecords } from '../airtable/access';
import { chunk } from '../airtable/records';
import { recordResult } from './results';
import { BENCH_BASE_ID, BENCH_TOKEN, startSyncBench, waitForRun } from './sync-harness';

/**
 * Incremental runs of a sync over a 20,000-record table (emulator in its own process, real limits,
 * 100–250 ms latency; real schedule, workflow and activities):
 *  1. a run over the unchanged base: Airtable requests (target ≤ 2);
 *  2. 500 records changed through the Web API (50 requests of 10, paced with the worker), then one
 *     run: requests (target ≤ 1 per 50 payloads + 2), payloads, run time;
 *  3. the schedule running every INTERVAL seconds: 500 more records changed, and the time until the
 *     last change is visible in Postgres (target ≤ one interval + that run's own time).
 *   npx tsx bench/sync-incremental.ts [records] [interval seconds]
 */
const RECORDS = Number(process.argv[2] ?? 20_000);
const INTERVAL = Number(process.argv[3] ?? 30);
const CHANGED = 500;

async function main(): Promise<void> {
  const bench = await startSyncBench(RECORDS);
  const sync = await bench.syncs.create(bench.workspace, bench.userId, { every: `${INTERVAL}s` });
  const record = (await bench.syncs.owned(sync.id, bench.userId))!;
  // The first (full) run starts at once; pause so only the runs this benchmark starts happen.
  await bench.syncs.pause(record);
  const firstId = await poll(async () => (await bench.syncs.view(record)).lastRuns[0]?.job.id);
  await waitForRun(bench.client, firstId);

  const requestsOf = async (run: { startMs: number; closeMs: number }) =>
    (await bench.log(run.startMs)).filter(
      (e) => e.at <= run.closeMs && e.path.startsWith('/v0/') && !e.path.includes('/whoami'),
    ).length;

  // 1. Nothing changed.
  const unchanged = await waitForRun(bench.client, (await bench.syncs.trigger(record)).jobId);
  const unchangedRequests = await requestsOf(unchanged);

  // 2. 500 changed records, one run.
  const records = baseRecords(bench.airtable, { baseId: BENCH_BASE_ID, token: BENCH_TOKEN });
  const ids = (await (
    await fetch(`${bench.emulator.url}/__emulator/records/${BENCH_BASE_ID}/Orders`)
  ).json()) as {
    records: Array<{ id: string }>;
  };
  const change = async (round: number) => {
    const picked = ids.records.slice(round * CHANGED, (round + 1) * CHANGED);
    const batches = chunk(
      picked.map((r, i) => ({
        id: r.id,
        fields: { Name: `Changed ${round}.${i}`, Amount: round * 1000 + i },
      })),
    );
    for (const batch of batches) await records.update('Orders', batch);
    return picked.at(-1)!.id;
  };
  await change(0);
  const changed = await waitForRun(bench.client, (await bench.syncs.trigger(record)).jobId);
  const changedRequests = await requestsOf(changed);
  const payloads = Number(changed.result.payloads);
  const budget = Math.ceil(payloads / 50) + 2;

  // 3. The schedule at work: the last of 500 changes visible within one interval plus its run's time.
  await bench.syncs.resume(record);
  const lastId = await change(1);
  const writtenAt = Date.now();
  const lastName = `Changed 1.${CHANGED - 1}`;
  await poll(async () => {
    const { rows } = await bench.pool.query<{ name: string }>(
      `SELECT name FROM "${sync.postgres.schema}".orders WHERE id = $1`,
      [lastId],
    );
    return rows[0]?.name === lastName ? true : undefined;
  }, 20);
  const visibleMs = Date.now() - writtenAt;
  const view = await bench.syncs.view(record);
  const carrier = view.lastRuns.find((r) => r.status === 'completed' && r.counts.updated > 0)!;
  const carrierRun = await waitForRun(bench.client, carrier.job.id);
  const runSeconds = (carrierRun.closeMs - carrierRun.startMs) / 1000;
  const refused = (await bench.log(0)).filter((e) => e.status === 429).length;
  await bench.stop();

  const rows = [
    `| unchanged base of ${RECORDS} records | 0 | ${unchangedRequests} | ≤ 2 | ${((unchanged.closeMs - unchanged.startMs) / 1000).toFixed(2)} s | ${unchangedRequests <= 2 ? 'met' : '**missed**'} |`,
    `| ${CHANGED} records changed (50 PATCH requests of 10) | ${payloads} | ${changedRequests} | ≤ ${budget} (⌈${payloads}/50⌉ + 2) | ${((changed.closeMs - changed.startMs) / 1000).toFixed(2)} s | ${changedRequests <= budget && Number(changed.result.updated) === CHANGED ? 'met' : '**missed**'} |`,
  ];
  const visibility = `Schedule every ${INTERVAL} s: the last of ${CHANGED} more changed records was visible in Postgres ${(visibleMs / 1000).toFixed(1)} s after it was written; the run that carried it took ${runSeconds.toFixed(2)} s, so the bound (one interval + the run) is ${(INTERVAL + runSeconds).toFixed(1)} s: **${visibleMs / 1000 <= INTERVAL + runSeconds ? 'met' : 'missed'}**. 429 answers in the whole benchmark: ${refused}.`;
  console.log([...rows, visibility].join('\n'));
  recordResult('Sync: incremental runs', `npx tsx bench/sync-incremental.ts ${RECORDS} ${INTERVAL}`, [
    `A sync of one table of ${RECORDS} records (its first full run done), the emulator in its own process with real limits and 100–250 ms latency, the real schedule, workflow and activities. Requests are the emulator's log entries between the run's workflow start and close (the connection warm-up, \`/v0/meta/whoami\`, counts against nothing and is left out). An incremental run lists the base's webhooks (is the hook alive, is anything new?), then reads payloads 50 at a time only when the hook's cursor moved.`,
    '',
    '| run | payloads | Airtable requests | target | run time | |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    visibility,
  ]);
}

async function poll<T>(fn: () => Promise<T | undefined>, everyMs = 100): Promise<T> {
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
