import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../../api/app';
import { composeApi } from '../../api/compose';
import { createLogger, type Logger } from '../../core/logger';
import { observeActivities } from '../../workers/observability';
import { createTestContext, registerUser, uniqueTaskQueue, type TestContext } from '../support/helpers';

// Every log line of a request carries its request id and, where a job is involved, the workflow id
// (whatever code writes it: the request log, a domain service); activity logs carry the workflow
// and activity ids; secrets never reach a line.

type Line = Record<string, unknown> & { msg?: string };

/** A logger like the processes' own (createLogger), writing into an array. */
function capture(): { logger: Logger; lines: () => Line[]; text: () => string } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level: 'debug', name: 'test', destination });
  return {
    logger,
    lines: () => raw.map((l) => JSON.parse(l) as Line),
    text: () => raw.join('\n'),
  };
}

const CODEC_TOKEN = randomBytes(24).toString('base64url');

describe('logs', () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  function app(logger: Logger, client: Client = ctx.client): Express {
    const previous = process.env.CODEC_TOKEN;
    process.env.CODEC_TOKEN = CODEC_TOKEN;
    try {
      return createApp(
        composeApi({
          pool: ctx.pool,
          temporal: { client, taskQueue: uniqueTaskQueue('logs') },
          airtable: ctx.airtable(),
          config: {
            jwtSecret: ctx.jwtSecret,
            encryptionKey: ctx.encryptionKey,
            accessTokenTtlSeconds: 900,
            refreshTokenTtlSeconds: 3600,
            corsOrigins: [],
            loginRateLimitPerMinute: 1000,
          },
          logger,
        }),
      );
    } finally {
      if (previous === undefined) delete process.env.CODEC_TOKEN;
      else process.env.CODEC_TOKEN = previous;
    }
  }

  it('puts the request id and the job’s workflow id on every line of a request, domain lines included', async () => {
    const { logger, lines } = capture();
    // A namespace Temporal does not have: the start fails, and the job service logs (as an error) that
    // it gave the job up.
    const refusing = new Client({
      connection: ctx.client.connection,
      namespace: `missing-${randomBytes(4).toString('hex')}`,
    });
    const api = app(logger, refusing);
    const user = await registerUser(api);
    const res = await request(api)
      .post('/api/v1/workspaces')
      .set(user.auth)
      .set('X-Request-Id', 'req-logs-1')
      .send({ name: 'Logs', airtable: { baseId: 'appABCDEFGHIJKLMN', token: 'patSecretAirtableToken.123' } })
      .expect(503);
    expect(res.headers['x-request-id']).toBe('req-logs-1');
    const ofRequest = lines().filter((l) => l.requestId === 'req-logs-1');
    const domain = ofRequest.find((l) => l.msg === 'could not start a job; abandoned it');
    expect(domain).toBeDefined();
    const workflowId = domain!.workflowId as string;
    expect(workflowId).toMatch(/^workspace-provision-/);
    const completed = ofRequest.find(
      (l) => (l.req as { id?: string } | undefined)?.id === 'req-logs-1' && l.res,
    );
    expect(completed).toMatchObject({ requestId: 'req-logs-1', workflowId });
    // Every line written while serving it has the id (the request log's lines and the domain's).
    expect(ofRequest.length).toBeGreaterThanOrEqual(2);
    for (const line of lines().filter((l) => (l.req as { id?: string } | undefined)?.id === 'req-logs-1'))
      expect(line.requestId).toBe('req-logs-1');
    // A job read through the API: the request's line names its workflow.
    const { rows } = await ctx.pool.query<{ id: string }>(`SELECT id FROM jobs WHERE id = $1`, [workflowId]);
    expect(rows).toHaveLength(1);
    await request(api).get(`/api/v1/jobs/${workflowId}`).set(user.auth).set('X-Request-Id', 'req-logs-2');
    expect(lines().find((l) => l.requestId === 'req-logs-2' && l.res)).toMatchObject({ workflowId });
  });

  it('puts the workflow and activity ids on every line an activity writes', async () => {
    const { logger, lines } = capture();
    const env = new MockActivityEnvironment(
      {
        activityId: 'act-7',
        activityType: 'verifyAirtableAccess',
        workflowType: 'provisionWorkspace',
        workflowExecution: { workflowId: 'workspace-provision-abc', runId: 'run-1' },
        attempt: 2,
      },
      { interceptors: [observeActivities] },
    );
    await env.run(async () => {
      logger.info('deep in the domain');
      await new Promise((resolve) => setTimeout(resolve, 5));
      logger.warn({ baseId: 'appX' }, 'after an await');
    });
    expect(lines().map((l) => l.msg)).toEqual(['deep in the domain', 'after an await']);
    for (const line of lines())
      expect(line).toMatchObject({
        workflowId: 'workspace-provision-abc',
        runId: 'run-1',
        workflowType: 'provisionWorkspace',
        activityId: 'act-7',
        activityType: 'verifyAirtableAccess',
        attempt: 2,
      });
    logger.info('outside any activity');
    expect(lines().at(-1)).not.toHaveProperty('workflowId');
  });

  it('keeps secrets out of every line', async () => {
    const { logger, text } = capture();
    const api = app(logger);
    const password = 'a very secret password 123';
    const email = `secret-${randomBytes(4).toString('hex')}@example.com`;
    const registered = await request(api).post('/api/v1/auth/register').send({ email, password }).expect(201);
    const { accessToken, refreshToken } = registered.body as { accessToken: string; refreshToken: string };
    await request(api).post('/api/v1/auth/login').send({ email, password: 'wrong password!!' }).expect(401);
    await request(api).post('/api/v1/auth/refresh').send({ refreshToken }).expect(200);
    await request(api).get('/api/v1/users/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    const airtableToken = 'patAnotherSecretToken.0123456789';
    await request(api)
      .post('/api/v1/workspaces')
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ name: 'Secret', airtable: { baseId: 'appABCDEFGHIJKLMN', token: airtableToken } });
    await request(api).post(`/codec/t/${CODEC_TOKEN}/decode`).send({ payloads: [] }).expect(200);
    await request(api)
      .post('/codec/decode')
      .set('Authorization', `Bearer ${CODEC_TOKEN}`)
      .send({ payloads: [] });
    // What code might hand the logger by mistake is redacted too.
    logger.info(
      {
        password,
        token: airtableToken,
        accessToken,
        refreshToken,
        apiKey: 'AIzaSecretGeminiKey',
        airtable: { baseId: 'appX', token: airtableToken },
        req: { headers: { authorization: `Bearer ${accessToken}`, cookie: 'session=1' } },
        body: { password, airtable: { token: airtableToken } },
      },
      'careless line',
    );
    const all = text();
    expect(all).toContain('careless line');
    expect(all).toContain('/codec/t/[redacted]/decode');
    for (const secret of [
      password,
      accessToken,
      refreshToken,
      airtableToken,
      CODEC_TOKEN,
      'AIzaSecretGeminiKey',
      'session=1',
    ])
      expect({ secret: secret.slice(0, 12), found: all.includes(secret) }).toEqual({
        secret: secret.slice(0, 12),
        found: false,
      });
  });
});
