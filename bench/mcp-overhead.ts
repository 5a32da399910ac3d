import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { createAirtableAccess, metaOptions } from '../airtable/access';
import { getBaseSchema } from '../airtable/meta';
import { createApp } from '../api/app';
import { listen } from '../api/http-server';
import { composeApi } from '../api/compose';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { listenForApiKeyAccessChanges } from '../domain/api-keys/access-cache';
import { createApiKeyService } from '../domain/api-keys/service';
import { findTool, type ToolContext } from '../domain/tools';
import { insertUser } from '../domain/users/store';
import { openWorkspaceBase } from '../domain/workspaces/connection';
import {
  getWorkspace,
  insertWorkspaceWithConnection,
  saveSchemaSnapshot,
  setWorkspaceStatus,
} from '../domain/workspaces/store';
import { placeClients } from './cpu-placement';
import { startEmulatorProcess } from './emulator-process';
import type { BurstResult, ClientsRequest } from './mcp-clients';
import { recreateDatabase } from '../db/admin';
import { recordResult } from './results';
import { startBenchTemporal } from './temporal';
import { busiestSecond, tightestSpan } from '@airtable-ops/airtable-emulator';

/**
 * What `POST /mcp` adds to a read tool call. 100 concurrent `list_records` calls (10 records each:
 * one Airtable request) through the MCP endpoint (the official SDK's Client over Streamable HTTP,
 * 10 clients × 10 calls at once, each client in a process of its own as agents are, by default on a
 * core the API does not use (bench/cpu-placement.ts), the API in this process on a real port)
 * against 100 concurrent calls of the same tool function on the same Airtable adapter and pacer
 * without MCP, alternating, in the same run. The emulator runs in its own process with real limits
 * (5 req/s per base) and a fixed 150 ms latency (a random one put ±20 ms of noise on each path's
 * p50), so both paths queue on the pacer the same way; then the same with
 * `describe_table` (answered from the schema cache: no Airtable request) for the bare cost of a call
 * under a burst; then `list_records` one call at a time, MCP and direct in turn. Each MCP call's own
 * overhead is its client's wait minus the server's time inside the tool call (`Server-Timing`).
 *   npx tsx bench/mcp-overhead.ts [calls] [rounds]
 */
const CALLS = Number(process.argv[2] ?? 100);
const ROUNDS = Number(process.argv[3] ?? 3);
const CLIENTS = 10;
/**
 * `apart` (default): the client processes on a core of their own, as agents are on machines of
 * their own; `shared`: on the API's cores too (BENCH_MCP_CLIENTS_CPU).
 */
const PLACEMENT = process.env.BENCH_MCP_CLIENTS_CPU === 'shared' ? 'shared' : 'apart';
/** Client processes the clients are spread over (BENCH_MCP_CLIENT_PROCESSES, 1 to 10). */
const CLIENT_PROCESSES = Number(process.env.BENCH_MCP_CLIENT_PROCESSES ?? 10);
const SEQUENTIAL = 30;
const TARGET_MS = 15;
const TOKEN = 'patMcpBench.0123456789abcdef0123';
const BASE_ID = 'appBENCHmcpRead01';
const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops_bench_mcp';

/** Stops what the run started (the emulator, the dev server, the clients) when it fails half way. */
const cleanups: Array<() => unknown> = [];

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const ms = (v: number) => `${v.toFixed(1)} ms`;

async function main(): Promise<void> {
  const emulator = await startEmulatorProcess({
    token: TOKEN,
    latency: '150',
    seed: {
      bases: [
        {
          id: BASE_ID,
          name: 'MCP benchmark',
          tables: [
            {
              name: 'Orders',
              fields: [
                { name: 'Name', type: 'singleLineText' },
                { name: 'Amount', type: 'number', options: { precision: 2 } },
                { name: 'Notes', type: 'multilineText' },
              ],
              records: Array.from({ length: 200 }, (_, i) => ({
                fields: { Name: `Order ${i}`, Amount: i * 1.5, Notes: `Deliver to dock ${i % 17}` },
              })),
            },
          ],
        },
      ],
    },
  });
  cleanups.push(() => emulator.stop());
  await recreateDatabase(DATABASE_URL);
  await migrate(DATABASE_URL);
  const pool = createPool(DATABASE_URL);
  // No worker in this process: the API needs a client only.
  const temporal = await startBenchTemporal({ worker: false });
  cleanups.push(() => temporal.stop());
  const encryptionKey = randomBytes(32);
  // The API process's one pacer and schema cache, shared by both paths.
  const airtable = createAirtableAccess(pool, { endpointUrl: emulator.url, requestTimeoutMs: 30_000 });
  const logger = createLogger({ level: 'silent' });

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
  await saveSchemaSnapshot(
    pool,
    workspaceId,
    BASE_ID,
    await getBaseSchema(metaOptions(airtable, TOKEN), BASE_ID),
  );
  await setWorkspaceStatus(pool, workspaceId, 'active');
  const workspace = (await getWorkspace(pool, workspaceId))!;
  const { secret } = await createApiKeyService({ pool }).create(workspace, userId, {
    name: 'bench',
    scopes: ['read'],
  });

  // The API as api/main.ts composes it: key checks kept while Postgres's change notifications are heard.
  const accessChanges = listenForApiKeyAccessChanges(DATABASE_URL, logger);
  cleanups.push(() => accessChanges.close());
  const deps = composeApi({
    pool,
    temporal: { client: temporal.client, taskQueue: 'bench-mcp-unused' },
    airtable,
    config: {
      jwtSecret: randomBytes(32).toString('base64'),
      encryptionKey,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 3600,
      corsOrigins: [],
      loginRateLimitPerMinute: 1000,
    },
    logger,
    accessChanges,
  });
  const app = createApp(deps);
  // As api/main.ts serves it (keep-alive included).
  const server = await listen(app, 0, '127.0.0.1');
  const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`);
  // The MCP clients in processes of their own (bench/mcp-clients.ts), as clients are elsewhere in
  // production, and by default on a core of their own: their CPU is not the API's. Each tools/call
  // POST comes back with its client's wait and the server's time inside the tool call
  // (`Server-Timing`): each call's overhead, exactly.
  const placement = placeClients(PLACEMENT);
  const processes = Array.from({ length: CLIENT_PROCESSES }, () => {
    const child: ChildProcess = spawn(
      ...placement.forClients(process.execPath, ['--import', 'tsx', path.join(__dirname, 'mcp-clients.ts')]),
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const pending: Array<(reply: { ok: boolean; answer?: unknown; error?: string }) => void> = [];
    child.on('message', (reply: { ok: boolean; answer?: unknown; error?: string }) =>
      pending.shift()?.(reply),
    );
    cleanups.push(() => child.kill());
    return <T>(request: ClientsRequest): Promise<T> =>
      new Promise((resolve, reject) => {
        pending.push((reply) => (reply.ok ? resolve(reply.answer as T) : reject(new Error(reply.error))));
        child.send(request);
      });
  });
  /** Asks every client process at once; a burst's calls are split between them. */
  const askAll = <T>(request: ClientsRequest): Promise<T[]> =>
    Promise.all(processes.map((ask) => ask<T>(request)));
  await askAll({ type: 'connect', url: url.toString(), secret, clients: CLIENTS / CLIENT_PROCESSES });
  let paired: BurstResult['paired'] = [];

  // The direct path: the same tool function on the same adapter, without MCP.
  const base = await openWorkspaceBase({ pool, encryptionKey, airtable }, workspaceId);
  const context: ToolContext = {
    workspaceId,
    baseId: base.baseId,
    workspaceName: workspace.name,
    records: base.records,
    meta: base.meta,
    airtable,
    preferences: {},
    saveExport: async () => '',
    jobStatus: async () => undefined,
  };

  type Phase = { tool: string; args: Record<string, unknown> };
  const phases: Phase[] = [
    { tool: 'list_records', args: { tableId: 'Orders', maxRecords: 10 } },
    { tool: 'describe_table', args: { tableId: 'Orders' } },
  ];

  /** When each burst's calls were made (epoch ms), to find its first Airtable request in the emulator's log. */
  const bursts: Array<{ tool: string; path: 'mcp' | 'direct'; startedAt: number }> = [];
  /** Calls that did not succeed, per path (a 429 from the emulator would show here). */
  const failures = { mcp: 0, direct: 0, examples: [] as string[] };

  /**
   * A burst through MCP: each call's latency from when its client made it, and from when the burst's
   * first request left a client (`fromWire`), and how long the clients took to send that one (`lead`).
   */
  async function throughMcp(
    phase: Phase,
    calls = CALLS,
  ): Promise<{ latencies: number[]; fromWire: number[]; lead: number }> {
    const parts =
      calls === 1
        ? [await processes[0]!<BurstResult>({ type: 'burst', tool: phase.tool, args: phase.args, calls })]
        : await askAll<BurstResult>({
            type: 'burst',
            tool: phase.tool,
            args: phase.args,
            calls: calls / CLIENT_PROCESSES,
          });
    const firstSent = Math.min(...parts.map((p) => p.firstSentAt));
    const startedAt = Math.min(...parts.map((p) => p.startedAt));
    for (const p of parts) {
      failures.mcp += p.failures.length;
      failures.examples.push(...p.failures);
      paired.push(...p.paired);
    }
    if (calls === CALLS) bursts.push({ tool: phase.tool, path: 'mcp', startedAt });
    return {
      latencies: parts.flatMap((p) => p.latencies),
      fromWire: parts.flatMap((p) => p.answeredAt.map((at) => at - firstSent)),
      lead: firstSent - startedAt,
    };
  }

  async function direct(phase: Phase): Promise<number[]> {
    const tool = findTool(phase.tool)!;
    if (tool.kind === 'records') throw new Error('read tools only');
    bursts.push({ tool: phase.tool, path: 'direct', startedAt: performance.timeOrigin + performance.now() });
    return Promise.all(
      Array.from({ length: CALLS }, async () => {
        const started = performance.now();
        await tool.run(context, tool.input.parse(phase.args)).catch((err: unknown) => {
          failures.direct++;
          failures.examples.push(String(err).slice(0, 200));
        });
        return performance.now() - started;
      }),
    );
  }

  /** Lets the pacer's window and the emulator's per-second counts clear between rounds. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

  // Warm-up: the schema cache, connections, JIT.
  for (const phase of phases) {
    await direct(phase);
    await settle();
    await throughMcp(phase);
    await settle();
  }
  const warmUpFailures = failures.mcp + failures.direct;
  failures.mcp = failures.direct = 0;
  const logStart = Date.now();
  const loadBefore = os.loadavg()[0]!;

  const mean = (v: number[]) => v.reduce((n, x) => n + x, 0) / v.length;
  const overheadsOf = (calls: typeof paired) => calls.map((c) => c.latency - c.inside);
  const rows: string[] = [];
  const perCall: string[] = [];
  const verdicts: boolean[] = [];
  for (const phase of phases) {
    const mcp: number[] = [];
    const wire: number[] = [];
    const leads: number[] = [];
    const plain: number[] = [];
    const rounds: number[] = [];
    paired = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which path goes first, so neither always meets a warmer process.
      const order = round % 2 === 0 ? ['mcp', 'direct'] : ['direct', 'mcp'];
      const round50 = { mcp: 0, plain: 0 };
      for (const path of order) {
        if (path === 'mcp') {
          const r = await throughMcp(phase);
          mcp.push(...r.latencies);
          wire.push(...r.fromWire);
          leads.push(r.lead);
          round50.mcp = quantile(r.latencies, 0.5);
        } else {
          const r = await direct(phase);
          plain.push(...r);
          round50.plain = quantile(r, 0.5);
        }
        await settle();
      }
      rounds.push(round50.mcp - round50.plain);
    }
    const overhead = quantile(mcp, 0.5) - quantile(plain, 0.5);
    const fromWire = quantile(wire, 0.5) - quantile(plain, 0.5);
    const met = overhead <= TARGET_MS;
    const o = overheadsOf(paired);
    verdicts.push(met);
    rows.push(
      `| \`${phase.tool}\`, ${CALLS} at once | ${CALLS} × ${ROUNDS} | ${ms(quantile(plain, 0.5))} / ${ms(quantile(plain, 0.95))} | ${ms(quantile(mcp, 0.5))} / ${ms(quantile(mcp, 0.95))} | **${ms(overhead)}** (${met ? 'met' : 'missed'}) | ${rounds.map(ms).join(', ')} (median ${ms(quantile(rounds, 0.5))}) | ${ms(quantile(wire, 0.5))}: ${ms(fromWire)} (first request sent ${leads.map(ms).join(', ')} after the calls) |`,
    );
    perCall.push(
      `| \`${phase.tool}\`, ${CALLS} at once | ${paired.length} | ${ms(
        quantile(
          paired.map((c) => c.inside),
          0.5,
        ),
      )} | **${ms(quantile(o, 0.5))}** / ${ms(quantile(o, 0.95))} / ${ms(mean(o))} |`,
    );
  }

  // One call at a time, MCP and direct in turn: the cost of a call without a burst's queue.
  const sequential = { mcp: [] as number[], plain: [] as number[] };
  paired = [];
  const listRecords = findTool('list_records')!;
  if (listRecords.kind === 'records') throw new Error('read tools only');
  for (let i = 0; i < SEQUENTIAL; i++) {
    sequential.mcp.push(...(await throughMcp(phases[0]!, 1)).latencies);
    const started = performance.now();
    await listRecords.run(context, listRecords.input.parse(phases[0]!.args));
    sequential.plain.push(performance.now() - started);
  }
  const sequentialOverhead = quantile(sequential.mcp, 0.5) - quantile(sequential.plain, 0.5);
  const o = overheadsOf(paired);
  // One at a time, each call's own overhead is the measure: the p50 difference of two sets of calls
  // is mostly the emulator's random 100–250 ms latency.
  const pairedMet = quantile(o, 0.5) <= TARGET_MS;
  rows.push(
    `| \`list_records\`, one at a time | ${SEQUENTIAL} | ${ms(quantile(sequential.plain, 0.5))} / ${ms(quantile(sequential.plain, 0.95))} | ${ms(quantile(sequential.mcp, 0.5))} / ${ms(quantile(sequential.mcp, 0.95))} | ${ms(sequentialOverhead)} (the latencies' noise); each call's own: **${ms(quantile(o, 0.5))}** (${pairedMet ? 'met' : 'missed'}) | | |`,
  );
  perCall.push(
    `| \`list_records\`, one at a time | ${paired.length} | ${ms(
      quantile(
        paired.map((c) => c.inside),
        0.5,
      ),
    )} | **${ms(quantile(o, 0.5))}** / ${ms(quantile(o, 0.95))} / ${ms(mean(o))} |`,
  );

  const log = (await (await fetch(`${emulator.url}/__emulator/log?since=${logStart}`)).json()) as {
    entries: Array<{ status: number; at: number; path: string; baseId?: string }>;
  };
  const baseRequests = log.entries.filter((e) => e.baseId === BASE_ID && e.path.startsWith('/v0/'));
  const refusals = log.entries.filter((e) => e.status === 429).length;
  // Arrivals as the emulator stamped them: more than 5 in a second means requests left too close.
  const busiest = busiestSecond(baseRequests.map((e) => e.at));
  const closest = tightestSpan(
    baseRequests.map((e) => e.at),
    6,
  );

  // How long after its calls each measured list_records burst's first request reached the emulator
  // (its millisecond stamp): where the two paths' chains of starts begin.
  const firstArrival = (path: 'mcp' | 'direct') =>
    bursts
      .filter((b) => b.path === path && b.tool === 'list_records' && b.startedAt >= logStart)
      .map((b) => baseRequests.find((e) => e.at >= Math.floor(b.startedAt))!.at - b.startedAt);

  await askAll({ type: 'close' });
  await new Promise((resolve) => server.close(resolve));
  await temporal.stop();
  await accessChanges.close();
  emulator.stop();
  await pool.end();

  const lines = [
    `${CALLS} concurrent calls per round (${CLIENTS} MCP clients × ${CALLS / CLIENTS} calls at once, the official SDK's \`Client\` + \`StreamableHTTPClientTransport\`, spread over ${CLIENT_PROCESSES} client process(es) of their own (${placement.description}), to \`POST /mcp\` of the API in the bench process, served as \`api/main.ts\` serves it: stateless, a key's check against Postgres kept up to a minute while the process hears Postgres's notifications of key and workspace changes (calls arriving while a check is in flight share it), admitted one per event-loop turn in arrival order), against ${CALLS} concurrent calls of the same tool function on the same Airtable adapter and pacer in the same process ("direct"); ${ROUNDS} rounds per tool, alternating which path goes first, after a warm-up. Emulator in its own process with real limits (5 req/s per base) and a fixed 150 ms latency. \`list_records\` (maxRecords 10) is one Airtable request per call, so both paths queue on the pacer for ~${(CALLS / 5).toFixed(0)} s; \`describe_table\` is answered from the schema cache (no Airtable request): the bare cost of a call under a burst of ${CALLS}. Then ${SEQUENTIAL} \`list_records\` calls one at a time, MCP and direct in turn.`,
    '',
    "How to read the rows: a paced burst's p50 call is its 50th Airtable start, about ten one-second windows after the first, on either path: MCP p50 − direct p50 is how much later MCP's first starts are booked (the chain behind them follows) plus what the answer's way back adds. The last column times MCP's calls from the moment the burst's first request left a client (written to its socket, as undici reports it) instead of from the calls: the clients' lead is the SDK and fetch making the calls in ten processes (a process writes none of its requests until it has made all ten), which agents would do on their own machines. Rounds vary by about ±10 ms (when the Postgres booking of each window's starts is answered, which the two paths share), so a small negative overhead is noise, not a gain. The pacer books a process's starts one window ahead, as the ones five places before them leave, so both paths' windows are spaced alike (docs/pacing.md). Each call's own overhead (the second table) also counts the time a call waits for the API's CPU behind the calls that arrived before it; in a paced burst most of that wait overlaps the wait for its start, which both paths have. `describe_table` needs no Airtable request, so there the wait is all overhead: the bare cost of 100 HTTP requests at once on this machine.",
    '',
    `| calls | n | direct p50 / p95 | MCP p50 / p95 | overhead: MCP p50 − direct p50 (target ≤ ${TARGET_MS} ms) | per round | MCP p50 from the burst's first request on the wire: its overhead (the clients' lead, per round) |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    "Each MCP call's own overhead: the client's wait for the POST minus the server's time inside the tool call (its `Server-Timing`), per call: HTTP, Express, the key check, the SDK's server and client, and in a burst the wait for the CPU behind the calls that arrived before it.",
    '',
    '| calls | n | time inside the tool call p50 | overhead per call p50 / p95 / mean |',
    '|---|---|---|---|',
    ...perCall,
    '',
    `The burst's first Airtable request reached the emulator (stamped to the millisecond) ${firstArrival('mcp').map(ms).join(', ')} after the calls through MCP, ${firstArrival('direct').map(ms).join(', ')} direct (\`list_records\`, per round).`,
    '',
    `429 answers from the emulator during the measured rounds: ${refusals}; calls that failed: ${failures.mcp} through MCP, ${failures.direct} direct (warm-up: ${warmUpFailures}). Busiest second of the base's requests at the emulator: ${busiest} of ${baseRequests.length}; the shortest span holding 6: ${closest.toFixed(0)} ms. Load average (1 min) at the start of the measured rounds: ${loadBefore.toFixed(1)} on ${os.cpus().length} cores (the machine is shared). Verdict on the read tool that calls the adapter (\`list_records\`, 100 at once: MCP p50 − direct p50 ≤ ${TARGET_MS} ms, no 429): ${verdicts[0] && refusals === 0 ? 'met' : 'missed'}.`,
  ];
  recordResult(
    placement.mode === 'apart'
      ? 'MCP: read tool call overhead'
      : "MCP: read tool call overhead, the clients on the API's cores",
    `${placement.mode === 'apart' ? '' : 'BENCH_MCP_CLIENTS_CPU=shared '}npx tsx bench/mcp-overhead.ts ${CALLS} ${ROUNDS}`,
    lines,
  );
  console.log(lines.join('\n'));
  if (failures.examples.length) console.error('failures, e.g.:', failures.examples.slice(0, 3));
  if (refusals > 0) process.exitCode = 1;
}

main().catch(async (err) => {
  console.error(err);
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  process.exit(1);
});
