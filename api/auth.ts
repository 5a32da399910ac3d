import { randomUUID } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { randomToken, sha256 } from '../core/crypto';
import { hashPassword, verifyPassword } from '../core/passwords';
import * as users from '../domain/users/store';
import type { ApiDeps } from './app';
import { signAccessToken, verifyAccessToken } from '../domain/users/access-tokens';
import { HttpError, parseOrThrow, unauthorized } from './errors';

const Email = z
  .email({ error: 'must be a valid email address' })
  .max(254)
  .transform((e) => e.trim());
const Password = z.string().min(8, { error: 'must be at least 8 characters' }).max(256);
const RegisterBody = z
  .object({ email: Email, password: Password, name: z.string().trim().min(1).max(200).optional() })
  .strict();
const LoginBody = z.object({ email: z.string().max(254), password: z.string().max(256) }).strict();
const RefreshBody = z.object({ refreshToken: z.string().min(1).max(512) }).strict();

// A hash computed once so a login for an unknown email costs as much as one for a known email.
let dummyHash: Promise<string> | undefined;

/** Resolves the Bearer access token to `req.userId`, or answers 401. */
export function authenticate(deps: ApiDeps): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const userId = match?.[1] ? verifyAccessToken(match[1], deps.config.jwtSecret) : undefined;
    if (!userId)
      return next(unauthorized(match ? 'Invalid or expired access token' : 'Authentication required'));
    req.userId = userId;
    next();
  };
}

/** Register, login, refresh (rotating) and logout. */
export function authRouter(deps: ApiDeps): Router {
  const { pool, config } = deps;
  const router = Router();

  async function issueTokens(userId: string, familyId: string = randomUUID()) {
    const refreshToken = randomToken();
    await users.insertRefreshToken(pool, {
      id: randomUUID(),
      userId,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + config.refreshTokenTtlSeconds * 1000),
    });
    return {
      accessToken: signAccessToken(userId, config.jwtSecret, config.accessTokenTtlSeconds),
      refreshToken,
      expiresIn: config.accessTokenTtlSeconds,
    };
  }

  router.post('/register', async (req, res) => {
    const body = parseOrThrow(RegisterBody, req.body);
    const passwordHash = await hashPassword(body.password);
    const user = await users.insertUser(pool, {
      id: randomUUID(),
      email: body.email,
      name: body.name ?? null,
      passwordHash,
    });
    if (!user) throw new HttpError(409, 'email_taken', 'An account with this email already exists');
    const tokens = await issueTokens(user.id);
    res.status(201).json({ user, ...tokens });
  });

  const loginLimiter = rateLimit({
    windowMs: 60_000,
    limit: config.loginRateLimitPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) =>
      next(new HttpError(429, 'too_many_requests', 'Too many login attempts; try again in a minute')),
  });

  router.post('/login', loginLimiter, async (req, res) => {
    const body = parseOrThrow(LoginBody, req.body);
    const user = await users.findUserByEmail(pool, body.email.trim());
    dummyHash ??= hashPassword(randomToken());
    const valid = await verifyPassword(body.password, user?.passwordHash ?? (await dummyHash));
    if (!user || !valid) throw unauthorized('Email or password is wrong');
    res.json(await issueTokens(user.id));
  });

  router.post('/refresh', async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    const hash = sha256(refreshToken);
    const spent = await users.spendRefreshToken(pool, hash);
    if (!spent) {
      // A spent token presented again means it leaked: end the whole login, the thief's copy included.
      const known = await users.findRefreshToken(pool, hash);
      if (known?.spentAt) await users.revokeRefreshTokenFamily(pool, known.familyId);
      throw unauthorized('Invalid, expired or already used refresh token');
    }
    res.json(await issueTokens(spent.userId, spent.familyId));
  });

  router.post('/logout', async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    const known = await users.findRefreshToken(pool, sha256(refreshToken));
    if (known) await users.revokeRefreshTokenFamily(pool, known.familyId);
    res.status(204).end();
  });

  return router;
}

/** `GET /api/v1/users/me`. */
export function usersRouter(deps: ApiDeps): Router {
  const router = Router();
  router.get('/me', authenticate(deps), async (req, res) => {
    const user = await users.getUser(deps.pool, req.userId!);
    if (!user) throw unauthorized('The account no longer exists');
    res.json(user);
  });
  return router;
}
