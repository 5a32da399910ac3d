import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { ConfigError, loadConfig } from '../../core/config';
import { createHashGate, HashGateBusyError } from '../../core/passwords';
import {
  createTestApi,
  createTestContext,
  registerUser,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';

/**
 * The hostile review's findings, each with the test that failed before its fix:
 *  1. hashing is bounded (concurrency, queue, wait) and /register and /refresh are limited per IP;
 *  2. an access token dies with its login (logout, a reused refresh token), in every process;
 *  3. failed logins lock the email out (in Postgres), and X-Forwarded-For is trusted only when
 *     TRUST_PROXY says so;
 *  4. a token without `exp` is refused.
 */
describe('auth hardening', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  type Overrides = Parameters<typeof createTestApi>[2];
  const api = (name: string, overrides: Overrides = {}) =>
    createTestApi(ctx, uniqueTaskQueue(name), { registerRateLimitPerMinute: 1000, ...overrides });

  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
  /** One listening server, so concurrent requests share it (supertest would start one per request). */
  function listen(app: Express): Server {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    return server;
  }

  const login = (app: Express | Server, email: string, password: string, forwardedFor?: string) => {
    const req = request(app).post('/api/v1/auth/login');
    if (forwardedFor) req.set('X-Forwarded-For', forwardedFor);
    return req.send({ email, password });
  };
  const me = (app: Express, token: string) =>
    request(app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);
  const freshEmail = () => `user-${randomUUID()}@example.com`;

  function expectTooManyRequests(res: request.Response): number {
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('too_many_requests');
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    const seconds = Number(res.headers['retry-after']);
    expect(seconds).toBeGreaterThanOrEqual(1);
    return seconds;
  }

  /** A login with a wrong password, with when it was sent and when its answer came (epoch ms). */
  async function wrongLogin(app: Express, email: string) {
    const sent = Date.now();
    const res = await login(app, email, 'not the password');
    return { res, sent, answered: Date.now() };
  }

  /**
   * `check` was refused with what is left of a lockout of `seconds` that began during `failure` (the
   * attempt that locked the email), rounded up: exact bounds from when the two were sent and
   * answered, since hashing a password under load can take seconds.
   */
  function expectLockoutLeft(
    check: Awaited<ReturnType<typeof wrongLogin>>,
    failure: Awaited<ReturnType<typeof wrongLogin>>,
    seconds: number,
  ) {
    const retryAfter = expectTooManyRequests(check.res);
    expect(retryAfter).toBeGreaterThanOrEqual(
      Math.ceil((seconds * 1000 - (check.answered - failure.sent)) / 1000),
    );
    expect(retryAfter).toBeLessThanOrEqual(
      Math.ceil((seconds * 1000 - (check.sent - failure.answered)) / 1000),
    );
  }

  describe('1. password hashing is bounded', () => {
    it('the gate runs at most maxConcurrent at once and refuses a full queue at once', async () => {
      const gate = createHashGate({ maxConcurrent: 2, maxQueued: 3, maxWaitMs: 10_000 });
      let running = 0;
      let most = 0;
      const work = () =>
        gate.run(async () => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 30));
          running--;
        });
      const results = await Promise.allSettled(Array.from({ length: 8 }, work));
      expect(most).toBe(2);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(3); // 2 running + 3 queued admitted
      for (const r of refused) {
        expect(r.reason).toBeInstanceOf(HashGateBusyError);
        expect(r.reason.reason).toBe('queue_full');
        expect(r.reason.retryAfterMs).toBeGreaterThan(0);
      }
      expect(gate.stats()).toMatchObject({ active: 0, queued: 0, completed: 5, refusedQueueFull: 3 });
    });

    it('the gate never lets a caller wait longer than maxWaitMs', async () => {
      const gate = createHashGate({ maxConcurrent: 1, maxQueued: 100, maxWaitMs: 200 });
      const slow = () => gate.run(() => new Promise((r) => setTimeout(r, 400)));
      const started = Date.now();
      const settled = await Promise.allSettled([slow(), slow(), slow(), slow()]);
      expect(settled.map((r) => (r.status === 'rejected' ? r.reason.reason : 'ran'))).toEqual([
        'ran',
        'wait_too_long', // queued (expected to wait 150 ms), refused at the 200 ms deadline
        'wait_too_long', // expected to wait longer than 200 ms: refused at once
        'wait_too_long',
      ]);
      expect(gate.stats().maxWaitMs).toBeGreaterThanOrEqual(199);
      expect(gate.stats().maxWaitMs).toBeLessThan(200 + 100);
      expect(gate.stats()).toMatchObject({
        refusedAtDeadline: 1,
        refusedWaitTooLong: 2,
        queued: 0,
        active: 0,
      });
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('answers 429 with Retry-After when more registrations arrive than the hash queue holds', async () => {
      const server = listen(
        api('hash-queue', { maxConcurrentHashes: 1, maxQueuedHashes: 1, maxHashWaitMs: 10_000 }),
      );
      const responses = await Promise.all(
        Array.from({ length: 6 }, () =>
          request(server)
            .post('/api/v1/auth/register')
            .send({ email: freshEmail(), password: 'correct horse battery' }),
        ),
      );
      const created = responses.filter((r) => r.status === 201);
      const refused = responses.filter((r) => r.status !== 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(created.length).toBeLessThanOrEqual(3);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      refused.forEach(expectTooManyRequests);
    });

    it('answers 429 instead of letting a login wait longer than AUTH_MAX_HASH_WAIT_MS', async () => {
      const server = listen(
        api('hash-wait', { maxConcurrentHashes: 1, maxQueuedHashes: 100, maxHashWaitMs: 200 }),
      );
      const started = Date.now();
      const responses = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const res = await login(server, freshEmail(), 'not the password');
          return { res, ms: Date.now() - started };
        }),
      );
      const refused = responses.filter((r) => r.res.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(4);
      for (const { res, ms } of refused) {
        expectTooManyRequests(res);
        expect(ms).toBeLessThan(200 + 1_000); // the bound, plus generous slack for a busy machine
      }
      for (const { res } of responses.filter((r) => r.res.status !== 429)) expect(res.status).toBe(401);
    });

    it('limits registrations per client IP, with Retry-After', async () => {
      const app = api('register-limit', { registerRateLimitPerMinute: 2 });
      for (let i = 0; i < 2; i++)
        await request(app)
          .post('/api/v1/auth/register')
          .send({ email: freshEmail(), password: 'correct horse battery' })
          .expect(201);
      const res = await request(app)
        .post('/api/v1/auth/register')
        .send({ email: freshEmail(), password: 'correct horse battery' });
      expectTooManyRequests(res);
    });

    it('limits refreshes per client IP, with Retry-After', async () => {
      const app = api('refresh-limit', { refreshRateLimitPerMinute: 2 });
      let { refreshToken } = await registerUser(app);
      for (let i = 0; i < 2; i++) {
        const res = await request(app).post('/api/v1/auth/refresh').send({ refreshToken }).expect(200);
        refreshToken = res.body.refreshToken;
      }
      const res = await request(app).post('/api/v1/auth/refresh').send({ refreshToken });
      expectTooManyRequests(res);
    });
  });

  describe('2. an access token ends with its login', () => {
    it('names its login (sid) and is refused at once after logout; other logins go on', async () => {
      const app = api('logout');
      const user = await registerUser(app);
      const { sid } = jwt.decode(user.accessToken) as { sid: string };
      const { rows } = await ctx.pool.query('SELECT family_id FROM refresh_tokens WHERE user_id = $1', [
        user.userId,
      ]);
      expect(rows).toEqual([{ family_id: sid }]);

      const other = await login(app, user.email, user.password).expect(200);
      await me(app, user.accessToken).expect(200);
      await request(app).post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken }).expect(204);
      const res = await me(app, user.accessToken).expect(401);
      expect(res.body.error.code).toBe('unauthorized');
      await request(app)
        .get('/api/v1/workspaces')
        .set('Authorization', `Bearer ${user.accessToken}`)
        .expect(401);
      await me(app, other.body.accessToken).expect(200);
    });

    it('is refused at once when a reused refresh token revokes its family', async () => {
      const app = api('reuse');
      const user = await registerUser(app);
      const rotated = await request(app)
        .post('/api/v1/auth/refresh')
        .send({ refreshToken: user.refreshToken })
        .expect(200);
      await me(app, rotated.body.accessToken).expect(200);
      await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
      await me(app, user.accessToken).expect(401);
      await me(app, rotated.body.accessToken).expect(401);
    });

    it('a logout through one API process is seen at once by another (no cache of live sessions)', async () => {
      const first = api('process-a');
      const second = api('process-b');
      const user = await registerUser(first);
      await me(second, user.accessToken).expect(200);
      await request(first).post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken }).expect(204);
      await me(second, user.accessToken).expect(401);
    });
  });

  describe('3. login throttling', () => {
    it('locks an email out after N failures, right password included, with Retry-After', async () => {
      const app = api('lockout', { loginLockoutThreshold: 3, loginLockoutBaseSeconds: 60 });
      const user = await registerUser(app);
      for (let i = 0; i < 3; i++) await login(app, user.email, 'not the password').expect(401);
      const locked = await login(app, user.email, user.password);
      const retryAfter = expectTooManyRequests(locked);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Case and surrounding spaces do not make another email.
      expectTooManyRequests(await login(app, ` ${user.email.toUpperCase()} `, user.password));
    });

    it('answers a locked unknown email exactly like a locked account (no account enumeration)', async () => {
      const app = api('lockout-unknown', { loginLockoutThreshold: 2, loginLockoutBaseSeconds: 60 });
      const user = await registerUser(app);
      const unknown = freshEmail();
      const lastFailure = new Map<string, Awaited<ReturnType<typeof wrongLogin>>>();
      for (const email of [user.email, unknown])
        for (let i = 0; i < 2; i++) {
          const failed = await wrongLogin(app, email);
          expect(failed.res.status).toBe(401);
          lastFailure.set(email, failed);
        }
      const known = await wrongLogin(app, user.email);
      const stranger = await wrongLogin(app, unknown);
      expect(stranger.res.status).toBe(known.res.status);
      expect(stranger.res.body).toEqual(known.res.body);
      // Each is locked 60 s from its own last failure (seconds apart when hashing is slow).
      expectLockoutLeft(known, lastFailure.get(user.email)!, 60);
      expectLockoutLeft(stranger, lastFailure.get(unknown)!, 60);
    });

    it('a success resets the count', async () => {
      const app = api('lockout-reset', { loginLockoutThreshold: 3, loginLockoutBaseSeconds: 60 });
      const user = await registerUser(app);
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < 2; i++) await login(app, user.email, 'not the password').expect(401);
        await login(app, user.email, user.password).expect(200);
      }
      await login(app, user.email, 'not the password').expect(401);
    });

    it('the lockout grows exponentially', async () => {
      // Seconds, not one: a lockout runs from the start of the attempt that failed, and hashing its
      // password on a busy machine can take most of a second.
      const app = api('lockout-backoff', {
        loginLockoutThreshold: 2,
        loginLockoutBaseSeconds: 4,
        loginLockoutMaxSeconds: 60,
      });
      const email = freshEmail();
      await login(app, email, 'not the password').expect(401);
      const second = await wrongLogin(app, email);
      expect(second.res.status).toBe(401); // locked 4 s
      expectLockoutLeft(await wrongLogin(app, email), second, 4);
      await new Promise((r) => setTimeout(r, second.answered + 4_100 - Date.now()));
      const third = await wrongLogin(app, email);
      expect(third.res.status).toBe(401); // locked 8 s
      expectLockoutLeft(await wrongLogin(app, email), third, 8);
    });

    it('is kept in Postgres: failures through one API process lock the email in another', async () => {
      const settings = { loginLockoutThreshold: 2, loginLockoutBaseSeconds: 60 };
      const first = api('shared-a', settings);
      const second = api('shared-b', settings);
      const user = await registerUser(first);
      await login(first, user.email, 'not the password').expect(401);
      await login(first, user.email, 'not the password').expect(401);
      expectTooManyRequests(await login(second, user.email, user.password));
    });

    it('the per-IP limit counts failed attempts only: sign-ins from a busy address still work', async () => {
      const app = api('ip-failures', { loginRateLimitPerMinute: 3 });
      const user = await registerUser(app);
      await login(app, freshEmail(), 'not the password').expect(401);
      for (let i = 0; i < 4; i++) await login(app, user.email, user.password).expect(200);
      await login(app, freshEmail(), 'not the password').expect(401);
      await login(app, user.email, user.password).expect(200);
    });

    it('ignores X-Forwarded-For by default: a rotating header does not escape the IP limit', async () => {
      const app = api('xff-default', { loginRateLimitPerMinute: 3 });
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await login(app, freshEmail(), 'not the password', `203.0.113.${i + 1}`)).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    });

    it('believes X-Forwarded-For from the proxies TRUST_PROXY names', async () => {
      const app = api('xff-trusted', { loginRateLimitPerMinute: 3, trustProxy: 'loopback' });
      for (let i = 0; i < 5; i++)
        await login(app, freshEmail(), 'not the password', `203.0.113.${i + 1}`).expect(401);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await login(app, freshEmail(), 'not the password', '198.51.100.7')).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
    });

    it('TRUST_PROXY: unset trusts nothing; hop counts, names and addresses are read; nonsense is refused', () => {
      const env = {
        JWT_SECRET: 'a test secret that is at least thirty-two characters',
        APP_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
        DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'auth-config-')),
      };
      expect(loadConfig(env).trustProxy).toBe(false);
      expect(loadConfig({ ...env, TRUST_PROXY: 'false' }).trustProxy).toBe(false);
      expect(loadConfig({ ...env, TRUST_PROXY: '1' }).trustProxy).toBe(1);
      expect(loadConfig({ ...env, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe(
        'loopback,10.0.0.0/8',
      );
      expect(() => loadConfig({ ...env, TRUST_PROXY: 'everyone' })).toThrow(ConfigError);
      expect(loadConfig(env)).toMatchObject({
        maxQueuedHashes: 20,
        maxHashWaitMs: 2000,
        registerRateLimitPerMinute: 20,
        refreshRateLimitPerMinute: 60,
        loginLockoutThreshold: 5,
      });
    });
  });

  describe('4. access token claims', () => {
    let app: Express;
    let user: Awaited<ReturnType<typeof registerUser>>;
    let sid: string;
    beforeAll(async () => {
      app = api('claims');
      user = await registerUser(app);
      ({ sid } = jwt.decode(user.accessToken) as { sid: string });
    });
    const sign = (claims: object, options: jwt.SignOptions = {}) =>
      jwt.sign({ typ: 'access', sid, ...claims }, ctx.jwtSecret, {
        algorithm: 'HS256',
        subject: user.userId,
        issuer: 'airtable-ops',
        audience: 'airtable-ops-api',
        ...options,
      });
    const inTenMinutes = () => ({ exp: Math.floor(Date.now() / 1000) + 600 });

    it('accepts a well-formed token of a live login (the control)', async () => {
      await me(app, sign(inTenMinutes())).expect(200);
    });

    it('refuses a token without exp', async () => {
      await me(app, sign({})).expect(401);
    });

    it('refuses a token without sid, or naming a login that does not exist', async () => {
      await me(app, sign({ ...inTenMinutes(), sid: undefined })).expect(401);
      await me(app, sign({ ...inTenMinutes(), sid: randomUUID() })).expect(401);
    });

    it('keeps the pinned algorithm, issuer and audience', async () => {
      await me(app, sign(inTenMinutes(), { algorithm: 'HS512' })).expect(401);
      await me(app, sign(inTenMinutes(), { issuer: 'someone-else' })).expect(401);
      await me(app, sign(inTenMinutes(), { audience: 'another-api' })).expect(401);
    });
  });
});
