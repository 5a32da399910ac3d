import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { AUTH_DEFAULTS, type AuthSettings } from '../core/config';
import { ServiceError, unauthorized } from '../core/errors';
import { TooManyRequestsError } from '../domain/users/errors';
import type { Sessions } from '../domain/users/sessions';
import type { ApiDeps } from './context';
import { parseOrThrow } from './errors';
import { Registered, SessionTokens, User } from './answers';
import { documentRoutes } from './openapi';

const Email = z
  .email({ error: 'must be a valid email address' })
  .max(254)
  .transform((e) => e.trim());
const Password = z.string().min(8, { error: 'must be at least 8 characters' }).max(256);
const RegisterBody = z
  .object({ email: Email, password: Password, name: z.string().trim().min(1).max(200).optional() })
  .strict();
const LoginBody = z.object({ email: z.string().max(254), password: z.string().max(256) }).strict();
const ProfileBody = z
  .object({
    name: z.string().trim().min(1).max(200).nullable().optional(),
    preferences: z
      .object({
        timeZone: z
          .string()
          .max(64)
          .refine(isTimeZone, { error: 'must be an IANA time zone such as Europe/Paris' })
          .optional(),
        locale: z
          .string()
          .max(35)
          .refine(isLocale, { error: 'must be a BCP 47 locale such as fr-FR' })
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isLocale(locale: string): boolean {
  try {
    return Intl.getCanonicalLocales(locale).length === 1;
  } catch {
    return false;
  }
}

const RefreshBody = z.object({ refreshToken: z.string().min(1).max(512) }).strict();

/**
 * Resolves the Bearer access token to `req.userId`, or answers 401. The token's login is looked up
 * on every request, so a token of a login that has ended is refused at once.
 */
export function authenticate(sessions: Sessions): RequestHandler {
  return async (req, _res, next) => {
    // Several routers share /api/v1/workspaces and each guards itself: a request that one of them
    // already authenticated is not checked against Postgres again.
    if (req.userId) return next();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    let userId: string | undefined;
    try {
      userId = match?.[1] ? await sessions.authenticate(match[1]) : undefined;
    } catch (err) {
      return next(err);
    }
    if (!userId)
      return next(unauthorized(match ? 'Invalid or expired access token' : 'Authentication required'));
    req.userId = userId;
    next();
  };
}

/** The auth routes' own settings; the composition root passes the whole config through. */
type AuthRouteConfig = Partial<
  Pick<AuthSettings, 'registerRateLimitPerMinute' | 'refreshRateLimitPerMinute'>
>;

/**
 * A per-client-IP limit (the IP as Express derives it: the socket address unless TRUST_PROXY says
 * which proxies to believe), answering 429 with `Retry-After`. The count lives in this process.
 */
function perIpLimit(limit: number, message: string, options: { skipSuccessfulRequests?: boolean } = {}) {
  return rateLimit({
    windowMs: 60_000,
    limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skipSuccessfulRequests: options.skipSuccessfulRequests ?? false,
    // X-Forwarded-For from an untrusted peer is ignored on purpose (TRUST_PROXY), not a mistake.
    validate: { xForwardedForHeader: false },
    handler: (_req, _res, next) => next(new ServiceError(429, 'too_many_requests', message)),
  });
}

/** Answers a {@link TooManyRequestsError} (busy hashing, a locked-out email) with `Retry-After`. */
const retryAfterHeader: ErrorRequestHandler = (err, _req, res, next) => {
  if (err instanceof TooManyRequestsError && !res.headersSent)
    res.setHeader('Retry-After', String(err.retryAfterSeconds));
  next(err);
};

/** Register, login, refresh (rotating) and logout, each limited per client IP. */
export function authRouter(deps: ApiDeps & { config: AuthRouteConfig }): Router {
  const { sessions } = deps.services;
  const router = Router();

  const registerLimiter = perIpLimit(
    deps.config.registerRateLimitPerMinute ?? AUTH_DEFAULTS.registerRateLimitPerMinute,
    'Too many registrations; try again in a minute',
  );
  router.post('/register', registerLimiter, async (req, res) => {
    const body = parseOrThrow(RegisterBody, req.body);
    res.status(201).json(await sessions.register(body));
  });

  // Failed attempts only: people who sign in successfully behind one address do not use it up.
  const loginLimiter = perIpLimit(
    deps.config.loginRateLimitPerMinute,
    'Too many login attempts; try again in a minute',
    { skipSuccessfulRequests: true },
  );
  router.post('/login', loginLimiter, async (req, res) => {
    res.json(await sessions.login(parseOrThrow(LoginBody, req.body)));
  });

  const refreshLimiter = perIpLimit(
    deps.config.refreshRateLimitPerMinute ?? AUTH_DEFAULTS.refreshRateLimitPerMinute,
    'Too many refreshes; try again in a minute',
  );
  router.post('/refresh', refreshLimiter, async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    res.json(await sessions.refresh(refreshToken));
  });

  router.post('/logout', async (req, res) => {
    const { refreshToken } = parseOrThrow(RefreshBody, req.body);
    await sessions.logout(refreshToken);
    res.status(204).end();
  });

  router.use(retryAfterHeader);
  return router;
}

/** `GET /api/v1/users/me`. */
export function usersRouter(deps: ApiDeps): Router {
  const { sessions } = deps.services;
  const router = Router();
  router.get('/me', authenticate(sessions), async (req, res) => {
    res.json(await sessions.me(req.userId!));
  });
  router.patch('/me', authenticate(sessions), async (req, res) => {
    res.json(await sessions.updateMe(req.userId!, parseOrThrow(ProfileBody, req.body)));
  });
  return router;
}

documentRoutes('/api/v1/auth', 'Auth', [
  {
    method: 'post',
    path: '/register',
    summary: 'Create an account and sign in',
    auth: 'none',
    body: RegisterBody,
    answers: { 201: { description: 'The account and its tokens', schema: Registered } },
    errors: { 409: 'An account with this email exists', 429: 'Too many registrations from this address' },
  },
  {
    method: 'post',
    path: '/login',
    summary: 'Sign in',
    auth: 'none',
    body: LoginBody,
    answers: { 200: { description: 'A new session', schema: SessionTokens } },
    errors: {
      401: 'Wrong email or password (one answer for both)',
      429: 'Too many failed attempts, busy, or the email is locked out (see Retry-After)',
    },
  },
  {
    method: 'post',
    path: '/refresh',
    summary: 'Trade a refresh token for a new pair (the old one is spent)',
    auth: 'none',
    body: RefreshBody,
    answers: { 200: { description: 'A new pair of tokens', schema: SessionTokens } },
    errors: { 401: 'The refresh token is unknown, spent or expired', 429: 'Too many refreshes' },
  },
  {
    method: 'post',
    path: '/logout',
    summary: 'End the session of a refresh token',
    auth: 'none',
    body: RefreshBody,
    answers: { 204: { description: 'The refresh token no longer works' } },
  },
]);

documentRoutes('/api/v1/users', 'Users', [
  {
    method: 'get',
    path: '/me',
    summary: 'The signed-in user',
    answers: { 200: { description: 'The user', schema: User } },
  },
  {
    method: 'patch',
    path: '/me',
    summary: 'Change the name and preferences (time zone, locale)',
    body: ProfileBody,
    answers: { 200: { description: 'The user', schema: User } },
  },
]);
