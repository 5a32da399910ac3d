import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { createActivities, type ActivityDeps } from '../../activities';
import { createAirtableAccess, type AirtableAccess } from '../../airtable/access';
import { createApp } from '../../api/app';
import { composeApi, type ApiParts } from '../../api/compose';
import { createLogger } from '../../core/logger';
import { createPool, type Pool } from '../../db/pool';
import { dataConverter } from '../../temporal/data-converter';
import { WORKER_TIMING } from '../../workers/worker';
import { isEncrypted, payloadCodec } from '../../temporal/codec';
import type { Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import {
  startAirtableEmulator,
  type AirtableEmulator,
  type EmulatorSeed,
} from '@airtable-ops/airtable-emulator';
import { TEST_ENV } from './env';

// Keep the SDK's own logging to warnings, so test output stays readable.
let runtimeInstalled = false;
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed in this process
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest so the global setup runs`);
  return value;
}

/** The shared test database and dev server, and this file's own resources, closed with {@link TestContext.close}. */
export interface TestContext {
  pool: Pool;
  client: Client;
  connection: NativeConnection;
  address: string;
  encryptionKey: Buffer;
  jwtSecret: string;
  /**
   * This file's Airtable access for `endpointUrl` (one pacer and schema cache, like one process):
   * the API and the workers of a test file share it. @default an unreachable endpoint
   */
  airtable(endpointUrl?: string): AirtableAccess;
  close(): Promise<void>;
}

const UNREACHABLE_AIRTABLE = 'http://127.0.0.1:1';

/** Connects to the run's Postgres and Temporal. Call once per test file (beforeAll). */
export async function createTestContext(): Promise<TestContext> {
  installQuietRuntime();
  const address = required(TEST_ENV.temporalAddress);
  const pool = createPool(required(TEST_ENV.databaseUrl));
  const clientConnection = await Connection.connect({ address });
  const connection = await NativeConnection.connect({ address });
  const access = new Map<string, AirtableAccess>();
  return {
    pool,
    airtable(endpointUrl = UNREACHABLE_AIRTABLE) {
      let found = access.get(endpointUrl);
      if (!found) {
        found = createAirtableAccess(pool, { endpointUrl, requestTimeoutMs: 10_000 });
        access.set(endpointUrl, found);
      }
      return found;
    },
    client: new Client({ connection: clientConnection, dataConverter }),
    connection,
    address,
    encryptionKey: randomBytes(32),
    jwtSecret: randomBytes(32).toString('base64'),
    async close() {
      await Promise.allSettled([pool.end(), clientConnection.close(), connection.close()]);
    },
  };
}

/** A task queue no other test uses, so parallel files never pick up each other's tasks. */
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/** Shared bundle built once by the global setup. */
export function workflowBundle(): { code: string } {
  return { code: readFileSync(required(TEST_ENV.workflowBundle), 'utf8') };
}

/** What a test worker runs: the real activities (on `airtableUrl`, with `deps` overridden) or injected fakes. */
export interface TestWorkerOptions {
  taskQueue: string;
  /** The Airtable the real activities reach. @default an unreachable endpoint */
  airtableUrl?: string;
  deps?: Partial<ActivityDeps>;
  activities?: object;
}

/** Runs `fn` while a worker polls `taskQueue`. */
export async function withWorker<T>(
  ctx: TestContext,
  options: TestWorkerOptions,
  fn: (worker: Worker) => Promise<T>,
): Promise<T> {
  const activities =
    options.activities ??
    createActivities({
      pool: ctx.pool,
      encryptionKey: ctx.encryptionKey,
      airtable: ctx.airtable(options.airtableUrl),
      temporalClient: ctx.client,
      ...options.deps,
    });
  const worker = await Worker.create({
    connection: ctx.connection,
    taskQueue: options.taskQueue,
    workflowBundle: workflowBundle(),
    activities,
    dataConverter,
    ...WORKER_TIMING,
  });
  return worker.runUntil(fn(worker));
}

/** Starts a worker that runs until `stop()` (for a whole test file, in beforeAll/afterAll). */
export async function startWorker(
  ctx: TestContext,
  options: TestWorkerOptions,
): Promise<{ stop(): Promise<void> }> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const ready = new Promise<void>((r) => (started = r));
  const done = withWorker(ctx, options, async () => {
    started();
    await held;
  });
  await Promise.race([ready, done]);
  return {
    async stop() {
      release();
      await done;
    },
  };
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * The real worker entry point (workers/main.ts) as its own process, so a test can SIGKILL it.
 * Node itself runs it with tsx as a loader: one process, so the signal hits the worker, not a wrapper.
 */
export function spawnWorkerProcess(
  ctx: TestContext,
  options: { taskQueuePrefix: string; dataDir: string; airtableUrl: string; env?: Record<string, string> },
): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATA_DIR: options.dataDir,
      DATABASE_URL: required(TEST_ENV.databaseUrl),
      TEMPORAL_ADDRESS: ctx.address,
      TEMPORAL_TASK_QUEUE_PREFIX: options.taskQueuePrefix,
      TEMPORAL_WORKFLOW_BUNDLE: required(TEST_ENV.workflowBundle),
      APP_ENCRYPTION_KEY: ctx.encryptionKey.toString('base64'),
      AIRTABLE_ENDPOINT_URL: options.airtableUrl,
      ...options.env,
    },
    stdio: 'ignore',
  });
}

/** The API around the shared Postgres and Temporal, for supertest, wired as `api/main.ts` wires it. */
export function createTestApi(
  ctx: TestContext,
  taskQueue: string,
  overrides: Partial<ApiParts['config']> & {
    airtableUrl?: string;
    client?: Client;
    maxStepsPerTurn?: number;
  } = {},
): Express {
  const { airtableUrl, client = ctx.client, maxStepsPerTurn, ...config } = overrides;
  return createApp(
    composeApi({
      pool: ctx.pool,
      temporal: { client, taskQueue },
      airtable: ctx.airtable(airtableUrl),
      config: {
        jwtSecret: ctx.jwtSecret,
        encryptionKey: ctx.encryptionKey,
        accessTokenTtlSeconds: 900,
        refreshTokenTtlSeconds: 3600,
        corsOrigins: [],
        loginRateLimitPerMinute: 1000,
        ...config,
      },
      logger: createLogger({ level: 'silent' }),
      maxStepsPerTurn,
    }),
  );
}

/** Registers a fresh user and returns its tokens. */
export async function registerUser(app: Express, name = 'Test User') {
  const email = `user-${randomUUID()}@example.com`;
  const password = 'correct horse battery';
  const res = await request(app).post('/api/v1/auth/register').send({ email, password, name }).expect(201);
  return {
    email,
    password,
    userId: res.body.user.id as string,
    accessToken: res.body.accessToken as string,
    refreshToken: res.body.refreshToken as string,
    auth: { Authorization: `Bearer ${res.body.accessToken}` },
  };
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}

/**
 * Creates a workspace for `baseId` through the API and waits until its provisioning job has ended
 * with it active. The job, not the workspace: the workspace turns active in the workflow's last
 * activity and the workflow ends a task later, and callers read the job's result or history (the Web
 * UI, the CLI).
 */
export async function createActiveWorkspace(
  app: Express,
  auth: Record<string, string>,
  airtable: { baseId: string; token: string },
  name = 'Operations',
): Promise<string> {
  const created = await request(app)
    .post('/api/v1/workspaces')
    .set(auth)
    .send({ name, airtable })
    .expect(202);
  const workspaceId = created.body.workspace.id as string;
  await settledJob(app, auth, created.body.job.id as string);
  const workspace = await request(app).get(`/api/v1/workspaces/${workspaceId}`).set(auth).expect(200);
  if (workspace.body.status !== 'active')
    throw new Error(`workspace ended ${workspace.body.status}: ${workspace.body.error}`);
  return workspaceId;
}

/** Polls `GET /api/v1/jobs/:id` until the job has ended, and returns its view. */
export async function settledJob(
  app: Express,
  auth: Record<string, string>,
  jobId: string,
  timeoutMs = 60_000,
) {
  return eventually(async () => {
    const res = await request(app).get(`/api/v1/jobs/${jobId}`).set(auth).expect(200);
    return ['running', 'pending'].includes(res.body.status) ? undefined : res.body;
  }, timeoutMs);
}

/** The whole platform for one test file: an emulator, the API and a worker on its own task queue, a user. */
export interface TestPlatform {
  ctx: TestContext;
  emulator: AirtableEmulator;
  app: Express;
  taskQueue: string;
  user: Awaited<ReturnType<typeof registerUser>>;
  close(): Promise<void>;
}

/** Starts a {@link TestPlatform} around an emulator seeded with `seed` that accepts `tokens`. */
export async function startTestPlatform(options: {
  name: string;
  seed: EmulatorSeed;
  tokens: string[];
}): Promise<TestPlatform> {
  const ctx = await createTestContext();
  const emulator = await startAirtableEmulator({ seed: options.seed, tokens: options.tokens });
  const taskQueue = uniqueTaskQueue(options.name);
  const app = createTestApi(ctx, taskQueue, { airtableUrl: emulator.url });
  const worker = await startWorker(ctx, { taskQueue, airtableUrl: emulator.url });
  const user = await registerUser(app);
  return {
    ctx,
    emulator,
    app,
    taskQueue,
    user,
    async close() {
      await worker.stop();
      await emulator.close();
      await ctx.close();
    },
  };
}

/**
 * A workflow history as text with every payload decoded (encrypted, then base64 JSON on the wire), so
 * a test can look for a value anywhere in inputs, results, markers and activity arguments.
 */
export function historyText(history: unknown): string {
  const parts: string[] = [];
  const visit = (value: unknown): void => {
    // Payloads are encrypted (temporal/codec.ts): read them as the platform does.
    if (value && typeof value === 'object' && 'metadata' in value && isEncrypted(value as Payload)) {
      visit(payloadCodec.decrypt(value as Payload));
      return;
    }
    if (value instanceof Uint8Array) {
      parts.push(Buffer.from(value).toString('utf8'));
      return;
    }
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
    else if (typeof value === 'string') parts.push(value);
  };
  visit(history);
  return parts.join('\n');
}

/** A local activity as its marker in a history records it. */
export interface LocalActivityMarker {
  activityType: string;
  attempt: number;
  /** The identity of the worker whose workflow task completion recorded the marker (`pid@host`). */
  recordedBy: string;
}

/**
 * The local activities a history recorded, in order. Their markers hold the SDK core's own JSON
 * (`data`: type, attempt, times) beside the activity's result; the identity is that of the worker
 * that completed the workflow task the marker was recorded with.
 */
export function localActivityMarkers(history: temporal.api.history.v1.IHistory): LocalActivityMarker[] {
  const events = history.events ?? [];
  const identityOf = new Map<string, string>();
  for (const e of events)
    if (e.workflowTaskCompletedEventAttributes)
      identityOf.set(String(e.eventId), e.workflowTaskCompletedEventAttributes.identity ?? '');
  return events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_local_activity') return [];
    const data = JSON.parse(Buffer.from(marker.details!['data']!.payloads![0]!.data!).toString('utf8')) as {
      activity_type: string;
      attempt: number;
    };
    return [
      {
        activityType: data.activity_type,
        attempt: data.attempt,
        recordedBy: identityOf.get(String(marker.workflowTaskCompletedEventId)) ?? '',
      },
    ];
  });
}

/** The activity types a history scheduled as regular activities, in order. */
export function scheduledActivityTypes(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes
      ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? '']
      : [],
  );
}

/** A pool that counts the queries matching a pattern, from {@link queryCountingPool}. */
export interface QueryCountingPool {
  pool: Pool;
  /** How many matching queries were sent so far. */
  count(): number;
}

/**
 * `pool`, counting the queries whose text matches `pattern` (named statements included); with
 * `hold.until` set, a matching query waits for it before it is sent (to change things meanwhile).
 */
export function queryCountingPool(
  pool: Pool,
  pattern: RegExp,
  hold?: { until?: Promise<void> },
): QueryCountingPool {
  let count = 0;
  const counting = new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver);
      return async (...args: Parameters<typeof target.query>) => {
        if (pattern.test(String((args[0] as { text?: string }).text ?? args[0]))) {
          count++;
          if (hold?.until) await hold.until;
        }
        return (target.query as (...a: unknown[]) => unknown)(...args);
      };
    },
  });
  return { pool: counting, count: () => count };
}
