import { spawn } from 'node:child_process';
import { PostgresPacer } from '../airtable/pacing';
import { createAirtableRecords } from '../airtable/records';
import { loadConfig } from '../core/config';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { busiestSecond, tightestSpan } from '@airtable-ops/airtable-emulator';
import { startEmulatorProcess } from './emulator-process';
import { recordResult } from './results';

/**
 * Pacing across processes, measured from the emulator's own request log:
 *  1. two reader processes hammer ONE base for N seconds (default 60): the busiest one-second
 *     window must hold ≤ 5 requests, and no request may get a 429;
 *  2. two reader processes hammer TEN bases under one token: each base should get ≥ 4.5 req/s and
 *     the token never more than 50 in a second.
 *   npx tsx bench/pacing.ts [seconds]
 * (`--reader …` is the child mode.)
 */
// A fresh token per run, so no pacing state or penalty of an earlier run carries over.
/** Concurrent request loops per base in each reader process. */
const LOOPS = Number(process.env.BENCH_PACING_LOOPS ?? 4);
const TOKEN = `patPacingBench.${Date.now().toString(36)}0123456789`;

interface LogEntry {
  at: number;
  path: string;
  baseId?: string;
  tokenId?: string;
  status: number;
}

async function reader(
  url: string,
  token: string,
  bases: string[],
  seconds: number,
  concurrency: number,
  startAt: number,
): Promise<void> {
  const config = loadConfig();
  // A worker's pool (10 connections), opened before the start like a worker's that has been running.
  const pool = createPool(config.databaseUrl);
  const pacer = new PostgresPacer(pool);
  // Both readers start together once loaded: start-up (module loading, connecting) saturates a
  // 2-core machine, and the benchmark measures steady pacing, not how two cold processes share a CPU.
  await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT pg_sleep(0.05)')));
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
  const deadline = Date.now() + seconds * 1000;
  let requests = 0;
  const errors: string[] = [];
  await Promise.all(
    bases.flatMap((baseId) => {
      const records = createAirtableRecords({ endpointUrl: url, token, baseId, pacer });
      return Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          try {
            await records.listPage('Items', { pageSize: 100 });
            requests++;
          } catch (err) {
            // A refusal is what this benchmark measures (from the emulator's log); stop this loop.
            errors.push((err as Error).message);
            return;
          }
        }
      });
    }),
  );
  await pool.end();
  console.log(JSON.stringify({ requests, errors: errors.length }));
}

async function scenario(
  name: string,
  baseCount: number,
  seconds: number,
): Promise<{ lines: string[]; ok: boolean }> {
  const bases = Array.from({ length: baseCount }, (_, i) => `appPACING${String(i).padStart(8, '0')}`);
  const emulator = await startEmulatorProcess({
    token: TOKEN,
    latency: '20-60',
    seed: {
      bases: bases.map((id) => ({
        id,
        name: id,
        tables: [
          {
            name: 'Items',
            fields: [{ name: 'Name', type: 'singleLineText' }],
            records: Array.from({ length: 300 }, (_, i) => ({ fields: { Name: `Item ${i}` } })),
          },
        ],
      })),
    },
  });
  const { url } = emulator;
  try {
    const startAt = Date.now() + 8_000;
    const readers = [0, 1].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              __filename,
              '--reader',
              url,
              TOKEN,
              bases.join(','),
              String(seconds),
              String(LOOPS),
              String(startAt),
            ],
            {
              stdio: ['ignore', 'pipe', 'inherit'],
            },
          );
          let out = '';
          child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
          child.once('exit', (code) =>
            code === 0
              ? resolve(Number(JSON.parse(out.trim().split('\n').pop() || '{}').requests ?? -1))
              : reject(new Error(`reader exited ${code}`)),
          );
        }),
    );
    const perReader = await Promise.all(readers);
    const log = (await (await fetch(`${url}/__emulator/log`)).json()) as LogEntry[] | { entries: LogEntry[] };
    const entries = Array.isArray(log) ? log : log.entries;
    const throttled = entries.filter((e) => e.status === 429).length;
    const lines = [
      `### ${name}`,
      '',
      '| base | requests | req/s | busiest second | closest 6 requests span |',
      '|---|---|---|---|---|',
    ];
    let ok = throttled === 0;
    for (const baseId of bases) {
      const times = entries.filter((e) => e.baseId === baseId).map((e) => e.at);
      const rate = times.length / seconds;
      const busiest = busiestSecond(times);
      ok &&= busiest <= 5 && rate >= 4.5;
      lines.push(
        `| ${baseId} | ${times.length} | ${rate.toFixed(2)} | ${busiest} | ${tightestSpan(times, 6)} ms |`,
      );
    }
    // The warm-up requests (refused, no token) count against nothing.
    const tokenTimes = entries.filter((e) => e.tokenId).map((e) => e.at);
    const tokenBusiest = busiestSecond(tokenTimes);
    ok &&= tokenBusiest <= 50;
    lines.push(
      '',
      `Two reader processes × ${bases.length} base(s) × ${LOOPS} concurrent loops, ${seconds} s, emulator latency 20–60 ms; requests per reader: ${perReader.join(', ')}.`,
      `429 answers: **${throttled}**. Busiest second for the token: **${tokenBusiest}** (limit 50); closest 51 requests of the token span ${tightestSpan(tokenTimes, 51)} ms. Ceiling per base: 5 req/s; pacing window 1 s + 75 ms while a start is not known to have left (→ 4.65 req/s), + 15 ms once all have.`,
      '',
    );
    return { lines, ok };
  } finally {
    emulator.stop();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--reader') {
    const [, , , url, token, bases, seconds, concurrency, startAt] = process.argv;
    return reader(url!, token!, bases!.split(','), Number(seconds), Number(concurrency), Number(startAt));
  }
  const seconds = Number(process.argv[2] ?? 60);
  await migrate(loadConfig().databaseUrl);
  const pool = createPool(loadConfig().databaseUrl);
  await pool.query(`DELETE FROM airtable_pacing WHERE key LIKE 'base:appPACING%'`);
  await pool.end();
  const one = await scenario('One base, two processes', 1, seconds);
  const ten = await scenario('Ten bases, one token, two processes', 10, seconds);
  recordResult('Pacing across worker processes', `npx tsx bench/pacing.ts ${seconds}`, [
    ...one.lines,
    ...ten.lines,
  ]);
  console.log([...one.lines, ...ten.lines].join('\n'));
  if (!one.ok || !ten.ok) {
    console.error('pacing target missed');
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
