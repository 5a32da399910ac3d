import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  startGeminiEmulator,
  type GeminiRequestView,
  type ScriptedAnswer,
} from '@airtable-ops/gemini-emulator';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { createAirtableAccess } from '../airtable/access';
import { createApp } from '../api/app';
import { composeApi } from '../api/compose';
import { agentSettings } from '../core/agent-config';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';
import { createAgentEngine } from '../domain/agent/engine';
import { createGeminiModel } from '../domain/agent/llm';
import * as agentStore from '../domain/agent/store';
import { createChangeSetRecorder } from '../domain/change-sets/recorder';
import { insertWorkspaceWithConnection, setWorkspaceStatus } from '../domain/workspaces/store';
import { taskQueues } from '../temporal/task-queues';
import { recreateDatabase } from '../db/admin';
import { recordResult } from './results';
import { startBenchTemporal } from './temporal';

/**
 * Many conversations at once on ONE worker process: peak memory and throughput.
 *
 * The worker is `workers/main.ts` in its own process (node --import tsx, as the tests spawn it),
 * its model the Gemini emulator running in this process, whose scripted answer is a function of the
 * request: fewer than `steps − 1` function responses since the user's text → a `list_bases` call
 * (a tool that answers from the workspace row, no Airtable request), else a text answer. The API
 * (createApp + composeApi) runs in this process too, on a port; everything goes through HTTP.
 *  1. alone: a few conversations one after the other, one turn each: the single-conversation step
 *     time;
 *  2. at once: `conversations` conversations each get one message at the same moment; every turn
 *     must end with the final answer. Peak RSS of the worker (VmRSS sampled every 100 ms, and the
 *     kernel's VmHWM), total time, steps/s;
 *  3. the ceiling without Temporal: the same turns run as plain calls of the engine (startTurn,
 *     callModel, executeTool, finishTurn), all at once, in a process of their own with the worker's
 *     pool size and the same emulator.
 *   npx tsx bench/agent-concurrency.ts [conversations=200] [steps=5]
 * For diagnosis: BENCH_TEMPORAL_ADDRESS (a server already running), BENCH_WORKER_NODE_ARGS (node flags
 * of the worker, e.g. --trace-gc), BENCH_NO_RECORD=1 (RESULTS.md left alone); BENCH_DATABASE_URL.
 */
const PLAIN_CHILD = process.argv[2] === '--plain';
const CONVERSATIONS = PLAIN_CHILD ? 0 : Number(process.argv[2] ?? 200);
const STEPS = PLAIN_CHILD ? 0 : Number(process.argv[3] ?? 5);
const SINGLE_RUNS = 5;
const RSS_TARGET_MIB = 500;
const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops_bench_agent_load';
const TOKEN = 'patAgentLoadBench.0123456789abcdef';
const BASE_ID = 'appBENCHagentLoad';
const ROOT = path.resolve(__dirname, '..');
const MiB = 2 ** 20;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const finalAnswer = (toolCalls: number) => `Done: I read ${toolCalls} tool results.`;

/** The answer to one model request: list_bases until `toolCalls` results came back, then text. */
function answerFor(toolCalls: number) {
  return (request: GeminiRequestView): ScriptedAnswer => {
    const contents = request.body.contents ?? [];
    let seen = 0;
    for (let i = contents.length - 1; i >= 0; i--) {
      const parts = contents[i]!.parts ?? [];
      if (contents[i]!.role === 'user' && parts.some((p) => typeof p.text === 'string')) break;
      seen += parts.filter((p) => p.functionResponse).length;
    }
    return seen < toolCalls
      ? { functionCalls: [{ name: 'list_bases', args: {} }] }
      : { text: finalAnswer(toolCalls) };
  };
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** VmRSS (of which anonymous memory), VmHWM (peak) of a process, in bytes; CPU seconds (user + system). */
function procStats(pid: number): { rss: number; anon: number; hwm: number; cpu: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 per second).
    const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), hwm: kb('VmHWM'), cpu };
  } catch {
    return undefined;
  }
}

/** The machine's busy and total CPU time (all cores, all processes), in clock ticks. */
function machineCpu(): { busy: number; total: number } {
  const values = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  return { busy: total - values[3]! - (values[4] ?? 0), total };
}

/** Samples a process's memory every 100 ms: the highest VmRSS seen since `reset()`, with its anonymous part. */
function sampleMemory(pid: number) {
  let peak = { rss: 0, anon: 0 };
  const take = () => {
    const now = procStats(pid);
    if (now && now.rss > peak.rss) peak = { rss: now.rss, anon: now.anon };
  };
  const timer = setInterval(take, 100);
  return {
    get peak() {
      take();
      return peak;
    },
    reset() {
      peak = { rss: 0, anon: 0 };
      take();
    },
    stop: () => clearInterval(timer),
  };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function inBatches<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

interface PlainTurn {
  conversationId: string;
  turnId: string;
  messageId: string;
}

/**
 * Phase 3's process: the engine's steps as plain calls, every turn at once, configured from the
 * environment as the worker is (its pool of 10, the Gemini client on the emulator).
 */
async function plainChild(): Promise<void> {
  const config = loadConfig();
  const pool = createPool(config.databaseUrl);
  const airtable = createAirtableAccess(pool, config.airtable);
  const engine = createAgentEngine({
    pool,
    encryptionKey: config.encryptionKey,
    airtable,
    model: createGeminiModel({ apiKey: config.gemini.apiKey!, baseUrl: config.gemini.baseUrl }),
    changeSets: createChangeSetRecorder({ pool, encryptionKey: config.encryptionKey, airtable }),
    settings: agentSettings(config),
  });
  process.once('message', (message: { turns: PlainTurn[]; maxSteps: number }) => {
    void (async () => {
      const start = performance.now();
      let modelCalls = 0;
      const endings = await Promise.all(
        message.turns.map(async ({ conversationId, turnId, messageId }) => {
          await engine.startTurn({ conversationId, turnId, messageId });
          for (let step = 1; step <= message.maxSteps; step++) {
            modelCalls++;
            const result = await engine.callModel({ conversationId, turnId, step });
            if (result.kind !== 'tool_calls') {
              const ending = result.kind === 'answer' ? 'answered' : 'failed';
              await engine.finishTurn({ conversationId, turnId, ending, steps: step });
              return ending;
            }
            await Promise.all(
              result.calls.map((c) => engine.executeTool({ conversationId, toolCallId: c.toolCallId })),
            );
          }
          return 'step_cap';
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      process.send!({ seconds, modelCalls, answered: endings.filter((e) => e === 'answered').length }, () => {
        void pool.end().then(() => process.exit(0));
      });
    })().catch((err) => {
      console.error(err);
      process.exit(1);
    });
  });
  process.send!({ ready: true });
}

async function main(): Promise<void> {
  if (!(CONVERSATIONS > 0 && STEPS >= 2))
    throw new Error('usage: agent-concurrency.ts [conversations>0] [steps>=2]');
  // One payload key for this process (the API's client), the worker and the plain-calls process
  // (temporal/codec.ts): given explicitly, so nothing is read from or written to .data/.
  process.env.PAYLOAD_ENCRYPTION_KEYS ??= `bench:${randomBytes(32).toString('base64')}`;
  // Children this process started do not outlive it, even when it fails.
  const children: ChildProcess[] = [];
  process.once('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
  const toolCalls = STEPS - 1;
  const maxSteps = Math.max(10, STEPS);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  await recreateDatabase(DATABASE_URL);
  await migrate(DATABASE_URL);
  const pool = createPool(DATABASE_URL);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'bench-agent-load-'));
  console.error(`logs (dev server, worker) in ${workDir}`);
  // BENCH_TEMPORAL_ADDRESS: a server already running (for diagnosis, e.g. a dev server with other dynamic config).
  const given = process.env.BENCH_TEMPORAL_ADDRESS;
  // The worker is a process of its own: this one needs a client only.
  const temporal = await startBenchTemporal({
    worker: false,
    address: given,
    logFile: path.join(workDir, 'temporal.log'),
  });
  const { client } = temporal;
  // A prebuilt bundle, as in the container image: the worker does not run webpack at start.
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  const bundlePath = path.join(workDir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);

  const gemini = await startGeminiEmulator({ requestLogLimit: 100 });
  let modelRequests = 0;
  const answer = answerFor(toolCalls);
  gemini.script(
    Array.from(
      { length: (SINGLE_RUNS + 2 * CONVERSATIONS) * STEPS * 2 },
      () => (request: GeminiRequestView) => {
        modelRequests++;
        return answer(request);
      },
    ),
  );

  const encryptionKey = randomBytes(32);
  const prefix = `bench-agent-load-${randomUUID().slice(0, 8)}-`;
  const taskQueue = taskQueues(prefix).platform;
  const childEnv = {
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATA_DIR: workDir,
    DATABASE_URL,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE_PREFIX: prefix,
    TEMPORAL_WORKFLOW_BUNDLE: bundlePath,
    APP_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    AIRTABLE_ENDPOINT_URL: 'http://127.0.0.1:1',
    GEMINI_API_KEY: gemini.key,
    GEMINI_BASE_URL: gemini.url,
  };
  const workerLog = path.join(workDir, 'worker.log');
  const workerOut = openSync(workerLog, 'a');
  // BENCH_WORKER_NODE_ARGS (e.g. --trace-gc) go to the worker's node alone, for diagnosis (output in worker.log).
  const diagnosis = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const worker: ChildProcess = spawn(
    process.execPath,
    [...diagnosis, '--import', 'tsx', path.join(ROOT, 'workers/main.ts')],
    {
      cwd: ROOT,
      env: childEnv,
      stdio: ['ignore', workerOut, workerOut],
    },
  );
  children.push(worker);
  let workerExited = false;
  worker.once('exit', () => (workerExited = true));
  const workerPid = worker.pid!;
  const memory = sampleMemory(workerPid);
  for (;;) {
    if (workerExited) throw new Error(`the worker exited; see ${workerLog}`);
    const described = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
      taskQueueType: 2, // activity pollers start with the worker's workflow pollers
    });
    if ((described.pollers ?? []).length > 0) break;
    await sleep(200);
  }
  await sleep(1_000);
  const idle = procStats(workerPid)!;

  // --- The API in this process, on a port.
  const airtable = createAirtableAccess(pool, { endpointUrl: 'http://127.0.0.1:1', requestTimeoutMs: 5_000 });
  const app = createApp(
    composeApi({
      pool,
      temporal: { client, taskQueue },
      airtable,
      config: {
        jwtSecret: randomBytes(32).toString('base64'),
        encryptionKey,
        accessTokenTtlSeconds: 3600,
        refreshTokenTtlSeconds: 3600,
        corsOrigins: [],
        loginRateLimitPerMinute: 1000,
      },
      // Errors only: a 500 shows why.
      logger: createLogger({ level: 'error', name: 'api' }),
      maxStepsPerTurn: maxSteps,
    }),
  );
  const http = app.listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  const api = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api/v1`;
  let auth: Record<string, string> = {};
  async function call<T = Record<string, unknown>>(method: string, route: string, body?: unknown) {
    const res = await fetch(`${api}${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...auth },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T };
  }

  const registered = await call<{ accessToken: string; user: { id: string } }>('POST', '/auth/register', {
    email: `bench-${randomUUID()}@example.com`,
    password: 'correct horse battery staple',
    name: 'Bench',
  });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  auth = { authorization: `Bearer ${registered.body.accessToken}` };
  const userId = registered.body.user.id;
  // The workspace row as provisioning leaves it (no tool here reaches Airtable); settings through the API.
  const workspaceId = randomUUID();
  await insertWorkspaceWithConnection(pool, {
    id: workspaceId,
    ownerId: userId,
    name: 'Agent load benchmark',
    baseId: BASE_ID,
    token: TOKEN,
    encryptionKey,
  });
  await setWorkspaceStatus(pool, workspaceId, 'active');
  const patched = await call('PATCH', `/workspaces/${workspaceId}`, {
    settings: { approvalPolicy: 'never' },
  });
  if (patched.status !== 200) throw new Error(`PATCH workspace answered ${patched.status}`);

  async function createConversations(n: number): Promise<string[]> {
    const ids = await inBatches(
      Array.from({ length: n }, (_, i) => i),
      20,
      async (i) => {
        const res = await call<{ conversation: { id: string } }>(
          'POST',
          `/workspaces/${workspaceId}/conversations`,
          {
            title: `Load ${i}`,
          },
        );
        if (res.status !== 201) throw new Error(`create conversation answered ${res.status}`);
        return res.body.conversation.id;
      },
    );
    // Every workflow has claimed its job: what follows measures turns, not starts.
    for (;;) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'running'`,
        [ids],
      );
      if (rows[0]!.n === ids.length) return ids;
      await sleep(100);
    }
  }

  let refusedSends = 0;
  async function send(conversationId: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const res = await call<{ turn: { id: string } }>('POST', `/conversations/${conversationId}/messages`, {
        text: 'Which bases can you reach?',
      });
      if (res.status === 202) return res.body.turn.id;
      if (res.status !== 409 || attempt > 100)
        throw new Error(`send answered ${res.status}: ${JSON.stringify(res.body)}`);
      refusedSends++;
      await sleep(50);
    }
  }

  /** Waits for every turn's end; returns each turn's start (its message stored) and end, DB clock, ms. */
  async function turnsEnded(turnIds: string[], timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await pool.query<{ sent: Date; ended: Date; ending: string }>(
        `SELECT m.created_at AS sent, e.created_at AS ended, e.data->>'ending' AS ending
         FROM conversation_messages m
         JOIN conversation_events e ON e.conversation_id = m.conversation_id AND e.dedupe_key = 'turn-end-' || m.turn_id
         WHERE m.turn_id = ANY($1) AND m.role = 'user'`,
        [turnIds],
      );
      if (rows.length === turnIds.length)
        return rows.map((r) => ({ sent: r.sent.getTime(), ended: r.ended.getTime(), ending: r.ending }));
      if (Date.now() > deadline) throw new Error(`${rows.length} of ${turnIds.length} turns ended in time`);
      await sleep(200);
    }
  }

  // --- 1. One conversation at a time.
  const singleSeconds: number[] = [];
  for (const id of await createConversations(SINGLE_RUNS)) {
    const [turn] = await turnsEnded([await send(id)], 60_000);
    singleSeconds.push((turn!.ended - turn!.sent) / 1000);
  }
  const singleStepMs = (1000 * percentile(singleSeconds, 50)) / STEPS;

  // --- 2. All at once.
  console.error(`creating ${CONVERSATIONS} conversations`);
  const ids = await createConversations(CONVERSATIONS);
  const beforeLoad = procStats(workerPid)!;
  const serverPid = temporal.serverProcess?.pid;
  const serverCpuBefore = serverPid ? procStats(serverPid)?.cpu : undefined;
  memory.reset();
  console.error(`sending ${CONVERSATIONS} messages at once`);
  const requestsBefore = modelRequests;
  const cpuBefore = machineCpu();
  const sendStart = performance.now();
  const turnIds = await Promise.all(ids.map(send));
  const sendSeconds = (performance.now() - sendStart) / 1000;
  const turns = await turnsEnded(turnIds, 15 * 60_000);
  const cpuAfter = machineCpu();
  const afterLoad = procStats(workerPid)!;
  const peak = memory.peak;
  const peakRss = peak.rss;
  const loadRequests = modelRequests - requestsBefore;
  const start = Math.min(...turns.map((t) => t.sent));
  const end = Math.max(...turns.map((t) => t.ended));
  const seconds = (end - start) / 1000;
  const turnSeconds = turns.map((t) => (t.ended - t.sent) / 1000);
  const serverCpuAfter = serverPid ? procStats(serverPid)?.cpu : undefined;
  const serverCpu =
    serverCpuBefore === undefined || serverCpuAfter === undefined
      ? undefined
      : serverCpuAfter - serverCpuBefore;

  // Every conversation back to idle with the final answer, each tool call succeeded, each model call counted once.
  type View = {
    status: string;
    messages: Array<{ text?: string | null; toolCalls?: Array<{ status: string }> }>;
  };
  const views = await inBatches(
    ids,
    20,
    async (id) => (await call<View>('GET', `/conversations/${id}`)).body,
  );
  const complete = views.filter((v) => {
    const calls = v.messages.flatMap((m) => m.toolCalls ?? []);
    return (
      v.status === 'idle' &&
      v.messages.at(-1)?.text === finalAnswer(toolCalls) &&
      calls.length === toolCalls &&
      calls.every((c) => c.status === 'succeeded')
    );
  }).length;
  const usage = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM llm_usage WHERE conversation_id = ANY($1)`,
    [ids],
  );

  // --- 3. The same turns as plain calls, in a process of their own.
  console.error('the same turns as plain calls of the engine');
  const plainTurns: PlainTurn[] = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const conversationId = `conversation-plain-${randomUUID()}`;
    const turnId = `turn-${randomUUID()}`;
    const messageId = `msg-${randomUUID()}`;
    await agentStore.insertConversation(pool, {
      id: conversationId,
      workspaceId,
      userId,
      title: `Plain ${i}`,
    });
    await agentStore.insertMessage(pool, {
      id: messageId,
      conversationId,
      turnId,
      role: 'user',
      text: 'Which bases can you reach?',
    });
    plainTurns.push({ conversationId, turnId, messageId });
  }
  const plainProcess = spawn(process.execPath, ['--import', 'tsx', __filename, '--plain'], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(plainProcess);
  const plainMemory = sampleMemory(plainProcess.pid!);
  let plainCpu = NaN;
  const plainResult = await new Promise<{ seconds: number; modelCalls: number; answered: number }>(
    (resolve, reject) => {
      plainProcess.on('message', (m: { ready?: boolean; seconds?: number }) => {
        if (m.ready) {
          plainMemory.reset();
          plainProcess.send({ turns: plainTurns, maxSteps });
        } else {
          plainCpu = procStats(plainProcess.pid!)?.cpu ?? NaN;
          resolve(m as { seconds: number; modelCalls: number; answered: number });
        }
      });
      plainProcess.once(
        'exit',
        (code) => code !== 0 && reject(new Error(`the plain process exited with ${code}`)),
      );
    },
  );
  const plainPeak = plainMemory.peak.rss;
  plainMemory.stop();
  await new Promise((r) => (plainProcess.exitCode === null ? plainProcess.once('exit', r) : r(null)));

  const final = procStats(workerPid)!;
  memory.stop();
  worker.kill('SIGTERM');
  await new Promise((r) => (workerExited ? r(null) : worker.once('exit', r)));
  await new Promise((r) => http.close(r));
  await gemini.close();
  await temporal.stop();
  await pool.end();

  const steps = CONVERSATIONS * STEPS;
  const workerCpu = afterLoad.cpu - beforeLoad.cpu;
  const rate = steps / seconds;
  const latencyCeiling = (1000 / singleStepMs) * CONVERSATIONS;
  const plainRate = steps / plainResult.seconds;
  const allDone = complete === CONVERSATIONS && turns.every((t) => t.ending === 'answered');
  const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
  const f1 = (v: number) => v.toFixed(1);
  const lines = [
    `${CONVERSATIONS} conversations, one message each, sent at once through the API; each turn is ${STEPS} model calls (${toolCalls} answered with a \`list_bases\` call, then a text answer) and ${toolCalls} tool calls, so ${steps} steps (a step: one model call and the tool call it asked for, if any). One worker process (\`workers/main.ts\` under node --import tsx, prebuilt workflow bundle, Postgres pool of 10, at most 100 activities at once); the Gemini emulator (no added latency) and the API in the bench process; ${given ? `the Temporal server at ${given} (given by BENCH_TEMPORAL_ADDRESS)` : 'Temporal dev server as `temporal/dev-server.ts` starts it'}.`,
    '',
    '| run | steps | seconds | steps/s | share of ceiling | turn p50 | turn p95 | turn max |',
    '|---|---|---|---|---|---|---|---|',
    `| one conversation at a time (median of ${SINGLE_RUNS}) | ${STEPS} | ${f1(percentile(singleSeconds, 50))} | ${f1(1000 / singleStepMs)} | | ${f1(percentile(singleSeconds, 50))} s | ${f1(percentile(singleSeconds, 95))} s | ${f1(Math.max(...singleSeconds))} s |`,
    `| **${CONVERSATIONS} at once through Temporal** | ${steps} | ${f1(seconds)} | **${f1(rate)}** | ${((100 * rate) / plainRate).toFixed(0)}% of plain calls; ${((100 * rate) / latencyCeiling).toFixed(1)}% of single × ${CONVERSATIONS} | ${f1(percentile(turnSeconds, 50))} s | ${f1(percentile(turnSeconds, 95))} s | ${f1(Math.max(...turnSeconds))} s |`,
    `| ${CONVERSATIONS} at once as plain calls of the engine (ceiling without Temporal) | ${steps} | ${f1(plainResult.seconds)} | ${f1(plainRate)} | | | | |`,
    '',
    `Ceilings: the single-conversation step rate × ${CONVERSATIONS} = ${latencyCeiling.toFixed(0)} steps/s (latency alone; not reachable on ${os.cpus().length} cores); the same turns as plain calls of the engine, all at once in one process with the same pool and emulator = ${f1(plainRate)} steps/s (the work itself on this machine).`,
    '',
    '| worker process | RSS |',
    '|---|---|',
    `| idle, after start | ${mib(idle.rss)} |`,
    `| before the load (${SINGLE_RUNS + CONVERSATIONS} workflows started) | ${mib(beforeLoad.rss)} |`,
    `| **peak during the load (VmRSS every 100 ms)** | **${mib(peakRss)}**, of which anonymous ${mib(peak.anon)} (target < ${RSS_TARGET_MIB} MiB: ${peakRss < RSS_TARGET_MIB * MiB ? 'met' : 'missed'}) |`,
    `| VmHWM after the load / at the end (the kernel's peak since start) | ${mib(afterLoad.hwm)} / ${mib(final.hwm)} |`,
    `| plain-calls process, peak VmRSS during its run (for comparison) | ${mib(plainPeak)} |`,
    '',
    `Complete: ${complete} of ${CONVERSATIONS} conversations idle with the final answer and ${toolCalls} succeeded tool calls (${allDone ? 'all' : '**not all**'}); llm_usage rows ${usage.rows[0]!.n} (expected ${steps}); model requests during the load ${loadRequests}; plain run: ${plainResult.answered} of ${CONVERSATIONS} answered, ${plainResult.modelCalls} model calls. Sending the ${CONVERSATIONS} messages (each a stored message and a \`sendMessage\` update) took ${f1(sendSeconds)} s; ${refusedSends} send(s) refused with 409 and retried. CPU time during the load: worker ${f1(workerCpu)} s (${((workerCpu / steps) * 1000).toFixed(1)} ms a step)${serverCpu === undefined ? '' : `, Temporal dev server ${f1(serverCpu)} s (${((serverCpu / steps) * 1000).toFixed(1)} ms a step)`}; the machine's ${os.cpus().length} cores were ${((100 * (cpuAfter.busy - cpuBefore.busy)) / (cpuAfter.total - cpuBefore.total)).toFixed(0)}% busy (all processes, Postgres and other users included). The plain-calls process used ${f1(plainCpu)} s of CPU (${((plainCpu / steps) * 1000).toFixed(1)} ms a step, Gemini client included).`,
  ];
  // BENCH_NO_RECORD=1: a diagnostic run (e.g. with BENCH_WORKER_NODE_ARGS) that leaves RESULTS.md alone.
  if (process.env.BENCH_NO_RECORD !== '1')
    recordResult(
      'Agent: concurrent conversations on one worker',
      `npx tsx bench/agent-concurrency.ts ${CONVERSATIONS} ${STEPS}`,
      lines,
    );
  console.log(lines.join('\n'));
  if (!allDone)
    throw new Error(`only ${complete} of ${CONVERSATIONS} conversations ended with the final answer`);
}

(PLAIN_CHILD ? plainChild() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
