import request from 'supertest';
import type { Express } from 'express';
import {
  createTestApi,
  createTestContext,
  registerUser,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';

describe('HTTP behaviour', () => {
  let ctx: TestContext;
  let app: Express;
  beforeAll(async () => {
    ctx = await createTestContext();
    app = createTestApi(ctx, uniqueTaskQueue('http'));
  });
  afterAll(() => ctx.close());

  it('answers healthz and readyz', async () => {
    expect((await request(app).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await request(app).get('/readyz').expect(200)).body).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', temporal: 'ok' },
    });
  });

  it('answers 503 from readyz when Postgres is gone', async () => {
    const broken = await createTestContext();
    await broken.pool.end();
    const res = await request(createTestApi(broken, 'unused')).get('/readyz').expect(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.temporal).toBe('ok');
    expect(res.body.checks.postgres).toMatch(/^unavailable/);
    await broken.close();
  });

  it('answers malformed JSON with a JSON 400', async () => {
    const res = await request(app)
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"email":')
      .expect(400);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('answers an oversized body with a JSON 413', async () => {
    const res = await request(app)
      .post('/api/v1/auth/login')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(3 * 1024 * 1024) }))
      .expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(app).get('/api/v1/nothing-here').expect(404);
    expect(res.body).toEqual({
      error: { code: 'route_not_found', message: 'No route for GET /api/v1/nothing-here' },
    });
  });

  it('sets security headers and a request id', async () => {
    const res = await request(app).get('/healthz').set('X-Request-Id', 'trace-123');
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('allows only configured CORS origins', async () => {
    const withCors = createTestApi(ctx, 'unused', { corsOrigins: ['https://app.example.com'] });
    const allowed = await request(withCors).get('/healthz').set('Origin', 'https://app.example.com');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    const denied = await request(withCors).get('/healthz').set('Origin', 'https://evil.example.com');
    expect(denied.headers['access-control-allow-origin']).toBeUndefined();
  });

  it.each([
    ['no name', { airtable: { baseId: 'appAAAAAAAAAAAAAA', token: 'patXXXXXXXXXXXXXX' } }, 'name'],
    [
      'a bad base id',
      { name: 'Ops', airtable: { baseId: 'base1', token: 'patXXXXXXXXXXXXXX' } },
      'airtable.baseId',
    ],
    ['no token', { name: 'Ops', airtable: { baseId: 'appAAAAAAAAAAAAAA' } }, 'airtable.token'],
  ])('refuses a workspace with %s, starting nothing', async (_case, body, path) => {
    const user = await registerUser(app);
    const res = await request(app).post('/api/v1/workspaces').set(user.auth).send(body).expect(400);
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    const { rowCount } = await ctx.pool.query('SELECT 1 FROM workspaces WHERE owner_id = $1', [user.userId]);
    expect(rowCount).toBe(0);
  });

  it('answers 404 for malformed workspace and job ids', async () => {
    const user = await registerUser(app);
    await request(app).get('/api/v1/workspaces/not-a-uuid').set(user.auth).expect(404);
    await request(app).get('/api/v1/jobs/nope').set(user.auth).expect(404);
  });
});
