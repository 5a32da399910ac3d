import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Content } from '@google/genai';
import type { Client } from '@temporalio/client';
import { DefaultLogger, type NativeConnection, Runtime } from '@temporalio/worker';
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
import { DEV_SERVER_DYNAMIC_CONFIG } from '../temporal/dev-server';
import { createPlatformWorker } from '../workers/worker';
import { CONVERSATION_WORKFLOW_TASK_TIMEOUT } from '../workflows/conversations';
import { recreateDatabase } from '../db/admin';
import { recordResult } from './results';
import { startBenchTemporal } from './temporal';

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
 * The conversation's model and tool calls are local activities: they run inside the workflow task
 * and leave a marker in the history when it completes, so a step has no events of its own to time.
 * Two measures instead, both against the plain loop:
 *  - per step, from the markers: each local activity's marker carries the moment the worker
 *    scheduled it (`original_schedule_time`, this machine's clock), so a Temporal step is one
 *    callModel's scheduling → the next callModel's (the model call, the tool call and what the
 *    workflow and the SDK add between them); the plain step is timed around callModel + executeTool;
 *  - per turn, from Postgres: the user's message stored → the turn's end event stored (both written
 *    by the same engine code on either path, one database clock), so the Temporal turn also pays the
 *    `sendMessage` update and the turn's regular activities (startTurn, finishTurn); the difference
 *    of the two turns' p50, divided by the steps of a turn, is the overhead per step with all of that
 *    counted in.
 * The first WARMUP turns of each are left out. Two phases, each with its own baseline: the dev
 * server with the server's own defaults, and the dev server as temporal/dev-server.ts starts it
 * (its DEV_SERVER_DYNAMIC_CONFIG: the transfer queue read as often as tasks come, eager activities).
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

/** A local activity's marker: its type and the moment the worker first scheduled it (ms, this machine's clock). */
interface LocalActivity {
  type: string;
  scheduled: number;
  attempt: number;
}

/** What one turn left in the history (its turn starts with the startTurn activity). */
interface HistoryTurn {
  locals: LocalActivity[];
  /** Workflow tasks from startTurn's scheduling to the next turn's. */
  workflowTasks: number;
  /** callModel / executeTool scheduled as regular activities (none under the local-activities patch). */
  regularSteps: number;
}

/** The turns of every run of a conversation (following continue-as-new), from its histories. */
async function turnsOf(client: Client, workflowId: string, firstRunId: string) {
  const turns: HistoryTurn[] = [];
  let runId: string | undefined = firstRunId;
  let runs = 0;
  let events = 0;
  const wfts = { total: 0, sticky: 0 };
  while (runId) {
    runs++;
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runId = undefined;
    for (const e of history.events ?? []) {
      events++;
      const turn = turns.at(-1);
      const scheduled = e.activityTaskScheduledEventAttributes;
      const marker = e.markerRecordedEventAttributes;
      if (scheduled?.activityType?.name === 'startTurn')
        turns.push({ locals: [], workflowTasks: 0, regularSteps: 0 });
      else if (scheduled && ['callModel', 'executeTool'].includes(scheduled.activityType?.name ?? '')) {
        if (turn) turn.regularSteps++;
      } else if (marker?.markerName === 'core_local_activity' && turn) {
        // The marker's `data` is the SDK core's own JSON (not a payload of ours, so not encrypted).
        const data = JSON.parse(Buffer.from(marker.details!['data']!.payloads![0]!.data!).toString()) as {
          activity_type: string;
          attempt: number;
          original_schedule_time: { seconds: number; nanos: number };
        };
        const t = data.original_schedule_time;
        turn.locals.push({
          type: data.activity_type,
          scheduled: t.seconds * 1000 + t.nanos / 1e6,
          attempt: data.attempt,
        });
      } else if (e.workflowTaskScheduledEventAttributes) {
        wfts.total++;
        if (e.workflowTaskScheduledEventAttributes.taskQueue?.kind === 2) wfts.sticky++;
        if (turn) turn.workflowTasks++;
      } else if (e.workflowExecutionContinuedAsNewEventAttributes) {
        runId = e.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId ?? undefined;
      }
    }
  }
  return { turns, runs, events, wfts };
}

/** Each turn of a conversation, user message stored → turn end stored (ms, Postgres clock), in order. */
async function turnTimes(pool: Pool, conversationId: string): Promise<number[]> {
  const { rows } = await pool.query<{ ms: number }>(
    `SELECT (extract(epoch FROM e.created_at) - extract(epoch FROM m.created_at)) * 1000 AS ms
     FROM conversation_messages m
     JOIN conversation_events e ON e.conversation_id = m.conversation_id AND e.dedupe_key = 'turn-end-' || m.turn_id
     WHERE m.conversation_id = $1 AND m.role = 'user'
     ORDER BY m.created_at`,
    [conversationId],
  );
  return rows.map((r) => Number(r.ms));
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
async function runPhase(
  setup: Setup,
  { connection, client }: { connection: NativeConnection; client: Client },
) {
  const { pool, plainPool, plainQueries, encryptionKey, userId, workspace } = setup;
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
    plainSteps.push(steps);
  }

  const started = Date.now();
  for (let i = 0; i < WARMUP + TURNS; i++) {
    await temporalTurn(i);
    await plainTurn(i);
    if ((i + 1) % 10 === 0)
      console.error(`${i + 1}/${WARMUP + TURNS} turns (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }

  // --- Read the Temporal steps from the histories' markers, and both paths' turns from Postgres.
  const { turns, runs, events, wfts } = await turnsOf(client, temporalConversation.id, firstRunId);
  worker.shutdown();
  await running;

  const temporal = {
    step: [] as number[],
    /** callModel scheduled → executeTool scheduled: the model call and its way back into the workflow. */
    model: [] as number[],
    /** executeTool scheduled → next callModel scheduled. */
    tool: [] as number[],
    turn: (await turnTimes(pool, temporalConversation.id)).slice(WARMUP),
    workflowTasks: [] as number[],
    retries: 0,
    regularSteps: 0,
  };
  for (const turn of turns.slice(WARMUP)) {
    temporal.workflowTasks.push(turn.workflowTasks);
    temporal.regularSteps += turn.regularSteps;
    temporal.retries += turn.locals.filter((l) => l.attempt > 1).length;
    const expectedTypes = Array.from({ length: 2 * STEPS + 1 }, (_, i) =>
      i % 2 === 0 ? 'callModel' : 'executeTool',
    );
    if (turn.locals.map((l) => l.type).join() !== expectedTypes.join())
      throw new Error(`a turn's local activities were ${turn.locals.map((l) => l.type).join(', ')}`);
    for (let k = 0; k < STEPS; k++) {
      const [m, t, next] = [turn.locals[2 * k]!, turn.locals[2 * k + 1]!, turn.locals[2 * k + 2]!];
      temporal.step.push(next.scheduled - m.scheduled);
      temporal.model.push(t.scheduled - m.scheduled);
      temporal.tool.push(next.scheduled - t.scheduled);
    }
  }
  const measuredPlain = plainSteps.slice(WARMUP).flat();
  const plain = {
    step: measuredPlain.map((s) => s.step),
    model: measuredPlain.map((s) => s.model),
    tool: measuredPlain.map((s) => s.tool),
    queries: measuredPlain.map((s) => s.queries),
    queryMs: measuredPlain.map((s) => s.queryMs),
    turn: (await turnTimes(pool, plainId)).slice(WARMUP),
  };
  const badEndings = turnEndings.filter((e) => e !== `answered/${STEPS + 1}`);
  const expected = TURNS * STEPS;
  if (temporal.step.length !== expected || plain.step.length !== expected)
    throw new Error(
      `expected ${expected} steps each, measured ${temporal.step.length} and ${plain.step.length}`,
    );
  if (temporal.turn.length !== TURNS || plain.turn.length !== TURNS)
    throw new Error(
      `expected ${TURNS} turns each, measured ${temporal.turn.length} and ${plain.turn.length}`,
    );
  if (temporal.regularSteps > 0)
    throw new Error(`${temporal.regularSteps} model or tool calls ran as regular activities`);
  if (badEndings.length > 0)
    throw new Error(`turns that did not end answered after ${STEPS + 1} calls: ${badEndings.join(', ')}`);
  return { temporal, plain, runs, events, wfts, sendMs, refusedSends };
}

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
    const temporal = await startBenchTemporal({ logFile, dynamicConfig: def.dynamicConfig });
    const load = os.loadavg()[0]!;
    phases.push({ ...def, load, ...(await runPhase(setup, temporal)) });
    await temporal.stop();
  }
  await Promise.all([pool.end(), plainPool.end()]);

  const f = (v: number) => v.toFixed(1);
  const p50 = (v: number[]) => percentile(v, 50);
  const p95 = (v: number[]) => percentile(v, 95);
  type Phase = (typeof phases)[number];
  const overhead = (r: Phase) => p50(r.temporal.step) - p50(r.plain.step);
  const perTurn = (r: Phase) => (p50(r.temporal.turn) - p50(r.plain.turn)) / STEPS;
  const paired = (r: Phase) => p50(r.temporal.turn.map((t, i) => (t - r.plain.turn[i]!) / STEPS));
  const verdict = (ms: number) => (ms <= TARGET_MS ? 'met' : 'missed');
  const rows = (r: Phase) => [
    `| ${r.label} | plain calls (baseline) | ${r.plain.step.length} | ${f(p50(r.plain.step))} ms | ${f(p95(r.plain.step))} ms | ${f(p50(r.plain.model))} ms | ${f(p50(r.plain.tool))} ms | ${f(p50(r.plain.turn))} ms | | |`,
    `| ${r.label} | through Temporal | ${r.temporal.step.length} | ${f(p50(r.temporal.step))} ms | ${f(p95(r.temporal.step))} ms | ${f(p50(r.temporal.model))} ms | ${f(p50(r.temporal.tool))} ms | ${f(p50(r.temporal.turn))} ms | **${f(overhead(r))} ms** (${verdict(overhead(r))}) | **${f(perTurn(r))} ms** (${verdict(perTurn(r))}) |`,
  ];
  const partRows = [
    `| callModel scheduled → executeTool scheduled (the model call, back into the workflow) | ${phases.map((r) => `${f(p50(r.temporal.model))} / ${f(p95(r.temporal.model))} ms (plain call ${f(p50(r.plain.model))} ms)`).join(' | ')} |`,
    `| executeTool scheduled → next callModel scheduled (the tool call, back into the workflow) | ${phases.map((r) => `${f(p50(r.temporal.tool))} / ${f(p95(r.temporal.tool))} ms (plain call ${f(p50(r.plain.tool))} ms)`).join(' | ')} |`,
    `| the whole step | ${phases.map((r) => `${f(p50(r.temporal.step))} / ${f(p95(r.temporal.step))} ms`).join(' | ')} |`,
    `| plain: Postgres round trips of a step, and the time waited on them (p50) | ${phases.map((r) => `${p50(r.plain.queries)}, ${f(p50(r.plain.queryMs))} ms`).join(' | ')} |`,
    `| workflow tasks of a Temporal turn (p50 / max) | ${phases.map((r) => `${p50(r.temporal.workflowTasks)} / ${Math.max(...r.temporal.workflowTasks)}`).join(' | ')} |`,
  ];
  const lines = [
    `${TURNS} measured turns (after ${WARMUP} warm-up turns) × ${STEPS} steps, then a text answer, per path and phase. A step is one model call answered with a \`list_bases\` call, then that tool call; the model (a \`LanguageModel\` answering at once) and the tool (answered from the workspace row, no Airtable request) take no time, so a step is the engine's own Postgres work plus what Temporal adds. One conversation through Temporal (the API's conversation service, the conversation workflow, its model and tool calls as local activities, a worker in this process built by \`createPlatformWorker\`), one through plain calls of \`createAgentEngine(deps).callModel\` + \`.executeTool\` with the same model, database and pool settings; their turns alternate. Phase 1 runs the dev server with the server's own defaults; phase 2 as \`temporal/dev-server.ts\` starts it (\`DEV_SERVER_DYNAMIC_CONFIG\`, passed as \`--dynamic-config-value\`).`,
    '',
    "Two measures of the overhead per step, both against the plain loop of the same run. **From the markers**: a local activity leaves no event until its workflow task completes, but its marker keeps the moment the worker scheduled it, so a Temporal step is one callModel scheduled → the next callModel scheduled (this machine's clock), against the plain step timed around callModel + executeTool; the overhead is the difference of the p50s. **Per turn**: the user's message stored → the turn's end event stored, on both paths (the same engine code writes both rows; one Postgres clock); the Temporal turn also pays the `sendMessage` update, `startTurn` and `finishTurn` as regular activities and the workflow tasks around them, so (Temporal turn p50 − plain turn p50) / steps counts all of that against the steps.",
    '',
    '| phase | path | steps | step p50 | step p95 | model call p50 | tool call p50 | turn p50 | overhead per step, from the markers (target ≤ 30 ms) | overhead per step, per turn (target ≤ 30 ms) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...phases.flatMap(rows),
    '',
    `For Temporal, model call = callModel scheduled → executeTool scheduled and tool call = executeTool scheduled → next callModel scheduled, each with its way back into the workflow; for plain calls, each call timed alone. Per turn, the median of each Temporal turn minus the plain turn that followed it, over the steps: ${phases.map((r) => `${f(paired(r))} ms`).join(', ')}. p95 step overhead per phase: ${phases.map((r) => `${f(p95(r.temporal.step) - p95(r.plain.step))} ms`).join(', ')}. Load average (1 min) at the start of each phase: ${phases.map((r) => r.load.toFixed(1)).join(', ')} on ${os.cpus().length} cores (the machine is shared).`,
    '',
    'Where a Temporal step goes (from the markers; p50 / p95):',
    '',
    `| part of a step | ${phases.map((r) => `phase ${r.label.split(':')[0]}`).join(' | ')} |`,
    `|---|${phases.map(() => '---|').join('')}`,
    ...partRows,
    '',
    `Per phase: ${phases.map((r) => r.runs).join(' / ')} run(s) of the conversation (continue-as-new past 2,000 events), ${phases.map((r) => r.events).join(' / ')} history events; ${phases.map((r) => `${r.wfts.sticky} of ${r.wfts.total}`).join(' / ')} workflow tasks on the sticky queue; local activities retried: ${phases.map((r) => r.temporal.retries).join(' / ')}. The API's \`sendMessage\` (stores the message, then the \`sendMessage\` update round trip): p50 ${phases.map((r) => f(p50(r.sendMs))).join(' / ')} ms; sends refused with 409 in the moment between the turn's last activity and the workflow's return to idle, then retried: ${phases.map((r) => r.refusedSends).join(' / ')}. Model calls in all: ${modelCalls}.`,
    '',
    `A turn's model and tool calls run as local activities inside one workflow task (the worker heartbeats it past 80 % of the conversation's ${CONVERSATION_WORKFLOW_TASK_TIMEOUT} workflow task timeout, which a turn of instant calls never reaches): no activity task and no workflow task between the steps, so a step costs the worker's scheduling of two local activities and two activations of the workflow, and the server sees none of it; the markers are written with the task's completion. The dev server's settings (phase 1 against phase 2: every new task through the history service's transfer queue, read at most 20 times a second per shard by default, against as often as tasks come, with eager activities) now weigh only on what a turn does through the server: the \`sendMessage\` update, \`startTurn\` and \`finishTurn\`, and the workflow tasks around them, which the per-turn measure counts.`,
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
