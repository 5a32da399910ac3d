import { PostgresPacer } from '../airtable/pacing';
import { createAirtableRecords } from '../airtable/records';
import { readAllPages } from '../airtable/streaming';
import { loadConfig } from '../core/config';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { startEmulatorProcess } from './emulator-process';
import { recordResult } from './results';

/**
 * Reads a 20,000-record table through the Airtable adapter from the emulator running with real
 * limits (5 req/s per base) and 100–250 ms latency, and compares records/s with the ceiling of
 * 5 requests × 100 records = 500 records/s. The emulator runs in its own process so the memory
 * figure is the adapter's alone.
 *   npx tsx bench/read-throughput.ts [records]
 */
const RECORDS = Number(process.argv[2] ?? 20_000);
const CEILING = 500;
const TOKEN = 'patBenchmarkToken.0123456789abcdef';
const BASE_ID = 'appBENCHMARKread1';

async function main(): Promise<void> {
  const emulator = await startEmulatorProcess({
    token: TOKEN,
    latency: '100-250',
    seed: {
      bases: [
        {
          id: BASE_ID,
          name: 'Read benchmark',
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
                { name: 'Notes', type: 'multilineText' },
              ],
              records: Array.from({ length: RECORDS }, (_, i) => ({
                fields: {
                  Name: `Order ${i}`,
                  Amount: i * 1.5,
                  Status: i % 3 ? 'Open' : 'Paid',
                  Notes: `Deliver to dock ${i % 17}`,
                },
              })),
            },
          ],
        },
      ],
    },
  });

  const config = loadConfig();
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  const records = createAirtableRecords({
    endpointUrl: emulator.url,
    token: TOKEN,
    baseId: BASE_ID,
    pacer: new PostgresPacer(pool),
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const startRss = process.memoryUsage().rss;
  const started = performance.now();
  let pages = 0;
  const done = await readAllPages(records, 'Orders', { pageSize: 100 }, () => {
    pages++;
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  emulator.stop();
  await pool.end();

  const perSecond = done.delivered / seconds;
  const share = (100 * perSecond) / CEILING;
  const lines = [
    '| records | pages | seconds | records/s | share of 500/s ceiling | requests/s | peak RSS | RSS growth |',
    '|---|---|---|---|---|---|---|---|',
    `| ${done.delivered} | ${pages} | ${seconds.toFixed(1)} | ${perSecond.toFixed(0)} | ${share.toFixed(1)}% | ${(pages / seconds).toFixed(2)} | ${(peakRss / 2 ** 20).toFixed(0)} MiB | ${((peakRss - startRss) / 2 ** 20).toFixed(0)} MiB |`,
    '',
    'Emulator with real limits (5 req/s per base, 50 req/s per token, 30 s penalty) and 100–250 ms latency per request, in its own process; pacing through Postgres (`PostgresPacer`: 5 starts per 1 s + 15 ms once the earlier requests are known to have left, as they are when reading page after page; 1 s + 75 ms otherwise).',
  ];
  recordResult(
    'Read throughput: one table through the adapter',
    `npx tsx bench/read-throughput.ts ${RECORDS}`,
    lines,
  );
  console.log(lines.join('\n'));
  if (done.delivered !== RECORDS) throw new Error(`read ${done.delivered} of ${RECORDS} records`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
