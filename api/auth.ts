import { Router, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { ServiceError, unauthorized } from '../core/errors';
import type { Sessions } from '../domain/users/sessions';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';

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

/** Resolves the Bearer access token to `req.userId`, or answers 401. */
export function authenticate(sessions: Sessions): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    const userId = match?.[1] ? sessions.authenticate(match[1]) : undefined;
    if (!userId)
      return next(unauthorized(match ? 'Invalid or expired access token' : 'Authentication required'));
    req.userId = userId;
    next();
  };
}

/** Register, login, refresh (rotating) and logout. */
export function authRouter(deps: ApiDeps): Router {
  const { sessions } = deps.services;
  const router = Router();

  router.post('/register', async (req, res) => {
    const body = parseOrThrow(RegisterBody, req.body);
    res.status(201).json(await sessions.register(body));
  });

  const loginLimiter = rateLimit({
    windowMs: 60_000,
    limit: deps.config.loginRateLimitPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) =>
      next(new ServiceError(429, 'too_many_requests', 'Too many login attempts; try again in a minute')),
  });

  router.post('/login', loginLimiter, async (req, res) => {
    res.json(await sessions.login(parseOrThrow(LoginBody, req.body)));
  });

  router.post('/refresh', async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    res.json(await sessions.refresh(refreshToken));
  });

  router.post('/logout', async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    await sessions.logout(refreshToken);
    res.status(204).end();
  });

  return router;
}

/** `GET /api/v1/users/me`. */
export function usersRouter(deps: ApiDeps): Router {
  const { sessions } = deps.services;
  const router = Router();
  router.get('/me', authenticate(sessions), async (req, res) => {
    res.json(await sessions.me(req.userId!));
  });
  return router;
}
