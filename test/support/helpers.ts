import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import type { Express } from 'express';
import request from 'supertest';
import { createActivities, type ActivityDeps } from '../../activities';
import { createApp, type ApiDeps } from '../../api/app';
import { createLogger } from '../../core/logger';
import { createPool, type Pool } from '../../db/pool';
import { dataConverter } from '../../temporal/data-converter';
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
  close(): Promise<void>;
}

/** Connects to the run's Postgres and Temporal. Call once per test file (beforeAll). */
export async function createTestContext(): Promise<TestContext> {
  installQuietRuntime();
  const address = required(TEST_ENV.temporalAddress);
  const pool = createPool(required(TEST_ENV.databaseUrl));
  const clientConnection = await Connection.connect({ address });
  const connection = await NativeConnection.connect({ address });
  return {
    pool,
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

/**
 * Runs `fn` while a worker polls `taskQueue`, with either the real activities (built on `deps`)
 * or injected fakes.
 */
export async function withWorker<T>(
  ctx: TestContext,
  options: { taskQueue: string; deps?: Partial<ActivityDeps>; activities?: object },
  fn: (worker: Worker) => Promise<T>,
): Promise<T> {
  const activities =
    options.activities ??
    createActivities({
      pool: ctx.pool,
      encryptionKey: ctx.encryptionKey,
      airtable: { endpointUrl: 'http://127.0.0.1:1', requestTimeoutMs: 5_000 },
      temporalClient: ctx.client,
      ...options.deps,
    } as ActivityDeps);
  const worker = await Worker.create({
    connection: ctx.connection,
    taskQueue: options.taskQueue,
    workflowBundle: workflowBundle(),
    activities,
    dataConverter,
  });
  return worker.runUntil(fn(worker));
}

/** The API around the shared Postgres and Temporal, for supertest. */
export function createTestApi(
  ctx: TestContext,
  taskQueue: string,
  overrides: Partial<ApiDeps['config']> = {},
): Express {
  return createApp({
    pool: ctx.pool,
    temporal: { client: ctx.client, taskQueue },
    config: {
      jwtSecret: ctx.jwtSecret,
      encryptionKey: ctx.encryptionKey,
      accessTokenTtlSeconds: 900,
      refreshTokenTtlSeconds: 3600,
      corsOrigins: [],
      loginRateLimitPerMinute: 1000,
      ...overrides,
    },
    logger: createLogger({ level: 'silent' }),
  });
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
