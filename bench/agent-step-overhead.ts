import { randomBytes, randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Content } from '@google/genai';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import { createAirtableAccess } from '../airtable/access';
import { composeApi } from '../api/compose';
import { ServiceError } from '../core/errors';
import { createLogger } from '../core/logger';
import { migrate } from '../db/migrate';
import { createPool, type Pool } from '../db/pool';
import { createAgentEngine, DEFAULT_AGENT_SETTINGS } from '../domain/agent/engine';
import type { LanguageModel } from '../domain/agent/llm';
import * as agentStore from '../domain/agent/store';
import { createChangeSetRecorder } from '../domain/change-sets/recorder';
import { insertUser } from '../domain/users/store';
import {
  getWorkspace,
  insertWorkspaceWithConnection,
  setWorkspaceStatus,
  updateWorkspace,
  type Workspace,
} from '../domain/workspaces/store';
import { resolveTemporalCli } from '../temporal/cli';
import { dataConverter } from '../temporal/data-converter';
import { DEV_SERVER_DYNAMIC_CONFIG, startDevServer } from '../temporal/dev-server';
import { createPlatformWorker } from '../workers/worker';
import { recordResult } from './results';

/**
 * The overhead of one agent step (one model call + one tool call) through Temporal, with a model
 * and a tool that take no time: what the workflow, the activities and the dev server add to the
 * engine's own work (its Postgres round trips).
 *
 * One conversation runs through the real conversation workflow and activities (a worker in this
 * process, built by createPlatformWorker with a fake `LanguageModel`), its messages sent through
 * the API's conversation service; another runs the same turns as plain calls of the engine
 * (`createAgentEngine(deps).callModel` + `.executeTool`) with the same model and database, no
 * Temporal. Turns alternate between the two, so both see the same machine and conversations of the
 * same length. Each turn is `steps` model calls answered with a `list_bases` call (a tool that
 * answers from the workspace row, no Airtable request), then one answered with text.
 *
 * Temporal step = from the `callModel` activity's scheduling to the next `callModel`'s, read from
 * the workflow histories (server timestamps); plain step = callModel + executeTool. The first
 * WARMUP turns of each are left out. Two phases, each with its own baseline: the dev server with
 * the server's own defaults, and the dev server as temporal/dev-server.ts starts it (its
 * DEV_SERVER_DYNAMIC_CONFIG: the transfer queue read as often as tasks come, eager activities).
 *   npx tsx bench/agent-step-overhead.ts [turns=50] [steps=10]
 */
const TURNS = Number(process.argv[2] ?? 50);
const STEPS = Number(process.argv[3] ?? 10);
const WARMUP = 2;
const TARGET_MS = 30;
const DATABASE_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/airtable_ops_bench_agent';
const TOKEN = 'patAgentStepBench.0123456789abcdef';
const BASE_ID = 'appBENCHagentStep';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Function responses the model has been sent since the user's latest text. */
function responsesSinceUserText(contents: Content[]): number {
  let n = 0;
  for (let i = contents.length - 1; i >= 0; i--) {
    const parts = contents[i]!.parts ?? [];
    if (contents[i]!.role === 'user' && parts.some((p) => typeof p.text === 'string')) break;
    n += parts.filter((p) => p.functionResponse).length;
  }
  return n;
}

/** A model that answers at once: `list_bases` until it has seen STEPS results, then text. */
let modelCalls = 0;
const fakeModel: LanguageModel = {
  async generate(request) {
    modelCalls++;
    const seen = responsesSinceUserText(request.contents);
    const parts =
      seen < STEPS
        ? [{ functionCall: { id: randomUUID().slice(0, 8), name: 'list_bases', args: {} } }]
        : [{ text: `Done after ${seen} tool calls.` }];
    return {
      content: { role: 'model', parts },
      modelVersion: 'fake-instant',
      finishReason: 'STOP',
      usage: { inputTokens: 10, outputTokens: 5, thinkingTokens: 0 },
    };
  },
};

async function recreateDatabase(url: string): Promise<void> {
  const admin = new URL(url);
  const name = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new PgClient({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/** Counts the round trips (and the time waited on them) of every client of `pool`. */
function countQueries(pool: Pool) {
  const counter = { queries: 0, ms: 0 };
  pool.on('connect', (client) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      counter.queries++;
      const start = performance.now();
      const done = () => (counter.ms += performance.now() - start);
      const last = args.at(-1);
      if (typeof last === 'function') {
        args[args.length - 1] = (...result: unknown[]) => {
          done();
          return (last as (...r: unknown[]) => unknown)(...result);
        };
        return original(...args);
      }
      const result = original(...args);
      if (result && typeof (result as Promise<unknown>).then === 'function')
        (result as Promise<unknown>).then(done, done);
      return result;
    };
  });
  return counter;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;
const toMs = (t: Timestamp): number => {
  const s = t?.seconds as { toNumber?: () => number } | number | string | undefined;
  const seconds = typeof s === 'object' && s?.toNumber ? s.toNumber() : Number(s ?? 0);
  return seconds * 1000 + (t?.nanos ?? 0) / 1e6;
};
const idOf = (v: unknown): number =>
  typeof v === 'object' && v !== null && 'toNumber' in v
    ? (v as { toNumber(): number }).toNumber()
    : Number(v);

interface Activity {
  name: string;
  scheduled: number;
  started?: number;
  completed?: number;
  /** The workflow task that followed its completion: scheduled, started, completed; sticky or not. */
  wft?: { scheduled: number; started?: number; completed?: number; sticky: boolean };
}

/** Activities of every run of a conversation (following continue-as-new), in scheduling order. */
async function activitiesOf(client: Client, workflowId: string, firstRunId: string) {
  const all: Activity[] = [];
  let runId: string | undefined = firstRunId;
  let runs = 0;
  let events = 0;
  const wfts = { total: 0, sticky: 0 };
  while (runId) {
    runs++;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = undefined;
    const byId = new Map<number, Activity>();
    let lastCompleted: Activity | undefined;
    let openWft: Activity['wft'];
    for (const e of history.events ?? []) {
      events++;
      const at = toMs(e.eventTime as Timestamp);
      if (e.activityTaskScheduledEventAttributes) {
        const a: Activity = {
          name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
          scheduled: at,
        };
        byId.set(idOf(e.eventId), a);
        all.push(a);
      } else if (e.activityTaskStartedEventAttributes) {
        byId.get(idOf(e.activityTaskStartedEventAttributes.scheduledEventId))!.started = at;
      } else if (e.activityTaskCompletedEventAttributes) {
        lastCompleted = byId.get(idOf(e.activityTaskCompletedEventAttributes.scheduledEventId))!;
        lastCompleted.completed = at;
      } else if (e.workflowTaskScheduledEventAttributes) {
        wfts.total++;
        const sticky = e.workflowTaskScheduledEventAttributes.taskQueue?.kind === 2;
        if (sticky) wfts.sticky++;
        openWft = { scheduled: at, sticky };
        if (lastCompleted && !lastCompleted.wft) lastCompleted.wft = openWft;
      } else if (e.workflowTaskStartedEventAttributes && openWft) {
        openWft.started = at;
      } else if (e.workflowTaskCompletedEventAttributes && openWft) {
        openWft.completed = at;
        lastCompleted = undefined;
      } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
        runId = e.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? undefined;
      }
    }
  }
  return { activities: all, runs, events, wfts };
}

interface PlainStep {
  step: number;
  model: number;
  tool: number;
  queries: number;
  queryMs: number;
}

interface Setup {
  pool: Pool;
  plainPool: Pool;
  plainQueries: { queries: number; ms: number };
  encryptionKey: Buffer;
  userId: string;
  workspace: Workspace;
}

/** One phase: a server, a worker in this process, a conversation through Temporal and one of plain calls. */
async function runPhase(setup: Setup, server: { address: string }) {
  const { pool, plainPool, plainQueries, encryptionKey, userId, workspace } = setup;
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection, dataConverter });
  const taskQueue = `bench-agent-steps-${randomUUID().slice(0, 8)}`;
  // No tool of this benchmark reaches Airtable: an unreachable endpoint proves it.
  const airtable = createAirtableAccess(pool, { endpointUrl: 'http://127.0.0.1:1', requestTimeoutMs: 5_000 });
  const settings = { ...DEFAULT_AGENT_SETTINGS, maxStepsPerTurn: STEPS + 1 };
  const worker = await createPlatformWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: {
      pool,
      encryptionKey,
      airtable,
      temporalClient: client,
      model: fakeModel,
      agentSettings: settings,
    },
  });
  const running = worker.run();
  const api = composeApi({
    pool,
    temporal: { client, taskQueue },
    airtable,
    config: {
      jwtSecret: randomBytes(32).toString('base64'),
      encryptionKey,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 3600,
      corsOrigins: [],
      loginRateLimitPerMinute: 1000,
    },
    logger: createLogger({ level: 'silent' }),
    maxStepsPerTurn: STEPS + 1,
  });
  const conversations = api.services.conversations;

  // --- Through Temporal: the API's conversation service, the workflow, the activities.
  const temporalConversation = await conversations.create(workspace, userId, 'Through Temporal');
  const firstRunId = (await client.workflow.getHandle(temporalConversation.id).describe()).runId;
  const sendMs: number[] = [];
  let refusedSends = 0;
  const turnEndings: string[] = [];

  async function temporalTurn(i: number): Promise<void> {
    const row = (await agentStore.getConversation(pool, temporalConversation.id))!;
    let turnId: string;
    for (let attempt = 0; ; attempt++) {
      const start = performance.now();
      try {
        ({ turnId } = await conversations.sendMessage(row, userId, `Question ${i}: which bases?`));
        sendMs.push(performance.now() - start);
        break;
      } catch (err) {
        // The row says idle a moment before the workflow does (finishTurn runs before its completion).
        if (!(err instanceof ServiceError && err.status === 409) || attempt > 2_000) throw err;
        refusedSends++;
        await sleep(2);
      }
    }
    for (;;) {
      const { rows } = await pool.query<{ data: { ending: string; steps: number } }>(
        `SELECT data FROM conversation_events WHERE conversation_id = $1 AND dedupe_key = $2`,
        [temporalConversation.id, `turn-end-${turnId}`],
      );
      if (rows[0]) {
        turnEndings.push(`${rows[0].data.ending}/${rows[0].data.steps}`);
        return;
      }
      await sleep(5);
    }
  }

  // --- Plain calls: the same engine functions, the same model and database, no Temporal.
  const plainAirtable = createAirtableAccess(plainPool, {
    endpointUrl: 'http://127.0.0.1:1',
    requestTimeoutMs: 5_000,
  });
  const engine = createAgentEngine({
    pool: plainPool,
    encryptionKey,
    airtable: plainAirtable,
    model: fakeModel,
    changeSets: createChangeSetRecorder({ pool: plainPool, encryptionKey, airtable: plainAirtable }),
    settings,
  });
  const plainId = `conversation-plain-${randomUUID()}`;
  await agentStore.insertConversation(pool, {
    id: plainId,
    workspaceId: workspace.id,
    userId,
    title: 'Plain calls',
  });
  const plainSteps: PlainStep[][] = [];
  const plainTurnMs: number[] = [];

  async function plainTurn(i: number): Promise<void> {
    const turnId = `turn-${randomUUID()}`;
    const messageId = `msg-${randomUUID()}`;
    await agentStore.insertMessage(pool, {
      id: messageId,
      conversationId: plainId,
      turnId,
      role: 'user',
      text: `Question ${i}: which bases?`,
    });
    const turnStart = performance.now();
    await engine.startTurn({ conversationId: plainId, turnId, messageId });
    const steps: PlainStep[] = [];
    for (let step = 1; step <= STEPS + 1; step++) {
      const q0 = plainQueries.queries;
      const qms0 = plainQueries.ms;
      const t0 = performance.now();
      const result = await engine.callModel({ conversationId: plainId, turnId, step });
      const t1 = performance.now();
      if (result.kind !== 'tool_calls') {
        await engine.finishTurn({ conversationId: plainId, turnId, ending: 'answered', steps: step });
        if (step !== STEPS + 1) throw new Error(`plain turn answered after ${step} model calls`);
        break;
      }
      for (const call of result.calls)
        await engine.executeTool({ conversationId: plainId, toolCallId: call.toolCallId });
      const t2 = performance.now();
      steps.push({
        step: t2 - t0,
        model: t1 - t0,
        tool: t2 - t1,
        queries: plainQueries.queries - q0,
        queryMs: plainQueries.ms - qms0,
      });
    }
    plainTurnMs.push(performance.now() - turnStart);
    plainSteps.push(steps);
  }

  const started = Date.now();
  for (let i = 0; i < WARMUP + TURNS; i++) {
    await temporalTurn(i);
    await plainTurn(i);
    if ((i + 1) % 10 === 0)
      console.error(`${i + 1}/${WARMUP + TURNS} turns (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }

  // --- Read the Temporal steps from the histories.
  const { activities, runs, events, wfts } = await activitiesOf(client, temporalConversation.id, firstRunId);
  worker.shutdown();
  await running;
  await Promise.all([connection.close(), clientConnection.close()]);

  const turnStarts = activities.flatMap((a, i) => (a.name === 'startTurn' ? [i] : []));
  const temporal = {
    step: [] as number[],
    modelDispatch: [] as number[],
    modelRun: [] as number[],
    afterModel: [] as number[],
    afterModelWftDispatch: [] as number[],
    afterModelWftRun: [] as number[],
    toolDispatch: [] as number[],
    toolRun: [] as number[],
    afterTool: [] as number[],
    turn: [] as number[],
  };
  for (let i = turnStarts[WARMUP]!; i < activities.length; i++) {
    const [m, t, next] = [activities[i]!, activities[i + 1], activities[i + 2]];
    if (m.name === 'startTurn') {
      const finish = activities.slice(i).find((a) => a.name === 'finishTurn');
      if (finish?.completed) temporal.turn.push(finish.completed - m.scheduled);
    }
    if (m.name !== 'callModel' || t?.name !== 'executeTool' || next?.name !== 'callModel') continue;
    temporal.step.push(next.scheduled - m.scheduled);
    temporal.modelDispatch.push(m.started! - m.scheduled);
    temporal.modelRun.push(m.completed! - m.started!);
    temporal.afterModel.push(t.scheduled - m.completed!);
    if (m.wft?.started && m.wft.completed) {
      temporal.afterModelWftDispatch.push(m.wft.started - m.wft.scheduled);
      temporal.afterModelWftRun.push(m.wft.completed - m.wft.started);
    }
    temporal.toolDispatch.push(t.started! - t.scheduled);
    temporal.toolRun.push(t.completed! - t.started!);
    temporal.afterTool.push(next.scheduled - t.completed!);
  }
  const measuredPlain = plainSteps.slice(WARMUP).flat();
  const plain = {
    step: measuredPlain.map((s) => s.step),
    model: measuredPlain.map((s) => s.model),
    tool: measuredPlain.map((s) => s.tool),
    queries: measuredPlain.map((s) => s.queries),
    queryMs: measuredPlain.map((s) => s.queryMs),
    turn: plainTurnMs.slice(WARMUP),
  };
  const badEndings = turnEndings.filter((e) => e !== `answered/${STEPS + 1}`);
  const expected = TURNS * STEPS;
  if (temporal.step.length !== expected || plain.step.length !== expected)
    throw new Error(
      `expected ${expected} steps each, measured ${temporal.step.length} and ${plain.step.length}`,
    );
  if (badEndings.length > 0)
    throw new Error(`turns that did not end answered after ${STEPS + 1} calls: ${badEndings.join(', ')}`);
  return { temporal, plain, runs, events, wfts, sendMs, refusedSends };
}

/** Dev servers this process started: killed if it fails, so none outlives it. */
const servers: ChildProcess[] = [];
process.once('exit', () => servers.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

async function main(): Promise<void> {
  // The payload codec's key (temporal/codec.ts), given explicitly: nothing is read from or written to .data/.
  process.env.PAYLOAD_ENCRYPTION_KEYS ??= `bench:${randomBytes(32).toString('base64')}`;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  await recreateDatabase(DATABASE_URL);
  await migrate(DATABASE_URL);
  const pool = createPool(DATABASE_URL);
  // The plain loop's own pool (same settings), so its round trips can be counted apart.
  const plainPool = createPool(DATABASE_URL);
  const plainQueries = countQueries(plainPool);
  const encryptionKey = randomBytes(32);
  const userId = randomUUID();
  const workspaceId = randomUUID();
  await insertUser(pool, {
    id: userId,
    email: `bench-${userId}@example.com`,
    name: 'Bench',
    passwordHash: 'x',
  });
  await insertWorkspaceWithConnection(pool, {
    id: workspaceId,
    ownerId: userId,
    name: 'Agent step benchmark',
    baseId: BASE_ID,
    token: TOKEN,
    encryptionKey,
  });
  await setWorkspaceStatus(pool, workspaceId, 'active');
  await updateWorkspace(pool, workspaceId, { approvalPolicy: 'never' });
  const setup: Setup = {
    pool,
    plainPool,
    plainQueries,
    encryptionKey,
    userId,
    workspace: (await getWorkspace(pool, workspaceId))!,
  };

  const cli = await resolveTemporalCli();
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'bench-temporal-'));
  // Phase 1 is the server's own defaults; phase 2 the dev server as temporal/dev-server.ts ships it.
  const phaseDefs = [
    { label: '1: server defaults', dynamicConfig: {} },
    {
      label: `2: as shipped (${Object.entries(DEV_SERVER_DYNAMIC_CONFIG)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ')})`,
      dynamicConfig: undefined,
    },
  ];
  const phases: Array<(typeof phaseDefs)[number] & { load: number } & Awaited<ReturnType<typeof runPhase>>> =
    [];
  for (const [i, def] of phaseDefs.entries()) {
    console.error(`phase ${def.label}`);
    const logFile = path.join(logDir, `temporal-phase-${i + 1}.log`);
    const server = await startDevServer({
      cliPath: cli.path,
      port: 0,
      uiPort: false,
      logFile,
      dynamicConfig: def.dynamicConfig,
    });
    if (server.process) servers.push(server.process);
    const load = os.loadavg()[0]!;
    phases.push({ ...def, load, ...(await runPhase(setup, server)) });
    await server.stop();
  }
  await Promise.all([pool.end(), plainPool.end()]);

  const f = (v: number) => v.toFixed(1);
  const p50 = (v: number[]) => percentile(v, 50);
  const p95 = (v: number[]) => percentile(v, 95);
  type Phase = (typeof phases)[number];
  const overhead = (r: Phase) => p50(r.temporal.step) - p50(r.plain.step);
  const verdict = (r: Phase) => (overhead(r) <= TARGET_MS ? 'met' : 'missed');
  const rows = (r: Phase) => [
    `| ${r.label} | plain calls (baseline) | ${r.plain.step.length} | ${f(p50(r.plain.step))} ms | ${f(p95(r.plain.step))} ms | ${f(p50(r.plain.model))} ms | ${f(p50(r.plain.tool))} ms | ${f(p50(r.plain.turn))} ms | |`,
    `| ${r.label} | through Temporal | ${r.temporal.step.length} | ${f(p50(r.temporal.step))} ms | ${f(p95(r.temporal.step))} ms | ${f(p50(r.temporal.modelRun))} ms | ${f(p50(r.temporal.toolRun))} ms | ${f(p50(r.temporal.turn))} ms | **${f(overhead(r))} ms** (${verdict(r)}) |`,
  ];
  const parts = (r: Phase) =>
    [
      ['callModel: scheduled → started (dispatch to the worker)', r.temporal.modelDispatch],
      ['callModel: started → completed (the engine, heartbeat, completion)', r.temporal.modelRun],
      ['callModel completed → executeTool scheduled (one workflow task)', r.temporal.afterModel],
      [
        '  of which the workflow task waits for dispatch (scheduled → started)',
        r.temporal.afterModelWftDispatch,
      ],
      ['  of which the worker runs it (started → completed)', r.temporal.afterModelWftRun],
      ['executeTool: scheduled → started', r.temporal.toolDispatch],
      ['executeTool: started → completed', r.temporal.toolRun],
      ['executeTool completed → next callModel scheduled (one workflow task)', r.temporal.afterTool],
      ['the whole step', r.temporal.step],
    ] as const;
  const partRows = parts(phases[0]!).map(
    ([label], i) =>
      `| ${label} | ${phases.map((r) => `${f(p50(parts(r)[i]![1]))} / ${f(p95(parts(r)[i]![1]))} ms`).join(' | ')} |`,
  );
  const [defaults] = phases as [Phase, ...Phase[]];
  const last = phases.at(-1)!;
  const lines = [
    `${TURNS} measured turns (after ${WARMUP} warm-up turns) × ${STEPS} steps, then a text answer, per path and phase. A step is one model call answered with a \`list_bases\` call, then that tool call; the model (a \`LanguageModel\` answering at once) and the tool (answered from the workspace row, no Airtable request) take no time, so a step is the engine's own Postgres work plus what Temporal adds. One conversation through Temporal (the API's conversation service, the conversation workflow, the activities, a worker in this process built by \`createPlatformWorker\`), one through plain calls of \`createAgentEngine(deps).callModel\` + \`.executeTool\` with the same model, database and pool settings; their turns alternate. Temporal steps are read from the workflow histories (callModel scheduled → next callModel scheduled), plain steps timed around the calls. Phase 1 runs the dev server with the server's own defaults; phase 2 as \`temporal/dev-server.ts\` starts it (\`DEV_SERVER_DYNAMIC_CONFIG\`, passed as \`--dynamic-config-value\`).`,
    '',
    '| phase | path | steps | step p50 | step p95 | model call p50 | tool call p50 | turn p50 | overhead p50 (target ≤ 30 ms) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...phases.flatMap(rows),
    '',
    `For Temporal, model and tool call are the activities' started → completed. p95 overhead per phase: ${phases.map((r) => `${f(p95(r.temporal.step) - p95(r.plain.step))} ms`).join(', ')}. Load average (1 min) at the start of each phase: ${phases.map((r) => r.load.toFixed(1)).join(', ')} on ${os.cpus().length} cores (the machine is shared).`,
    '',
    'Where a Temporal step goes (server timestamps from the histories; p50 / p95):',
    '',
    `| part of a step | ${phases.map((r) => `phase ${r.label.split(':')[0]}`).join(' | ')} |`,
    `|---|${phases.map(() => '---|').join('')}`,
    ...partRows,
    `| plain: Postgres round trips of a step, and the time waited on them (p50) | ${phases.map((r) => `${p50(r.plain.queries)}, ${f(p50(r.plain.queryMs))} ms`).join(' | ')} |`,
    '',
    `Per phase: ${phases.map((r) => r.runs).join(' / ')} run(s) of the conversation (continue-as-new past 2,000 events), ${phases.map((r) => r.events).join(' / ')} history events; ${phases.map((r) => `${r.wfts.sticky} of ${r.wfts.total}`).join(' / ')} workflow tasks on the sticky queue. The API's \`sendMessage\` (stores the message, then the \`sendMessage\` update round trip): p50 ${phases.map((r) => f(p50(r.sendMs))).join(' / ')} ms; sends refused with 409 in the moment between the turn's last activity and the workflow's return to idle, then retried: ${phases.map((r) => r.refusedSends).join(' / ')}. Model calls in all: ${modelCalls}.`,
    '',
    `Phase 1: every new task reaches matching through the history service's transfer queue, read at most 20 times a second per history shard (\`history.transferProcessorMaxPollRPS\`, the server's default), and the dev server has one shard, so the tasks of a lone conversation each wait for the next read: ${f(p50(defaults.temporal.modelDispatch))} / ${f(p50(defaults.temporal.afterModelWftDispatch))} / ${f(p50(defaults.temporal.toolDispatch))} ms (p50) for the callModel task, the workflow task after it and the executeTool task. Under load one read takes a batch of tasks (\`history.transferTaskBatchSize\`, 100), so the limit weighs on a lone conversation's latency far more than on the throughput of many. Phase 2 reads the queue as often as tasks come and hands each activity to the worker in the answer to the workflow task that scheduled it (\`system.enableActivityEagerExecution\`; the TypeScript SDK asks for it by default), so activity tasks skip transfer queue and matching. What is left in phase 2: two workflow tasks a step (the worker runs one in ${f(p50(last.temporal.afterModelWftRun))} ms p50) and each activity's delivery and completion around the engine's own work (callModel ${f(p50(last.temporal.modelRun) - p50(last.plain.model))} ms and executeTool ${f(p50(last.temporal.toolRun) - p50(last.plain.tool))} ms longer than the same plain calls, p50).`,
  ];
  recordResult(
    'Agent: overhead of one step through Temporal',
    `npx tsx bench/agent-step-overhead.ts ${TURNS}${STEPS === 10 ? '' : ` ${STEPS}`}`,
    lines,
  );
  console.log(lines.join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
