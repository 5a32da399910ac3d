import jwt from 'jsonwebtoken';
import request from 'supertest';
import type { Express } from 'express';
import { signAccessToken } from '../../domain/users/access-tokens';
import {
  createTestApi,
  createTestContext,
  registerUser,
  uniqueTaskQueue,
  type TestContext,
} from '../support/helpers';

describe('auth API', () => {
  let ctx: TestContext;
  let app: Express;
  beforeAll(async () => {
    ctx = await createTestContext();
    app = createTestApi(ctx, uniqueTaskQueue('auth'));
  });
  afterAll(() => ctx.close());

  it('register → login → me → refresh; the spent refresh token is refused', async () => {
    const user = await registerUser(app, 'Ada');
    const login = await request(app)
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: user.password })
      .expect(200);
    expect(login.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
    });

    const me = await request(app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${login.body.accessToken}`)
      .expect(200);
    expect(me.body).toEqual({ id: user.userId, email: user.email, name: 'Ada' });

    const refreshed = await request(app)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: login.body.refreshToken })
      .expect(200);
    expect(refreshed.body.refreshToken).not.toBe(login.body.refreshToken);
    await request(app)
      .get('/api/v1/users/me')
      .set('Authorization', `Bearer ${refreshed.body.accessToken}`)
      .expect(200);

    const reused = await request(app)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: login.body.refreshToken })
      .expect(401);
    expect(reused.body.error.code).toBe('unauthorized');
    // Reuse signals theft: the whole login is ended, including the token issued by the rotation.
    await request(app)
      .post('/api/v1/auth/refresh')
      .send({ refreshToken: refreshed.body.refreshToken })
      .expect(401);
  });

  it('stores refresh tokens hashed, never as issued', async () => {
    const user = await registerUser(app);
    const { rows } = await ctx.pool.query('SELECT token_hash FROM refresh_tokens WHERE user_id = $1', [
      user.userId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].token_hash).not.toContain(user.refreshToken);
    expect(rows[0].token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('logout ends the refresh token', async () => {
    const user = await registerUser(app);
    await request(app).post('/api/v1/auth/logout').send({ refreshToken: user.refreshToken }).expect(204);
    await request(app).post('/api/v1/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    const user = await registerUser(app);
    const wrong = await request(app)
      .post('/api/v1/auth/login')
      .send({ email: user.email, password: 'not the password' })
      .expect(401);
    const unknown = await request(app)
      .post('/api/v1/auth/login')
      .send({ email: 'nobody@example.com', password: 'whatever1' })
      .expect(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  it('answers 409 for a taken email, case-insensitively', async () => {
    const user = await registerUser(app);
    const res = await request(app)
      .post('/api/v1/auth/register')
      .send({ email: user.email.toUpperCase(), password: 'another password' })
      .expect(409);
    expect(res.body.error.code).toBe('email_taken');
  });

  it.each([
    ['a short password', { email: 'a@example.com', password: 'short' }, 'password'],
    ['a bad email', { email: 'not-an-email', password: 'long enough' }, 'email'],
    ['a missing password', { email: 'a@example.com' }, 'password'],
    ['an unknown field', { email: 'a@example.com', password: 'long enough', admin: true }, ''],
  ])('answers 400 with details for %s', async (_name, body, path) => {
    const res = await request(app).post('/api/v1/auth/register').send(body).expect(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
  });

  describe('access tokens', () => {
    let user: Awaited<ReturnType<typeof registerUser>>;
    beforeAll(async () => {
      user = await registerUser(app);
    });
    const me = (token: string) =>
      request(app).get('/api/v1/users/me').set('Authorization', `Bearer ${token}`);

    it('refuses a missing token', async () => {
      const res = await request(app).get('/api/v1/users/me').expect(401);
      expect(res.body.error).toEqual({ code: 'unauthorized', message: 'Authentication required' });
    });

    it('refuses a tampered token', async () => {
      const [header, payload, signature] = user.accessToken.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
      const forged = Buffer.from(
        JSON.stringify({ ...claims, sub: '00000000-0000-0000-0000-000000000000' }),
      ).toString('base64url');
      await me(`${header}.${forged}.${signature}`).expect(401);
    });

    it('refuses an expired token', async () => {
      const expired = jwt.sign({ typ: 'access', exp: Math.floor(Date.now() / 1000) - 10 }, ctx.jwtSecret, {
        algorithm: 'HS256',
        subject: user.userId,
        issuer: 'airtable-ops',
        audience: 'airtable-ops-api',
      });
      await me(expired).expect(401);
    });

    it('refuses an alg:none token', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const payload = Buffer.from(
        JSON.stringify({
          typ: 'access',
          sub: user.userId,
          iss: 'airtable-ops',
          aud: 'airtable-ops-api',
          exp: Math.floor(Date.now() / 1000) + 600,
        }),
      ).toString('base64url');
      await me(`${header}.${payload}.`).expect(401);
    });

    it('refuses a token signed with another secret', async () => {
      const { sid } = jwt.decode(user.accessToken) as { sid: string };
      await me(
        signAccessToken(user.userId, 'another secret that is long enough to be plausible', 600, sid),
      ).expect(401);
    });

    it('accepts the genuine token', async () => {
      await me(user.accessToken).expect(200);
    });
  });

  it('rate-limits login attempts', async () => {
    const limited = createTestApi(ctx, uniqueTaskQueue('auth-limit'), { loginRateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) {
      await request(limited)
        .post('/api/v1/auth/login')
        .send({ email: 'x@example.com', password: 'wrong-password' })
        .expect(401);
    }
    const res = await request(limited)
      .post('/api/v1/auth/login')
      .send({ email: 'x@example.com', password: 'wrong-password' })
      .expect(429);
    expect(res.body.error.code).toBe('too_many_requests');
  });
});
