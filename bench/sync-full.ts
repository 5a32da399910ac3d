import type { WorkflowHandle } from '@temporalio/client';
import { recordResult } from './results';
import { eventTimeMs } from './temporal';
import { MiB, rssSampler, startSyncBench, waitForRun } from './sync-harness';

/**
 * The first full sync of one table: the real schedule, workflow and activities on a Temporal dev
 * server, Postgres, and the emulator in its own process with real limits (5 req/s per base) and
 * 100–250 ms latency. The ceiling is 5 requests × 100 records = 500 records/s.
 *   npx tsx bench/sync-full.ts [records]
 */
const RECORDS = Number(process.argv[2] ?? 20_000);
const CEILING = 500;

async function main(): Promise<void> {
  const bench = await startSyncBench(RECORDS);
  const rssBefore = process.memoryUsage().rss;
  const rss = rssSampler();
  const since = Date.now();
  // Creating the sync starts its first run at once (the schedule's triggerImmediately).
  const sync = await bench.syncs.create(bench.workspace, bench.userId, { every: '1h' });
  const jobId = await (async () => {
    for (;;) {
      const view = await bench.syncs.view((await bench.syncs.owned(sync.id, bench.userId))!);
      if (view.running) return view.running.job.id;
      if (view.lastRuns[0]) return view.lastRuns[0].job.id;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const run = await waitForRun(bench.client, jobId);
  const history = await bench.client.workflow.getHandle(jobId).fetchHistory();
  const phases = activityTimes(history);
  if (process.env.BENCH_TIMELINE) printTimeline(history);
  const peak = rss.stop();
  const log = await bench.log(since);
  const pages = log.filter((e) => e.path.includes('/listRecords'));
  const refused = log.filter((e) => e.status === 429).length;
  const requests = log.filter((e) => e.path.startsWith('/v0/') && !e.path.includes('/whoami')).length;
  const rows = await bench.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${sync.postgres.schema}".orders`,
  );
  await bench.stop();

  if (run.result.status !== 'completed' || rows.rows[0]!.n !== RECORDS)
    throw new Error(`run ended ${JSON.stringify(run.result)} with ${rows.rows[0]!.n} rows`);
  const seconds = (run.closeMs - run.startMs) / 1000;
  const copySeconds = (pages.at(-1)!.at - pages[0]!.at) / 1000 + 0.2;
  const perSecond = RECORDS / seconds;
  const share = (perSecond / CEILING) * 100;
  const line = `| ${RECORDS} | ${pages.length} | ${requests} | ${seconds.toFixed(1)} | ${perSecond.toFixed(0)} | **${share.toFixed(1)}%** | ${(RECORDS / copySeconds).toFixed(0)} | ${refused} | ${MiB(peak)} | ${MiB(peak - rssBefore)} |`;
  const phaseLine = Object.entries(phases)
    .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(2)} s`)
    .join(', ');
  console.log(line);
  console.log(phaseLine);
  recordResult('Sync: first full sync of one table', `npx tsx bench/sync-full.ts ${RECORDS}`, [
    'The real sync: `POST …/syncs` (the sync service) creates the Temporal Schedule, whose first run starts at once; the `syncRun` workflow and its activities run in a worker in this process on a Temporal dev server; Postgres is the bench database `airtable_ops_bench_sync`; the worker has run the workflow three times first (runs that find no sync and end at once), as a worker in service has. The emulator runs in its own process with real limits (5 req/s per base, 50 req/s per token, 30 s penalty) and 100–250 ms latency. The run lists the webhooks, creates one, reads the schema, copies the table into staging as two listings at once split by record id (each page written while the next request of its listing waits for its start; a checkpoint heartbeat after each page), then fills the typed mirror table from it in one transaction. Target: ≥ 95% of the ceiling.',
    '',
    '| records | pages | Airtable requests | run seconds (workflow start → close) | records/s | share of 500/s ceiling | records/s while copying (first → last page) | 429s | peak RSS (worker, API and client in one process) | RSS growth |',
    '|---|---|---|---|---|---|---|---|---|---|',
    line,
    '',
    `Where the run's time went (activities, scheduled → completed, from the workflow history): ${phaseLine}.`,
  ]);
}

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Each activity type's total time in the run, scheduled → completed. */
function activityTimes(history: History): Record<string, number> {
  const scheduled = new Map<number, { name: string; at: number }>();
  const totals: Record<string, number> = {};
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s)
      scheduled.set(Number(event.eventId), {
        name: s.activityType?.name ?? '?',
        at: eventTimeMs(event.eventTime),
      });
    const c = event.activityTaskCompletedEventAttributes;
    if (c) {
      const from = scheduled.get(Number(c.scheduledEventId));
      if (from) totals[from.name] = (totals[from.name] ?? 0) + eventTimeMs(event.eventTime) - from.at;
    }
  }
  return totals;
}

/** Every event of the run's history, in ms from its first (BENCH_TIMELINE=1). */
function printTimeline(history: History): void {
  const first = eventTimeMs(history.events?.[0]?.eventTime);
  for (const event of history.events ?? [])
    console.log(
      `${(eventTimeMs(event.eventTime) - first).toFixed(1).padStart(9)} ms  ${String(event.eventType)}`,
    );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
